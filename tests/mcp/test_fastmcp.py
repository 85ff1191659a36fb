"""fastmcp (standalone, 4.x on mcp 2.x): one CLIENT and one SERVER span per request, linked;
the server's inventory as log records."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from support import (
    SPAN_KIND_CLIENT,
    SPAN_KIND_SERVER,
    clean_env,
    logs,
    run_under_mcptrace,
    spans,
)

pytest.importorskip("fastmcp", reason="fastmcp is not installed in this environment")

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def completed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], list, list]:  # type: ignore[type-arg]
    spool = tmp_path_factory.mktemp("spool-fastmcp")
    done = run_under_mcptrace(
        [sys.executable, str(HERE / "fastmcp_client.py")], spool, env=clean_env()
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :]), spans(spool), logs(spool)


@pytest.fixture(scope="module")
def run(completed) -> tuple[dict[str, object], list]:  # type: ignore[no-untyped-def, type-arg]
    return completed[0], completed[1]


@pytest.mark.parametrize(
    "name", ["tools/call add", "tools/call boom", "tools/call whoami", "resources/read"]
)
def test_one_client_and_one_server_span_per_request(run, name: str) -> None:  # type: ignore[no-untyped-def]
    result, found = run
    clients = [s for s in found if s.name == name and s.kind == SPAN_KIND_CLIENT]
    servers = [s for s in found if s.name == name and s.kind == SPAN_KIND_SERVER]
    assert len(clients) == 1, [(s.name, s.scope) for s in clients]
    assert len(servers) == 1
    client, server = clients[0], servers[0]
    assert server.trace_id == client.trace_id
    assert server.parent_span_id == client.span_id
    assert client.parent_span_id == result["root_span_id"]
    assert client.attributes["jsonrpc.request.id"]
    assert client.attributes["network.transport"] == "pipe"
    assert server.attributes["network.transport"] == "pipe"


def test_tool_attributes_and_errors(run) -> None:  # type: ignore[no-untyped-def]
    _, found = run
    (client,) = [s for s in found if s.name == "tools/call boom" and s.kind == SPAN_KIND_CLIENT]
    (server,) = [s for s in found if s.name == "tools/call boom" and s.kind == SPAN_KIND_SERVER]
    for span in (client, server):
        assert span.attributes["error.type"] == "tool_error"
        assert span.attributes["gen_ai.tool.name"] == "boom"
        assert span.attributes["gen_ai.operation.name"] == "execute_tool"
        assert span.status_code == 2


def test_handler_runs_in_server_span_with_baggage(run) -> None:  # type: ignore[no-untyped-def]
    result, found = run
    (server,) = [s for s in found if s.name == "tools/call whoami" and s.kind == SPAN_KIND_SERVER]
    assert result["whoami"] == {"span_id": server.span_id, "baggage": {"tenant": "acme"}}


def test_no_sdk_send_spans_nested_in_fastmcp_client_spans(run) -> None:  # type: ignore[no-untyped-def]
    _, found = run
    by_id = {s.span_id: s for s in found}
    for span in found:
        parent = by_id.get(span.parent_span_id)
        if span.kind == SPAN_KIND_CLIENT and parent is not None and parent.kind == SPAN_KIND_CLIENT:
            # only a different request (fastmcp's own tools/list validation) may nest
            assert parent.attributes["mcp.method.name"] != span.attributes["mcp.method.name"]


def test_fastmcp_inventory_records(completed) -> None:  # type: ignore[no-untyped-def]
    result, found, records = completed
    assert result["unlock"] == "unlocked" and result["secret"] == "s3cret"
    (start,) = [r for r in records if r.event_name == "mcptrace.mcp.server.start"]
    assert start.attributes["mcptrace.mcp.server.name"] == "fastmcp-peer"
    assert start.attributes["mcptrace.mcp.server.instructions_length"] == len("fastmcp test server")
    registered = [r for r in records if r.event_name == "mcptrace.mcp.component.registered"]
    kinds_names = [
        (r.attributes["mcptrace.mcp.component.kind"], r.attributes["mcptrace.mcp.component.name"])
        for r in registered
    ]
    # the components registered before start, by kind, then the one added while running
    assert kinds_names == [
        ("tool", "add"),
        ("tool", "boom"),
        ("tool", "whoami"),
        ("tool", "unlock"),
        ("resource", "greeting"),
        ("resource_template", "item"),
        ("prompt", "summarize"),
        ("tool", "secret"),
    ]
    assert start.attributes["mcptrace.mcp.server.components"] == 7
    assert all(r.time_unix_nano >= start.time_unix_nano for r in registered)
    assert all(r.attributes["mcptrace.mcp.server.name"] == "fastmcp-peer" for r in registered)
    by_name = {r.attributes["mcptrace.mcp.component.name"]: r.attributes for r in registered}
    for tool in ("add", "boom", "whoami", "unlock", "secret"):
        sha = by_name[tool]["mcptrace.mcp.component.input_schema.sha256"]
        assert isinstance(sha, str) and len(sha) == 64, tool
    assert (
        by_name["add"]["mcptrace.mcp.component.input_schema.sha256"]
        != (by_name["boom"]["mcptrace.mcp.component.input_schema.sha256"])
    )
    assert by_name["add"]["mcptrace.mcp.component.description"] == "Add two integers."
    assert by_name["secret"]["mcptrace.mcp.component.description"] == (
        "Added after the server started."
    )
    assert by_name["greeting"]["mcptrace.mcp.component.uri"] == "fm://greeting"
    assert "mcptrace.mcp.component.input_schema.sha256" not in by_name["greeting"]
    assert by_name["item"]["mcptrace.mcp.component.uri"] == "fm://item/{item_id}"
    assert len(by_name["item"]["mcptrace.mcp.component.input_schema.sha256"]) == 64
    assert len(by_name["summarize"]["mcptrace.mcp.component.input_schema.sha256"]) == 64
    # the late registration is logged inside the request that made it
    (unlock,) = [s for s in found if s.name == "tools/call unlock" and s.kind == SPAN_KIND_SERVER]
    assert registered[-1].span_id == unlock.span_id


def test_fastmcp_server_spans_name_the_caller(run) -> None:  # type: ignore[no-untyped-def]
    _, found = run
    served = [
        s
        for s in found
        if s.kind == SPAN_KIND_SERVER and s.attributes.get("mcp.method.name") == "tools/call"
    ]
    assert served
    for span in served:  # clientInfo from initialize, on fastmcp's own SERVER spans
        assert span.attributes.get("mcptrace.mcp.client.name"), span.attributes
