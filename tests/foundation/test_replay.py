"""Replay an operator can trust: poison lines, a flaky receiver, one endpoint spelled many
ways, planted symlinks, and every OTEL_EXPORTER_OTLP_* variable as the SDK reads it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults import FaultProxy
from mcptrace.export.destination import canonical_endpoint
from receivers import OtelTap
from support import PYTHON, clean_env, mcptrace_cmd, run_under_mcptrace, spans

WORKLOAD = (
    "from opentelemetry import trace, metrics\n"
    "from opentelemetry._logs import get_logger\n"
    "tracer = trace.get_tracer('t')\n"
    "for index in range({count}):\n"
    "    with tracer.start_as_current_span(f'work-{{index}}'):\n"
    "        get_logger('l').emit(event_name='test.event', attributes={{'index': index}})\n"
    "metrics.get_meter('m').create_counter('test.counter').add({count})\n"
)


def replay(spool: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        mcptrace_cmd("replay", str(spool), *args),
        env=clean_env(OTEL_EXPORTER_OTLP_COMPRESSION="none", **env),
        capture_output=True,
        text=True,
        timeout=180,
    )


def work_names(tap: OtelTap) -> list[str]:
    return [s["name"] for s in tap.spans() if s["name"].startswith("work-")]


@pytest.fixture
def tap(tmp_path: Path) -> Iterator[OtelTap]:
    with OtelTap(tmp_path) as receiver:
        yield receiver


@pytest.fixture(scope="module")
def filled_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spool of 20 spans, one per line (small batches), with logs and a metric."""
    spool = tmp_path_factory.mktemp("filled") / "spool"
    run_under_mcptrace(
        [PYTHON, "-c", WORKLOAD.format(count=20)],
        spool,
        env=clean_env(OTEL_BSP_MAX_EXPORT_BATCH_SIZE="1", MCPTRACE_SENSOR="none"),
    )
    return spool


@pytest.fixture
def filled(filled_once: Path, spool: Path) -> Path:
    """A copy of that spool of its own (replay writes beside it): one program run a module."""
    shutil.copytree(filled_once, spool, copy_function=shutil.copy2)
    spool.chmod(filled_once.stat().st_mode & 0o7777)
    return spool


def traces_file(spool: Path) -> Path:
    (path,) = spool.glob("traces-*.jsonl")
    return path


POISON = [
    b'{"foo": 1}\n',  # JSON, but no export request
    b"[1, 2, 3]\n",  # not an object
    b"not json at all\n",
    b'{"resourceSpans": "a string"}\n',  # the right key, the wrong shape
    b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}\n',  # bad hex id
    b"\xff\xfe binary\n",  # not UTF-8
    b"[" * 50_000 + b"]" * 50_000 + b"\n",  # nested past any recursion limit
]


def test_poison_lines_are_moved_aside_with_file_line_and_why(filled: Path, tap: OtelTap) -> None:
    path = traces_file(filled)
    good = path.read_bytes().splitlines(keepends=True)
    mixed = good[:5] + POISON + good[5:]
    path.write_bytes(b"".join(mixed))
    result = replay(filled, "--endpoint", tap.endpoint)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    reports = [line for line in result.stderr.splitlines() if "moved aside" in line]
    assert len(reports) == len(POISON)
    for number, line in enumerate(reports, start=6):
        assert line.startswith(f"mcptrace: {path} line {number}: ")
        assert line.endswith(f"moved aside to {filled / '.rejected' / path.name}")
    assert (filled / ".rejected" / path.name).read_bytes() == b"".join(POISON)
    assert f"moved {len(POISON)} unusable line(s) aside" in result.stderr
    tap.wait_for(lambda t: len(work_names(t)) == 20)  # the rest went on
    assert sorted(work_names(tap)) == sorted(f"work-{i}" for i in range(20))


@pytest.mark.slow
def test_a_flaky_receiver_is_retried_within_one_run(filled: Path, tap: OtelTap) -> None:
    script = {0: "500", 1: "reset", 2: "truncate", 3: "429", 4: "503"}
    with FaultProxy(tap.port, lambda n, p: script.get(n, "forward"), retry_after="1") as flaky:
        result = replay(filled, "--endpoint", flaky.endpoint)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        tap.wait_for(lambda t: len(set(work_names(t))) == 20)
        # the 429 said Retry-After: 1, and the next request waited for it
        assert flaky.times[4] - flaky.times[3] >= 0.9
        # at-least-once: only the truncated answer (processed, acknowledgement lost) repeats
        assert len(work_names(tap)) - 20 <= 1
        again = replay(filled, "--endpoint", flaky.endpoint)
        assert "replayed 0 traces line(s)" in again.stderr


@pytest.mark.slow
def test_a_receiver_that_keeps_failing_stops_the_run_with_one_line(filled: Path) -> None:
    with FaultProxy(None, lambda n, p: "503", retry_after="0") as broken:  # no waiting
        result = replay(filled, "--endpoint", broken.endpoint)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (summary,) = result.stderr.strip().splitlines()
    assert "traces not sent (HTTP 503 Unavailable), they stay in the spool" in summary
    assert len(spans(filled)) == 20  # nothing lost


