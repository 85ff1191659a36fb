"""Real client/server pairs (subprocesses) over stdio, streamable HTTP and SSE: span names, kinds,
attributes, status and parent/child links. Runs unchanged on mcp 1.x and 2.x."""

from __future__ import annotations

import bisect
from pathlib import Path

import pytest
from mcp_pairs import PairRun, run_http_pair, run_stdio_pair

from mcptrace.mcp.metrics import BUCKETS
from support import SPAN_KIND_CLIENT, SPAN_KIND_SERVER

STATUS_UNSET, STATUS_ERROR = 0, 2
TOOLS = ("echo", "boom", "soft_error", "no_such_tool", "whoami", "ask_roots", "countdown")


# stdio in the fast loop; the HTTP transports each start a server: CI runs them (slow)
@pytest.fixture(
    scope="module",
    params=[
        "stdio",
        pytest.param("http", marks=pytest.mark.slow),
        pytest.param("sse", marks=pytest.mark.slow),
    ],
)
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> PairRun:
    spool: Path = tmp_path_factory.mktemp(f"spool-{request.param}")
    if request.param == "stdio":
        return run_stdio_pair(spool)
    return run_http_pair(spool, transport=request.param)


def assert_child(child_span, parent_span) -> None:  # type: ignore[no-untyped-def]
    assert child_span.trace_id == parent_span.trace_id
    assert child_span.parent_span_id == parent_span.span_id


def test_client_ran_every_operation(pair: PairRun) -> None:
    result = pair.result
    assert result["echo"] == "hi" and result["countdown"] == "liftoff"
    assert result["boom_is_error"] and result["soft_is_error"] and result["unknown_is_error"]
    assert result["greeting"] == "hello" and result["roots"] == "file:///tmp/root-a"


@pytest.mark.parametrize("tool", TOOLS)
def test_each_tools_call_is_one_client_and_one_server_span(pair: PairRun, tool: str) -> None:
    client = pair.client(f"tools/call {tool}")
    server = pair.server(f"tools/call {tool}")
    assert_child(server, client)
    # the client's call runs inside the application's own span
    assert client.parent_span_id == pair.result["root_span_id"]


def test_tools_call_attributes(pair: PairRun) -> None:
    client = pair.client("tools/call echo")
    server = pair.server("tools/call echo")
    transport = "pipe" if pair.transport == "stdio" else "tcp"
    for span in (client, server):
        attributes = span.attributes
        assert attributes["mcp.method.name"] == "tools/call"
        assert attributes["gen_ai.tool.name"] == "echo"
        assert attributes["gen_ai.operation.name"] == "execute_tool"
        assert attributes["network.transport"] == transport
        assert attributes.get("network.protocol.name") == (None if transport == "pipe" else "http")
        assert attributes["mcp.protocol.version"] == "2025-11-25"
        assert attributes["jsonrpc.request.id"] == client.attributes["jsonrpc.request.id"]
        assert attributes["mcp.session.id"]
        assert "error.type" not in attributes
        assert span.status_code == STATUS_UNSET
        assert "gen_ai.tool.call.arguments" not in attributes  # capture is opt-in
    if pair.transport != "stdio":
        port = pair.extra["port"]
        assert client.attributes["server.address"] == "127.0.0.1"
        assert client.attributes["server.port"] == port
        assert server.attributes["client.address"] == "127.0.0.1"
        assert isinstance(server.attributes["client.port"], int)
    if pair.transport == "http":
        # the Mcp-Session-Id is the same on both sides
        assert client.attributes["mcp.session.id"] == server.attributes["mcp.session.id"]
    # the session id is stable for the whole session, in each process
    for process in ("peer_client", "peer_server"):
        sessions = {
            s.attributes.get("mcp.session.id")
            for s in pair.spans
            if s.resource.get("service.name") == process and "mcp.method.name" in s.attributes
        }
        assert len(sessions - {None}) == 1, (process, sessions)


@pytest.mark.parametrize("tool", ["boom", "soft_error", "no_such_tool"])
def test_tool_failures_are_tool_errors_on_both_sides(pair: PairRun, tool: str) -> None:
    for span in (pair.client(f"tools/call {tool}"), pair.server(f"tools/call {tool}")):
        assert span.attributes["error.type"] == "tool_error"
        assert span.status_code == STATUS_ERROR
        assert "rpc.response.status_code" not in span.attributes


def test_missing_resource_is_a_jsonrpc_error(pair: PairRun) -> None:
    code = str(pair.result["missing_code"])
    reads = [s for s in pair.named("resources/read") if s.attributes.get("error.type")]
    assert {s.kind for s in reads} == {SPAN_KIND_CLIENT, SPAN_KIND_SERVER}
    client = next(s for s in reads if s.kind == SPAN_KIND_CLIENT)
    server = next(s for s in reads if s.kind == SPAN_KIND_SERVER)
    assert_child(server, client)
    for span in (client, server):
        assert span.attributes["error.type"] == code
        assert span.attributes["rpc.response.status_code"] == code
        assert span.attributes["mcp.resource.uri"] == "test://missing"
        assert span.status_code == STATUS_ERROR
        assert "test://missing" in span.status_message


