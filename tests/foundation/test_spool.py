"""The spool format (OTLP/JSON lines), file handling, and behaviour on a full disk."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, format_span_id, format_trace_id

import mcptrace
from mcptrace.export.otlp_json import decode_line, encode_lines
from mcptrace.export.spool import MAX_LINE_BYTES, SpoolSpanExporter
from otlp_oracle import encode_request
from receivers import closed_port
from support import PYTHON, clean_env, example_client, mcptrace_cmd, spans

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


# mcptrace's own files in a traceback ("src/mcptrace/", "site-packages/mcptrace/"), not any
# path with a directory of that name (a checkout cloned into .../mcptrace/)
_OWN_FRAMES = "{0.parent.name}/{0.name}/".format(Path(mcptrace.__file__).resolve().parent)


def make_spans(count: int, payload: int = 10) -> list:  # type: ignore[type-arg]
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("spool-test", "1.2.3")
    with tracer.start_as_current_span("root") as root:
        link = Link(root.get_span_context())
        for index in range(count):
            with tracer.start_as_current_span(f"child-{index}", links=[link]) as span:
                span.set_attribute("payload", "x" * payload)
                span.set_attribute("number", 2**40 + index)
                span.add_event("an-event", {"n": index})
    return list(memory.get_finished_spans())


def lines_of(directory: Path) -> Iterator[str]:
    for path in sorted(directory.glob("traces-*.jsonl")):
        yield from path.read_text().splitlines()


def test_lines_are_otlp_json(tmp_path: Path) -> None:
    exporter = SpoolSpanExporter(tmp_path, 1 << 20)
    spans = make_spans(3)
    assert exporter.export(spans).name == "SUCCESS"
    (line,) = list(lines_of(tmp_path))
    tree = json.loads(line)
    scope_spans = tree["resourceSpans"][0]["scopeSpans"][0]
    assert scope_spans["scope"] == {"name": "spool-test", "version": "1.2.3"}
    exported = scope_spans["spans"]
    assert len(exported) == 4
    for span in exported:
        assert HEX32.match(span["traceId"]) and HEX16.match(span["spanId"])
        assert isinstance(span["kind"], int)  # enums as integers
        assert isinstance(span["startTimeUnixNano"], str)  # 64-bit integers as strings
    child = next(s for s in exported if s["name"] == "child-0")
    assert HEX16.match(child["parentSpanId"])
    (link,) = child["links"]
    assert (link["traceId"], link["spanId"]) == (child["traceId"], child["parentSpanId"])
    number = next(a for a in child["attributes"] if a["key"] == "number")
    assert number["value"] == {"intValue": str(2**40)}
    # lossless: the line decodes to exactly the request the OTLP exporter would send
    assert decode_line("traces", line) == encode_request("traces", spans)
    expected = json_format.MessageToDict(encode_request("traces", spans))
    assert len(expected["resourceSpans"][0]["scopeSpans"][0]["spans"]) == 4


def test_log_and_exemplar_ids_are_hex_and_lossless() -> None:
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    reader = InMemoryMetricReader()
    histogram = MeterProvider(metric_readers=[reader]).get_meter("m").create_histogram("h")
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("work") as span:
        logger_provider.get_logger("l").emit(body="inside the span")
        histogram.record(1.5)
        ids = (format_trace_id(span.get_span_context().trace_id),
               format_span_id(span.get_span_context().span_id))  # fmt: skip
    logger_provider.force_flush()
    for signal, items in (
        ("logs", logs.get_finished_logs()),
        ("metrics", reader.get_metrics_data()),
    ):
        (line,) = encode_lines(signal, items, MAX_LINE_BYTES)
        tree = json.loads(line)
        if signal == "logs":
            found = [(r["traceId"], r["spanId"]) for r in leaves("logs", tree)]
        else:
            (metric,) = leaves("metrics", tree)
            (point,) = metric["histogram"]["dataPoints"]
            found = [(e["traceId"], e["spanId"]) for e in point["exemplars"]]
        assert found == [ids]
        assert decode_line(signal, line) == encode_request(signal, items)


def leaves(signal: str, tree: dict) -> list:  # type: ignore[type-arg]
    top, scope, leaf = {
        "logs": ("resourceLogs", "scopeLogs", "logRecords"),
        "metrics": ("resourceMetrics", "scopeMetrics", "metrics"),
    }[signal]
    return [item for r in tree[top] for s in r[scope] for item in s[leaf]]


def test_files_are_private_and_rotate_by_size(tmp_path: Path) -> None:
    exporter = SpoolSpanExporter(tmp_path, max_file_bytes=8000)
    for _ in range(10):
        exporter.export(make_spans(5))
    files = sorted(tmp_path.glob("traces-*.jsonl"))
    assert len(files) > 1
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.stat().st_size <= 8000 or len(path.read_text().splitlines()) == 1
    assert (
        sum(
            len(json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"])
            for line in lines_of(tmp_path)
        )
        == 60
    )


def test_big_batches_are_split_below_one_mebibyte(tmp_path: Path) -> None:
    exporter = SpoolSpanExporter(tmp_path, 64 << 20)
    spans = make_spans(40, payload=100_000)  # ~4 MB in one batch
    exporter.export(spans)
    lines = list(lines_of(tmp_path))
    assert len(lines) > 1
    assert all(len(line.encode()) + 1 <= MAX_LINE_BYTES + 1 for line in lines)
    names = [
        span["name"]
        for line in lines
        for rs in json.loads(line)["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]
    assert sorted(names) == sorted(span.name for span in spans)


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / f"tiny-{uuid.uuid4().hex[:8]}"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.mark.slow
def test_full_disk_costs_telemetry_not_the_program(tiny_filesystem: Path) -> None:
    spool = tiny_filesystem / "spool"  # the tmpfs root is 1777: refused as a spool itself
    script = (
        "from opentelemetry import trace\n"
        "tracer = trace.get_tracer('t')\n"
        "for index in range(3000):\n"
        "    with tracer.start_as_current_span('work') as span:\n"
        "        span.set_attribute('payload', 'y' * 200)\n"
        "print('finished', flush=True)\n"
    )
    result = subprocess.run(
        mcptrace_cmd("run", "--spool", str(spool), "--", PYTHON, "-c", script),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "finished\n"
    warnings = [line for line in result.stderr.splitlines() if line.startswith("mcptrace:")]
    assert len(warnings) == 1 and "cannot write the spool" in warnings[0]
    # what was written is whole lines only: every line parses
    for path in spool.glob("traces-*.jsonl"):
        for line in path.read_text().splitlines():
            json.loads(line)


def _fill(directory: Path) -> None:
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"x" * 1024):
            pass
    except OSError:
        pass  # full
    finally:
        os.close(fd)


@pytest.mark.slow
@pytest.mark.parametrize("endpoint", [False, True], ids=["spool", "otlp"])
def test_a_disk_full_at_start_still_runs_the_server(
    tiny_filesystem: Path, tmp_path: Path, endpoint: bool
) -> None:
    """The host starts and serves (a real MCP client and server); telemetry is dropped,
    counted, and said once."""
    _fill(tiny_filesystem)
    options = ["--endpoint", f"http://127.0.0.1:{closed_port()}"] if endpoint else []
    result = subprocess.run(
        mcptrace_cmd(
            "run", "--spool", str(tiny_filesystem / "spool"), *options, "--", *example_client()
        ),
        env=clean_env(MCPTRACE_HASH_CACHE=str(tmp_path / "cache.sqlite3")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "ping ok" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("mcptrace:")]
    # one line, though the client and its server are both instrumented
    assert len(warnings) == 1, result.stderr
    assert "No space left on device" in warnings[0]
    assert _OWN_FRAMES not in result.stderr  # no traceback through mcptrace


def test_forked_child_writes_its_own_file(tmp_path: Path) -> None:
    exporter = SpoolSpanExporter(tmp_path, 1 << 20)
    exporter.export(make_spans(1))
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 0 if exporter.export(make_spans(1)).name == "SUCCESS" else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    files = sorted(tmp_path.glob("traces-*.jsonl"))
    assert len(files) == 2
    assert {path.name.split("-")[2] for path in files} == {str(os.getpid()), str(pid)}


def test_a_full_queue_spills_to_disk_instead_of_dropping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A producer far faster than the export thread: the SDK's processor drops (the
    control), mcptrace's writes a batch on the producing thread and keeps every span."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from mcptrace.config import load_settings
    from mcptrace.export.providers import build_telemetry
    from mcptrace.export.spool_reader import iter_spans

    small = {"max_queue_size": 64, "max_export_batch_size": 32, "schedule_delay_millis": 60_000}
    control = BatchSpanProcessor(SpoolSpanExporter(tmp_path / "control", 1 << 30), **small)
    provider = TracerProvider()
    provider.add_span_processor(control)
    for _ in range(5000):
        provider.get_tracer("t").start_span("s").end()
    provider.shutdown()
    assert len(list(iter_spans(tmp_path / "control"))) < 5000  # the SDK dropped some

    for name, value in small.items():
        variable = {"max_queue_size": "OTEL_BSP_MAX_QUEUE_SIZE",
                    "max_export_batch_size": "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                    "schedule_delay_millis": "OTEL_BSP_SCHEDULE_DELAY"}[name]  # fmt: skip
        monkeypatch.setenv(variable, str(value))
    spool = tmp_path / "spool"
    telemetry = build_telemetry(load_settings({"MCPTRACE_SPOOL_DIR": str(spool)}), "t")
    tracer = telemetry.tracer_provider.get_tracer("t")
    for _ in range(5000):
        tracer.start_span("s").end()
    telemetry.shutdown()
    assert len(list(iter_spans(spool))) == 5000


def test_a_spool_removed_mid_run_keeps_what_comes_after(tmp_path: Path) -> None:
    """The program (or a cleaner) removes the spool while it runs: what is recorded after
    that goes to a new file in the directory made again, not to the removed file's inode."""
    spool = tmp_path / "spool"
    script = (
        "import shutil, sys\n"
        "from opentelemetry import trace\n"
        "tracer = trace.get_tracer('t')\n"
        "with tracer.start_as_current_span('before-removal'):\n"
        "    pass\n"
        "trace.get_tracer_provider().force_flush()\n"
        "shutil.rmtree(sys.argv[1])\n"
        "for index in range(50):\n"
        "    with tracer.start_as_current_span('after-removal'):\n"
        "        pass\n"
        "print('finished', flush=True)\n"
    )
    result = subprocess.run(
        mcptrace_cmd("run", "--spool", str(spool), "--", PYTHON, "-c", script, str(spool)),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "finished\n"
    names = [span.name for span in spans(spool)]
    assert names.count("after-removal") == 50, names
