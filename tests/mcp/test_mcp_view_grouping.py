"""`mcptrace view` keeps the sessions a client opens with several servers apart (they used to
merge into one, which read like a call chain), with and without protocol sessions, and says
which client called (terminal, JSON and HTML)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mcptrace.mcp.instrumentor import mcp_major
from mcptrace.view.html import render_report
from mcptrace.view.jsonout import model_dict
from mcptrace.view.model import Filters, build_model
from mcptrace.view.terminal import Style, summary_lines
from support import clean_env, run_under_mcptrace

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.slow  # a client with two servers, per version
VERSIONS = ["2025-11-25"] + (["2026-07-28"] if mcp_major() == 2 else [])


@pytest.mark.parametrize("version", VERSIONS)
def test_each_server_is_its_own_group_with_its_caller(tmp_path: Path, version: str) -> None:
    spool = tmp_path / "spool"
    done = run_under_mcptrace(
        [sys.executable, str(HERE / "multi_server_client.py"), version], spool, env=clean_env()
    )
    assert "alpha-1" in done.stdout and "beta-1" in done.stdout, done.stderr
    model = build_model(spool)
    tool_groups = [s for s in model.sessions if any(c.is_tool_call for c in s.calls)]
    assert len(tool_groups) == 2, [(s.key, s.services) for s in model.sessions]
    for group in tool_groups:
        echoed = {c.name for c in group.calls if c.is_tool_call}
        assert echoed == {"tools/call echo"}
        assert group.clients == ["multi-client 1.0"]
        assert group.services[0] == "multi_server_client"
        # both halves of each call were joined, and each group talked to one server only
        assert all(c.client is not None and c.server is not None for c in group.calls)
        assert len({c.server.span_id for c in group.calls if c.is_tool_call}) == 2
    if version == "2026-07-28":
        assert all(not s.session_ids for s in model.sessions)
    else:
        assert all(len(s.session_ids) == 2 for s in tool_groups)  # client's and server's ids
    (caller,) = [c for c in model.summary.clients if c["client"]]
    assert caller["client"] == "multi-client 1.0" and caller["tool_calls"] == 4
    assert "clients: multi-client 1.0" in "\n".join(summary_lines(model.summary, Style(False)))
    assert model_dict(model, Filters())["sessions"][0]["clients"] == ["multi-client 1.0"]
    assert "client multi-client 1.0" in render_report(model, Filters())
