"""Instructions for the model in the server's own ``instructions`` (its initialize answer)
are tool poisoning on every call of its tools; ordinary instructions, even naming ~/.ssh,
are not."""

from __future__ import annotations

from pathlib import Path

import pytest
from detect_support import HERE, RULE, detections_by_tool, drive, fake_home

SERVER = HERE / "instructions_server.py"


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "expected"), [("poisoned", True), ("ordinary", False)])
def test_poisoned_server_instructions_flag_its_tools(
    tmp_path: Path, kind: str, expected: bool
) -> None:
    home = fake_home(tmp_path)
    spool = tmp_path / "spool"
    results = drive(SERVER, spool, home, [("add", {"a": 2, "b": 3})], INSTRUCTIONS=kind)
    assert results == [{"tool": "add", "error": False, "text": "5"}]
    rules = {found[RULE] for found in detections_by_tool(spool)["add"]}
    assert ("initial-access.tool-poisoning" in rules) is expected, rules
