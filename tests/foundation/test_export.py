"""Export end to end: spool by default, OTLP written ahead to the spool, replay exactly once."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from faults import FaultProxy
from mcptrace.export.spool_reader import iter_logs, iter_metric_points
from receivers import OtelTap, closed_port
from support import PYTHON, clean_env, example_client, mcptrace_cmd, run_under_mcptrace, spans

ALL_SIGNALS = (
    "from opentelemetry import trace, metrics\n"
    "from opentelemetry._logs import get_logger\n"
    "tracer = trace.get_tracer('t')\n"
    "for index in range({count}):\n"
    "    with tracer.start_as_current_span(f'work-{{index}}'):\n"
    "        get_logger('l').emit(event_name='test.event', attributes={{'index': index}})\n"
    "metrics.get_meter('m').create_counter('test.counter').add({count})\n"
)


def received_test_events(tap: OtelTap) -> list[dict[str, Any]]:
    return [log for log in tap.logs() if log.get("eventName") == "test.event"]


def replay(spool: Path, endpoint: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        mcptrace_cmd("replay", str(spool), "--endpoint", endpoint),
        env=clean_env(OTEL_EXPORTER_OTLP_COMPRESSION="none"),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_spool_replays_to_a_real_receiver_once(spool: Path, tmp_path: Path) -> None:
    result = run_under_mcptrace(example_client(), spool)
    assert "ping ok" in result.stdout
    spooled = spans(spool)
    assert len(spooled) >= 20  # client and server spans of the whole session
    with OtelTap(tmp_path) as tap:
        first = replay(spool, tap.endpoint)
        assert first.returncode == 0, first.stderr
        tap.wait_for(lambda t: len(t.spans()) >= len(spooled))
        second = replay(spool, tap.endpoint)
        assert second.returncode == 0, second.stderr
        assert "replayed 0 traces line(s)" in second.stderr
        time.sleep(1)
        received = tap.spans()
    assert len(received) == len(spooled)
    assert {s["spanId"] for s in received} == {s.span_id for s in spooled}
    assert {s["name"] for s in received} >= {"tools/call add", "tools/call echo", "ping"}


@pytest.mark.slow
def test_all_three_signals_round_trip(spool: Path, tmp_path: Path) -> None:
    run_under_mcptrace([PYTHON, "-c", ALL_SIGNALS.format(count=5)], spool)
    assert len(spans(spool)) == 5
    assert len([r for r in iter_logs(spool) if r.event_name == "test.event"]) == 5
    assert [p.data["asInt"] for p in iter_metric_points(spool) if p.name == "test.counter"] == ["5"]
    with OtelTap(tmp_path) as tap:
        assert replay(spool, tap.endpoint).returncode == 0
        tap.wait_for(
            lambda t: len(t.spans()) == 5 and len(received_test_events(t)) == 5 and t.metrics()
        )
        logs = received_test_events(tap)
    assert all(len(log["traceId"]) == 32 and len(log["spanId"]) == 16 for log in logs)


@pytest.mark.slow
def test_collector_down_everything_spooled_then_replayed_exactly_once(
    spool: Path, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    env = clean_env(OTEL_EXPORTER_OTLP_TIMEOUT="1", OTEL_EXPORTER_OTLP_COMPRESSION="none")
    result = run_under_mcptrace(example_client("--calls", "10"), spool, "--endpoint", dead, env=env)
    assert "ping ok" in result.stdout
    spooled = spans(spool)
    server_calls = [s for s in spooled if s.name == "tools/call echo" and s.kind == 2]
    assert len(server_calls) == 10  # nothing lost although the collector never answered
    with OtelTap(tmp_path) as tap:
        assert replay(spool, tap.endpoint).returncode == 0
        tap.wait_for(lambda t: len(t.spans()) >= len(spooled))
        assert replay(spool, tap.endpoint).returncode == 0
        time.sleep(1)
        received = tap.spans()
    assert sorted(s["spanId"] for s in received) == sorted(s.span_id for s in spooled)


@pytest.mark.slow
def test_live_export_delivers_everything_and_the_spool_knows_it(
    spool: Path, tmp_path: Path
) -> None:
    """Write-ahead: every batch is on disk first; the shipper sends it and records the
    acknowledgement, so a replay afterwards has nothing left to send."""
    with OtelTap(tmp_path) as tap:
        result = run_under_mcptrace(
            [PYTHON, "-c", ALL_SIGNALS.format(count=3)],
            spool,
            "--endpoint",
            tap.endpoint,
            env=clean_env(OTEL_EXPORTER_OTLP_COMPRESSION="none"),
        )
        assert result.stderr == ""
        tap.wait_for(
            lambda t: len(t.spans()) == 3 and len(received_test_events(t)) == 3 and t.metrics()
        )
        assert len(spans(spool)) == 3  # the write-ahead log keeps what it shipped
        again = replay(spool, tap.endpoint)
        assert again.returncode == 0, again.stderr
        assert "replayed 0 traces line(s) (0 item(s)), 0 logs line(s) (0 item(s)), 0 metrics" in (
            again.stderr
        )


@pytest.mark.slow
def test_interrupted_replay_resumes_without_duplicates(spool: Path, tmp_path: Path) -> None:
    # many small batches -> many lines, so the interruption lands mid-way
    env = clean_env(OTEL_BSP_MAX_EXPORT_BATCH_SIZE="1", OTEL_BLRP_MAX_EXPORT_BATCH_SIZE="1")
    run_under_mcptrace([PYTHON, "-c", ALL_SIGNALS.format(count=300)], spool, env=env)
    total = len(spans(spool))
    assert total == 300
    # a receiver that takes 50 ms per request, so the signal arrives mid-way
    with OtelTap(tmp_path) as tap, FaultProxy(tap.port, lambda n, p: "slow", delay=0.05) as slow:
        process = subprocess.Popen(
            mcptrace_cmd("replay", str(spool), "--endpoint", slow.endpoint),
            env=clean_env(OTEL_EXPORTER_OTLP_COMPRESSION="none"),
            stderr=subprocess.PIPE,
            text=True,
        )
        tap.wait_for(lambda t: len(t.spans()) >= 20)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 130, stderr
        assert "interrupted" in stderr
        partial = len(tap.spans())
        assert 0 < partial < total
        slow.delay = 0.0
        assert replay(spool, slow.endpoint).returncode == 0
        tap.wait_for(lambda t: len(t.spans()) >= total)
        time.sleep(1)
        ids = [s["spanId"] for s in tap.spans()]
    assert len(ids) == total == len(set(ids))


def test_replay_without_endpoint_is_a_clear_error(spool: Path) -> None:
    spool.mkdir()
    result = subprocess.run(
        mcptrace_cmd("replay", str(spool)), env=clean_env(), capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "mcptrace replay: no endpoint; pass --endpoint URL or set OTEL_EXPORTER_OTLP_ENDPOINT"
    )


@pytest.mark.slow
def test_opentelemetry_instrument_produces_the_same_telemetry(spool: Path) -> None:
    result = subprocess.run(
        [str(Path(PYTHON).with_name("opentelemetry-instrument")), *example_client()],
        env=clean_env(MCPTRACE_SPOOL_DIR=str(spool)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = spans(spool)
    services = {span.resource.get("service.name") for span in found}
    assert {"client", "server"} <= services  # the stdio server child is instrumented too
    assert all(span.resource.get("telemetry.distro.name") == "mcptrace" for span in found)
    server = [s for s in found if s.name == "tools/call add" and s.kind == 2]
    client = [s for s in found if s.kind == 3 and s.name.endswith("tools/call add")]
    assert len(server) == len(client) == 1
    assert server[0].parent_span_id == client[0].span_id
