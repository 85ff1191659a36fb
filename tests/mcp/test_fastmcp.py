"""fastmcp (standalone, 4.x on mcp 2.x): one CLIENT and one SERVER span per request, linked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from support import SPAN_KIND_CLIENT, SPAN_KIND_SERVER, clean_env, run_under_mcptrace, spans

pytest.importorskip("fastmcp", reason="fastmcp is not installed in this environment")

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], list]:  # type: ignore[type-arg]
    spool = tmp_path_factory.mktemp("spool-fastmcp")
    done = run_under_mcptrace(
        [sys.executable, str(HERE / "fastmcp_client.py")], spool, env=clean_env()
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :]), spans(spool)


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