@pytest.mark.slow
@pytest.mark.parametrize(
    "spellings",
    [
        ("http://127.0.0.1:{port}", "http://localhost:{port}/", "http://LOCALHOST:{port}//"),
        ("http://localhost:{port}/", "http://127.0.0.1:{port}", "http://[::1]:{port}"),
    ],
)
def test_one_endpoint_spelled_three_ways_is_sent_once(
    filled: Path, tap: OtelTap, spellings: tuple[str, str, str]
) -> None:
    first, *others = (spelling.format(port=tap.port) for spelling in spellings)
    assert replay(filled, "--endpoint", first).returncode == 0
    tap.wait_for(lambda t: len(work_names(t)) == 20)
    for other in others:
        result = replay(filled, "--endpoint", other)
        assert result.returncode == 0, result.stderr
        assert "replayed 0 traces line(s) (0 item(s)), 0 logs line(s) (0 item(s)), 0 metrics" in (
            result.stderr
        )
    # and the per-signal variable naming the full traces URL is the same destination too
    result = replay(filled, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{first}/v1/traces")
    assert "replayed 0 traces line(s)" in result.stderr, result.stderr
    assert len(work_names(tap)) == 20


def test_canonical_endpoints() -> None:
    same = {
        canonical_endpoint(url, "http/protobuf")
        for url in (
            "http://127.0.0.1:4318/v1/traces",
            "http://localhost:4318/v1/traces/",
            "HTTP://LocalHost:4318//v1//traces",
        )
    }
    assert len(same) == 1
    assert canonical_endpoint("http://collector/v1/traces", "http/protobuf") == (
        "http://collector:80/v1/traces"
    )
    assert canonical_endpoint("https://collector/v1/traces", "http/protobuf") == (
        "https://collector:443/v1/traces"
    )
    assert canonical_endpoint("http://localhost", "grpc") == "grpc://loopback:4317"


def _progress_dir(spool: Path, signal: str, endpoint: str) -> Path:
    canonical = canonical_endpoint(f"{endpoint}/v1/{signal}", "http/protobuf")
    key = hashlib.sha256(f"{signal} {canonical}".encode()).hexdigest()[:16]
    return spool / ".replay" / key


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A root-owned 0600 file replay must never write through."""
    path = tmp_path / "victim"
    path.write_bytes(b"precious\n")
    path.chmod(0o600)
    return path


def test_a_planted_replay_directory_symlink_is_refused(
    filled: Path, tap: OtelTap, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (filled / ".replay").symlink_to(elsewhere)
    result = replay(filled, "--endpoint", tap.endpoint)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("mcptrace replay: ") and ".replay" in line
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("plant", ["symlink", "hardlink"])
def test_a_planted_progress_file_is_never_written_through(
    filled: Path, tap: OtelTap, victim: Path, plant: str
) -> None:
    progress = _progress_dir(filled, "traces", tap.endpoint)
    progress.mkdir(parents=True, mode=0o700)
    target = progress / traces_file(filled).name
    if plant == "symlink":
        target.symlink_to(victim)
    else:
        os.link(victim, target)
    result = replay(filled, "--endpoint", tap.endpoint)
    assert result.returncode == 1
    assert victim.read_bytes() == b"precious\n"
    assert f"not sending {traces_file(filled)}" in result.stderr
    assert "Traceback" not in result.stderr
    # the other signals went on
    tap.wait_for(lambda t: any(log.get("eventName") == "test.event" for log in t.logs()))


def test_a_planted_rejected_directory_is_not_written_through(
    filled: Path, tap: OtelTap, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (filled / ".rejected").symlink_to(elsewhere)
    path = traces_file(filled)
    path.write_bytes(b'{"foo": 1}\n' + path.read_bytes())
    result = replay(filled, "--endpoint", tap.endpoint)
    assert "line 1: " in result.stderr and "could not move it aside" in result.stderr
    assert list(elsewhere.iterdir()) == []


@pytest.mark.slow
def test_a_spool_others_can_write_is_refused(filled: Path, tap: OtelTap) -> None:
    filled.chmod(0o777)
    result = replay(filled, "--endpoint", tap.endpoint)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        f"mcptrace replay: spool directory {filled} is writable by other users (mode 0777); "
        f"run chmod go-w {filled} or use a directory of your own"
    )


@pytest.mark.slow
def test_per_signal_variables_win_over_the_general_ones(spool: Path, tap: OtelTap) -> None:
    """As the SDK's exporters read them: the traces endpoint, protocol, headers and
    compression are the traces ones; logs and metrics use the general ones."""
    with FaultProxy(tap.port) as general, FaultProxy(tap.port) as traces_only:
        env = clean_env(
            OTEL_EXPORTER_OTLP_ENDPOINT=general.endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL="grpc",  # would be wrong for every receiver here
            OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="http/protobuf",
            OTEL_EXPORTER_OTLP_LOGS_PROTOCOL="http/protobuf",
            OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="http/protobuf",
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{traces_only.endpoint}/v1/traces",
            OTEL_EXPORTER_OTLP_HEADERS="x-tenant=general",
            OTEL_EXPORTER_OTLP_TRACES_HEADERS="X-Tenant=traces%20team,x-extra=1",
            OTEL_EXPORTER_OTLP_TRACES_COMPRESSION="gzip",
            OTEL_EXPORTER_OTLP_COMPRESSION="none",
        )
        result = run_under_mcptrace([PYTHON, "-c", WORKLOAD.format(count=3)], spool, env=env)
        assert result.stderr == ""
        tap.wait_for(lambda t: len(work_names(t)) == 3 and bool(t.metrics()))
        assert {path for path, _ in traces_only.requests} == {"/v1/traces"}
        assert {path for path, _ in general.requests} == {"/v1/logs", "/v1/metrics"}
        assert all(h["x-tenant"] == "traces team" and h["x-extra"] == "1"
                   for h in traces_only.headers)  # fmt: skip
        assert all(h.get("content-encoding") == "gzip" for h in traces_only.headers)
        assert all(h["x-tenant"] == "general" for h in general.headers)
        assert all("content-encoding" not in h for h in general.headers)


def test_http_json_sends_the_spooled_bytes(filled: Path) -> None:
    with FaultProxy(None) as receiver:
        result = replay(filled, "--endpoint", receiver.endpoint, "--protocol", "http/json")
        assert result.returncode == 0, result.stderr
        sent = [body for (path, _), body in zip(receiver.requests, receiver.bodies, strict=True)
                if path == "/v1/traces"]  # fmt: skip
        assert all(h["content-type"] == "application/json" for h in receiver.headers)
    assert sent == traces_file(filled).read_bytes().splitlines()


def _certificate(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl to make certificates")
@pytest.mark.slow
def test_certificate_and_client_certificate(filled: Path, tap: OtelTap, tmp_path: Path) -> None:
    server_key, server_cert = _certificate(tmp_path, "server")
    client_key, client_cert = _certificate(tmp_path, "client")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(server_cert, server_key)
    context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: the client must show its certificate
    context.load_verify_locations(client_cert)
    with FaultProxy(tap.port, tls=context) as secure:
        endpoint = f"https://127.0.0.1:{secure.port}"
        untrusted = replay(filled, "--endpoint", endpoint)
        assert untrusted.returncode == 1
        assert "not sent (TLS: self-signed certificate)" in untrusted.stderr
        assert "Traceback" not in untrusted.stderr
        trusted = replay(
            filled,
            "--endpoint",
            endpoint,
            OTEL_EXPORTER_OTLP_CERTIFICATE=str(server_cert),
            OTEL_EXPORTER_OTLP_CLIENT_KEY=str(client_key),
            OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=str(client_cert),
        )
        assert trusted.returncode == 0, trusted.stderr
        tap.wait_for(lambda t: len(work_names(t)) == 20)


def test_replay_never_prints_a_traceback_for_a_bad_progress_file(
    filled: Path, tap: OtelTap
) -> None:
    progress = _progress_dir(filled, "traces", tap.endpoint)
    progress.mkdir(parents=True, mode=0o700)
    (progress / traces_file(filled).name).write_bytes(b"\x00garbage")
    result = replay(filled, "--endpoint", tap.endpoint)
    assert result.returncode == 0, result.stderr
    assert "progress for" in result.stderr and "unreadable" in result.stderr
    tap.wait_for(lambda t: len(work_names(t)) == 20)
    assert json.dumps(result.stderr).count("Traceback") == 0


def test_a_header_that_cannot_be_sent_is_one_line_not_a_traceback(
    filled: Path, tap: OtelTap
) -> None:
    result = replay(
        filled, "--endpoint", tap.endpoint, OTEL_EXPORTER_OTLP_HEADERS="x-bad=a%0D%0AInjected: 1"
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "traces not sent (the request cannot be sent" in result.stderr
    assert work_names(tap) == []


def test_a_spool_file_planted_as_a_symlink_or_a_fifo_is_skipped(
    filled: Path, tap: OtelTap, victim: Path
) -> None:
    (filled / "traces-00000000T000000-1-0001.jsonl").symlink_to(victim)
    os.mkfifo(filled / "traces-00000000T000000-2-0001.jsonl")  # opening it would block
    result = replay(filled, "--endpoint", tap.endpoint)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "traces-00000000T000000-1-0001.jsonl: a symbolic link" in result.stderr
    assert "1 file(s) not sent (unsafe files, see above)" in result.stderr  # the FIFO: no hang
    tap.wait_for(lambda t: len(work_names(t)) == 20)  # the real files went
    assert victim.read_bytes() == b"precious\n"


@pytest.mark.parametrize(
    ("kind", "problem"), [("missing", "does not exist"), ("file", "is not a directory")]
)
def test_a_spool_that_is_not_a_directory_is_one_line(
    tmp_path: Path, kind: str, problem: str
) -> None:
    spool = tmp_path / "spool"
    if kind == "file":
        spool.write_text("")
    result = subprocess.run(
        mcptrace_cmd("replay", str(spool), "--endpoint", "http://127.0.0.1:9"),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == f"mcptrace replay: spool directory {spool} {problem}\n"
