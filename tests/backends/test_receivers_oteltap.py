"""A real MCP session exported live to a real OTLP receiver (``oteltap`` from PyPI,
OTLP HTTP/protobuf on 127.0.0.1): traces, logs and metrics all arrive.

Runs in the ``receivers`` stage of tests/run.sh (see test_receivers_phoenix.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcptrace.export.spool_reader import attributes_of
from receivers import OtelTap
from support import (
    clean_env,
    example_client,
    replay_the_rest,
    run_under_mcptrace,
    unacknowledged_spans,
)

SERVER, CLIENT = 2, 3
DURATIONS = {
    "mcp.client.operation.duration",
    "mcp.server.operation.duration",
    "mcp.client.session.duration",
    "mcp.server.session.duration",
}


def named(items: list[dict[str, Any]], name: str, kind: int) -> dict[str, Any]:
    found = [item for item in items if item["name"] == name and item["kind"] == kind]
    assert len(found) == 1, sorted((item["name"], item["kind"]) for item in items)
    return found[0]


def event_names(tap: OtelTap) -> list[str]:
    return [log.get("eventName", "") for log in tap.logs()]


def session_complete(tap: OtelTap) -> bool:
    """Both processes (client and stdio server) have delivered their last batch."""
    return (
        len([s for s in tap.spans() if s["name"] == "ping"]) == 2
        and event_names(tap).count("mcptrace.mcp.session.end") == 2
        and {metric["name"] for metric in tap.metrics()} >= DURATIONS
    )


@pytest.mark.slow
def test_live_mcp_session_reaches_oteltap(spool: Path, tmp_path: Path) -> None:
    with OtelTap(tmp_path) as tap:
        result = run_under_mcptrace(
            example_client(),
            spool,
            "--endpoint",
            tap.endpoint,
            env=clean_env(OTEL_EXPORTER_OTLP_COMPRESSION="none"),
        )
        assert "ping ok" in result.stdout
        replay_the_rest(spool, tap.endpoint, OTEL_EXPORTER_OTLP_COMPRESSION="none")
        tap.wait_for(session_complete, timeout=60)
        received = tap.spans()
        logs = tap.logs()
        metrics = tap.metrics()
    assert unacknowledged_spans(spool, tap.endpoint) == 0  # the receiver took every span

    # traces: client and server span per tool call, the server span the child of the client's
    for tool in ("echo", "add", "word_count", "fail", "countdown"):
        assert {s["kind"] for s in received if s["name"] == f"tools/call {tool}"} == {
            CLIENT,
            SERVER,
        }
    client = named(received, "tools/call word_count", CLIENT)
    server = named(received, "tools/call word_count", SERVER)
    assert server["traceId"] == client["traceId"]
    assert server["parentSpanId"] == client["spanId"]
    attributes = attributes_of(server["attributes"])
    assert attributes["gen_ai.tool.name"] == "word_count"
    assert attributes["mcp.method.name"] == "tools/call"
    assert attributes["network.transport"] == "pipe"
    assert attributes["mcptrace.events.file.count"] == 1
    failed = attributes_of(named(received, "tools/call fail", SERVER)["attributes"])
    assert failed["error.type"] == "tool_error"

    # the sensor's runtime event on the tool span ...
    opened = [e for e in server["events"] if e["name"] == "mcptrace.file.open"]
    assert len(opened) == 1
    event = attributes_of(opened[0]["attributes"])
    assert event["mcptrace.file.access"] == "read"
    assert event["mcptrace.attribution"] == "context"
    path = event["file.path"]
    assert path.endswith(".txt")
    # ... and the same observation as a log record correlated with that span
    records = [
        log
        for log in logs
        if log.get("eventName") == "mcptrace.file.open" and log.get("spanId") == server["spanId"]
    ]
    assert len(records) == 1
    assert records[0]["traceId"] == server["traceId"]
    assert attributes_of(records[0]["attributes"])["file.path"] == path
    names = {log.get("eventName") for log in logs}
    assert {"mcptrace.mcp.server.start", "mcptrace.mcp.session.start"} <= names

    # metrics: the four MCP duration histograms, tools/call recorded on both sides
    by_name = {metric["name"]: metric for metric in metrics}
    assert set(by_name) >= DURATIONS
    for side in ("client", "server"):
        points = by_name[f"mcp.{side}.operation.duration"]["histogram"]["dataPoints"]
        calls = [
            p for p in points if attributes_of(p["attributes"])["mcp.method.name"] == "tools/call"
        ]
        assert calls, points
        assert sum(int(p["count"]) for p in calls) >= 8  # 3 echo, add, word_count, fail, ...
        assert all(p["sum"] > 0 for p in calls)
        assert by_name[f"mcp.{side}.session.duration"]["unit"] == "s"
