"""A client on one mcp major and a server on the other still form one trace.

The peer interpreter (the other venv's python, with mcptrace installed) comes from
MCPTRACE_TEST_PEER_PYTHON; CI sets it (main <-> mcp1)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mcp_pairs import PairRun, peer_python, run_stdio_pair

from support import SPAN_KIND_CLIENT, SPAN_KIND_SERVER

PEER = peer_python()
pytestmark = pytest.mark.skipif(
    PEER is None,
    reason="MCPTRACE_TEST_PEER_PYTHON is not set (the other mcp major's interpreter)",
)


def assert_one_trace(pair: PairRun) -> None:
    for name in ("tools/call echo", "tools/call whoami", "roots/list", "prompts/get summarize"):
        (client,) = pair.named(name, SPAN_KIND_CLIENT)
        (server,) = pair.named(name, SPAN_KIND_SERVER)
        assert server.trace_id == client.trace_id
        assert server.parent_span_id == client.span_id
    assert (
        pair.result["whoami"]["span_id"]
        == pair.named("tools/call whoami", SPAN_KIND_SERVER)[0].span_id
    )
    assert pair.result["whoami"]["baggage"] == {"tenant": "acme"}
    (client,) = pair.named("notifications/initialized", SPAN_KIND_CLIENT)
    (server,) = pair.named("notifications/initialized", SPAN_KIND_SERVER)
    assert server.parent_span_id == client.span_id


def test_this_client_with_peer_server(tmp_path: Path) -> None:
    assert PEER is not None
    assert_one_trace(run_stdio_pair(tmp_path / "spool", server_python=PEER))


def test_peer_client_with_this_server(tmp_path: Path) -> None:
    assert PEER is not None
    assert_one_trace(
        run_stdio_pair(tmp_path / "spool", client_python=PEER, server_python=sys.executable)
    )
