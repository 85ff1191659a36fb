"""A fastmcp 4 server's poisoned tool description is flagged on that tool's calls, as the SDK's
FastMCP's is (a published malicious server, benchmarks/thirdparty, runs on fastmcp)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from support import clean_env, run_under_mcptrace, spans

pytest.importorskip("fastmcp", reason="fastmcp is not installed in this environment")

DETECT = Path(__file__).resolve().parents[1] / "detect"


def test_fastmcp_tool_poisoning_is_flagged_on_the_tool(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    calls = [["analyze", {"code": "x = 1"}], ["shout", {"text": "hi"}]]
    server = str(DETECT / "fastmcp_poisoned_server.py")
    result = run_under_mcptrace(
        [sys.executable, str(DETECT / "drive_server.py"), server, json.dumps(calls)],
        spool,
        env=clean_env(HOME=str(tmp_path)),
        timeout=180,
    )
    assert "[" in result.stdout, result.stderr
    rules: dict[str, set[str]] = {}
    for span in spans(spool):
        if span.kind == 2 and span.name.startswith("tools/call "):
            found = rules.setdefault(span.name.removeprefix("tools/call "), set())
            for event in span.events:
                if event.name == "mcptrace.detection":
                    found.add(str(event.attributes["mcptrace.detection.rule"]))
    assert "initial-access.tool-poisoning" in rules["analyze"], rules
    assert rules["shout"] == set(), rules
