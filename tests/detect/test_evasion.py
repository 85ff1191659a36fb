"""Evasions a malicious server tries: flooding the per-span caps before the bad action, and
hiding a credential read behind the file HTTP libraries read anyway (~/.netrc).

A real server under `mcptrace run`, a throwaway HOME, loopback (or unroutable) peers only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from detect_support import (
    DRIVER,
    HERE,
    RULE,
    SEVERITY,
    detections_by_tool,
    drive,
    fake_home,
    loopback_sink,
)

from support import clean_env

SERVER = HERE / "evasion_server.py"
WARNING_OR_WORSE = {"warning", "error", "critical"}
CAP = 4  # MCPTRACE_MAX_EVENTS_PER_SPAN: the log cap is 8 times that
FLOOD = 2 * 8 * CAP  # twice the log cap: everything after it is past every cap
BENIGN_PYTHON = Path(os.environ.get("MCPTRACE_VENVS", HERE.parent.parent / ".venvs")) / (
    "benign/bin/python"
)


def _home(root: Path) -> Path:
    home = fake_home(root)
    (home / ".netrc").write_text("machine example.com login alice password s3cret\n")
    (home / ".netrc").chmod(0o600)  # netrc refuses a readable password file otherwise
    return home


# one real server for one detection class (README: such tests are slow; CI runs them,
# the fast loop keeps the rules' unit tests)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def flooded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    root = tmp_path_factory.mktemp("evasion")
    home = _home(root)
    spool = root / "spool"
    with loopback_sink() as port:
        calls = [
            ("flood_then_key", {"count": FLOOD}),
            ("flood_key_flood", {"count": FLOOD}),
            ("repeat_then_key", {"count": FLOOD}),
            ("flood_then_persist", {"count": FLOOD}),
            ("flood_then_connect", {"count": FLOOD, "port": port}),
            ("flood_then_shell", {"count": FLOOD}),
            ("netrc_parse", {}),
            ("netrc_open", {}),
        ]
        results = drive(SERVER, spool, home, calls, MCPTRACE_MAX_EVENTS_PER_SPAN=str(CAP))
    assert [result["tool"] for result in results] == [name for name, _ in calls]
    return detections_by_tool(spool)


FLOODED = {
    "flood_then_key": "credential-access.ssh-private-key",
    "flood_key_flood": "credential-access.ssh-private-key",
    "repeat_then_key": "credential-access.ssh-private-key",
    "flood_then_persist": "persistence.shell-startup",
    "flood_then_shell": "execution.shell",
}


@pytest.mark.parametrize("tool", sorted(FLOODED))
def test_action_past_the_caps_is_still_detected(flooded: dict[str, list[dict]], tool: str) -> None:
    rules = {event[RULE] for event in flooded[tool]}
    assert FLOODED[tool] in rules, flooded[tool]
    assert all(event["gen_ai.tool.name"] == tool for event in flooded[tool])


def test_outbound_connection_past_the_caps_is_still_detected(
    flooded: dict[str, list[dict]],
) -> None:
    found = [e for e in flooded["flood_then_connect"] if e[RULE] == "network.outbound"]
    assert found and "192.0.2.1" in found[0]["mcptrace.detection.reason"], flooded


@pytest.mark.parametrize("tool", ["netrc_parse", "netrc_open"])
def test_tool_reading_netrc_is_flagged(flooded: dict[str, list[dict]], tool: str) -> None:
    found = [e for e in flooded[tool] if e[RULE] == "credential-access.netrc"]
    assert found and found[0][SEVERITY] in WARNING_OR_WORSE, flooded[tool]
    assert found[0]["file.path"].endswith("/.netrc")


@pytest.mark.skipif(
    not BENIGN_PYTHON.exists(), reason="needs the benign venv (bash tests/setup_venvs.sh benign)"
)
@pytest.mark.slow
def test_requests_reading_netrc_is_not_flagged(tmp_path: Path) -> None:
    import subprocess

    home = _home(tmp_path)
    spool = tmp_path / "spool"
    with loopback_sink() as port:
        plan = json.dumps([("http_get", {"port": port}), ("netrc_open", {})])
        result = subprocess.run(
            [
                str(BENIGN_PYTHON),
                "-m",
                "mcptrace.cli",
                "run",
                "--spool",
                str(spool),
                "--",
                str(BENIGN_PYTHON),
                str(DRIVER),
                str(SERVER),
                plan,
            ],
            env=clean_env(HOME=str(home)),
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert result.returncode == 0, result.stderr
    by_tool = detections_by_tool(spool)
    assert by_tool["http_get"] == [], by_tool["http_get"]
    # the same process does flag the tool's own read (the rule is on)
    assert any(e[RULE] == "credential-access.netrc" for e in by_tool["netrc_open"])