def test_resource_prompt_ping_initialize(pair: PairRun) -> None:
    ok_reads = [s for s in pair.named("resources/read") if "error.type" not in s.attributes]
    assert {s.kind for s in ok_reads} == {SPAN_KIND_CLIENT, SPAN_KIND_SERVER}
    assert all(s.attributes["mcp.resource.uri"] == "test://greeting" for s in ok_reads)
    for name in ("prompts/get summarize", "ping", "initialize", "tools/list"):
        assert_child(pair.server(name), pair.client(name))
    prompt = pair.server("prompts/get summarize")
    assert prompt.attributes["gen_ai.prompt.name"] == "summarize"
    assert "gen_ai.operation.name" not in prompt.attributes
    assert pair.client("ping").attributes["mcp.method.name"] == "ping"
    # no SDK-style "MCP send ..." names survive
    assert not [s for s in pair.spans if s.name.startswith("MCP ")]


def test_notifications_are_propagated(pair: PairRun) -> None:
    for name in ("notifications/initialized", "notifications/roots/list_changed"):
        client = pair.client(name)
        server = pair.server(name)
        assert_child(server, client)
        assert "jsonrpc.request.id" not in client.attributes


def test_progress_notifications_flow_server_to_client(pair: PairRun) -> None:
    tool_span = pair.server("tools/call countdown")
    sent = pair.named("notifications/progress", SPAN_KIND_CLIENT)
    handled = pair.named("notifications/progress", SPAN_KIND_SERVER)
    assert len(sent) == 2 and len(handled) == 2
    for span in sent:
        assert_child(span, tool_span)
    assert {h.parent_span_id for h in handled} == {s.span_id for s in sent}


def test_server_to_client_request(pair: PairRun) -> None:
    tool_span = pair.server("tools/call ask_roots")
    request = pair.client("roots/list")
    handled = pair.server("roots/list")
    assert_child(request, tool_span)
    assert_child(handled, request)
    assert request.attributes["jsonrpc.request.id"] == handled.attributes["jsonrpc.request.id"]


def test_handler_runs_in_the_server_span_with_baggage(pair: PairRun) -> None:
    server = pair.server("tools/call whoami")
    seen = pair.result["whoami"]
    assert seen["span_id"] == server.span_id
    assert seen["trace_id"] == server.trace_id
    assert seen["baggage"] == {"tenant": "acme"}


def test_operation_metrics(pair: PairRun) -> None:
    points = {
        (p.name, p.attributes.get("mcp.method.name"), p.attributes.get("gen_ai.tool.name")): p
        for p in pair.metrics
    }
    for side in ("client", "server"):
        echo = points[(f"mcp.{side}.operation.duration", "tools/call", "echo")]
        assert echo.kind == "histogram"
        assert int(echo.data["count"]) == 1
        assert echo.attributes["network.transport"] in ("pipe", "tcp")
        assert echo.attributes["mcp.protocol.version"] == "2025-11-25"
        # the exemplar points at the call's span
        span = (
            pair.client("tools/call echo") if side == "client" else pair.server("tools/call echo")
        )
        exemplars = {(e["traceId"], e["spanId"]) for e in echo.data.get("exemplars", [])}
        assert exemplars == {(span.trace_id, span.span_id)}
        # the point is the span's duration: sum, min, max and its one bucket
        seconds = (span.end_unix_nano - span.start_unix_nano) / 1e9
        for key in ("sum", "min", "max"):
            assert float(echo.data[key]) == pytest.approx(seconds, abs=1e-9)
        assert [float(b) for b in echo.data["explicitBounds"]] == list(BUCKETS)
        expected = [0] * (len(BUCKETS) + 1)
        expected[bisect.bisect_left(BUCKETS, seconds)] = 1
        assert [int(c) for c in echo.data["bucketCounts"]] == expected
        boom = points[(f"mcp.{side}.operation.duration", "tools/call", "boom")]
        assert boom.attributes["error.type"] == "tool_error"
        session = [p for p in pair.metrics if p.name == f"mcp.{side}.session.duration"]
        assert session and max(int(p.data["count"]) for p in session) == 1
        assert session[0].attributes["network.transport"] == echo.attributes["network.transport"]
        assert "mcp.session.id" not in session[0].attributes  # cardinality


def test_operation_metrics_carry_error_codes_and_peers(pair: PairRun) -> None:
    code = str(pair.result["missing_code"])
    for side in ("client", "server"):
        failed = [
            p
            for p in pair.metrics
            if p.name == f"mcp.{side}.operation.duration"
            and p.attributes.get("mcp.method.name") == "resources/read"
            and p.attributes.get("error.type")
        ]
        assert failed, side
        assert failed[0].attributes["rpc.response.status_code"] == code
        assert "mcp.resource.uri" not in failed[0].attributes  # opt-in only
    if pair.transport != "stdio":
        echo = [
            p
            for p in pair.metrics
            if p.name == "mcp.client.operation.duration"
            and p.attributes.get("gen_ai.tool.name") == "echo"
        ]
        assert echo[0].attributes["server.port"] == pair.extra["port"]
        assert echo[0].attributes["network.protocol.name"] == "http"
