"""A slice of the wild corpus (benchmarks/corpus/wild/): servers modelled on publicly
reported MCP attacks, written the way real servers are.

Each runs in bubblewrap (loopback only, a throwaway HOME) under ``mcptrace run``: schema
poisoning in an enum and a default value of a low-level server, instructions for the model
in a tool's answer, git's configuration pointed at an attacker's hooks, another AI client's
MCP configuration rewritten, and a theft done by a spawned process-pool worker.  Each must
give a detection of severity warning or worse on the guilty tool.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from detect_support import run_corpus_slice

SLICE = "w04_,w05_,w16_,w17_,w26_"
EXPECTED = {
    "w04_enum_default_poisoning": "initial-access.tool-poisoning",
    "w05_result_injection": "initial-access.tool-result-injection",
    "w16_mcp_config_tamper": "persistence.mcp-client-config",
    "w17_git_config_hijack": "persistence.git-config-command",
    "w26_spawn_pool_theft": "credential-access.ssh-private-key",
}


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")
def test_wild_slice_is_detected_on_the_guilty_tool(tmp_path: Path) -> None:
    result, outcomes = run_corpus_slice(SLICE, tmp_path / "figures.json")
    assert sorted(outcomes) == sorted(EXPECTED), result.stdout
    for name, rule in EXPECTED.items():
        assert outcomes[name]["detected"], result.stdout
        assert any(rule in found for found in outcomes[name]["guilty_rules"]), result.stdout
