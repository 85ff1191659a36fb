"""The MCP client transport's own connections are not tool activity; a tool's own request
to the same host is.  A real client and server over streamable HTTP, both instrumented."""

from __future__ import annotations

import json
import socket

import pytest
from helpers import HERE, Recorded

from mcptrace.record import vocabulary as ev
from support import PYTHON, SPAN_KIND_CLIENT, SPAN_KIND_SERVER, clean_env, run_under_mcptrace

pytestmark = pytest.mark.slow

CLIENT = HERE / "http_transport_client.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recorded, int]:
    spool = tmp_path_factory.mktemp("transport") / "spool"
    port = free_port()
    result = run_under_mcptrace(
        [PYTHON, str(CLIENT), str(port)], spool, env=clean_env(), timeout=180
    )
    calls = json.loads(result.stdout.splitlines()[-1])
    assert [c["tool"] for c in calls] == ["echo", "echo", "echo", "http_get"], result.stderr
    return Recorded(spool), port


def connects_to(attributes_list: list[dict[str, object]], port: int) -> list[dict[str, object]]:
    return [
        a
        for a in attributes_list
        if a.get(ev.SERVER_PORT) == port and a.get(ev.AUDIT_EVENT) == "socket.connect"
    ]


def test_client_spans_carry_no_transport_connects(run: tuple[Recorded, int]) -> None:
    recorded, port = run
    client_spans = [s for s in recorded.spans if s.kind == SPAN_KIND_CLIENT]
    assert any(s.name == "tools/call echo" for s in client_spans), recorded.span_names()
    for span in client_spans:
        events = [e.attributes for e in span.events if e.name == ev.NETWORK_CONNECT]
        assert not connects_to(events, port), span.name
        logged = [r.attributes for r in recorded.logs_of(span, ev.NETWORK_CONNECT)]
        assert not connects_to(logged, port), span.name


def test_the_tools_own_request_to_the_same_host_is_recorded(run: tuple[Recorded, int]) -> None:
    recorded, port = run
    (tool,) = [
        s for s in recorded.spans if s.kind == SPAN_KIND_SERVER and s.name == "tools/call http_get"
    ]
    events = [e.attributes for e in tool.events if e.name == ev.NETWORK_CONNECT]
    assert len(connects_to(events, port)) == 1
    assert connects_to(events, port)[0][ev.ATTRIBUTION] == "context"


def test_the_applications_own_request_to_the_same_host_is_recorded(
    run: tuple[Recorded, int],
) -> None:
    recorded, port = run
    (span,) = [s for s in recorded.spans if s.name == "app-own-work"]
    events = [e.attributes for e in span.events if e.name == ev.NETWORK_CONNECT]
    assert len(connects_to(events, port)) == 1
    requests = [e.attributes for e in span.events if e.name == ev.NETWORK_REQUEST]
    assert [r[ev.URL_FULL] for r in requests] == [f"http://127.0.0.1:{port}/app-own-request"]
