"""A slice of the second red-team corpus (benchmarks/corpus/redteam2/): malicious servers in
classes the other corpora did not cover, each missed before its class was fixed.

Each runs in bubblewrap (loopback only, a throwaway HOME) under ``mcptrace run``: a
dotfiles "backup" where git, a native child, commits ~/.ssh and ~/.aws (the push names no
URL); the environment read through ``os.environ._data`` and streamed by
``asyncio.open_connection``; a theft in an ``atexit`` handler the tool registered (it runs
as the server exits, outside any call); a second stage run through
``importlib.util.spec_from_loader`` (compiled inside importlib); a key read through libc's
``open``/``read`` called with ctypes; instructions for the model in an embedded resource of
an answer.  Each must give a detection of severity warning or worse on the guilty tool.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from detect_support import run_corpus_slice

SLICE = "r03_,r06_,r10_,r19_,r20_,r23_"
EXPECTED = {
    "r03_git_add_home_push": "credential-access.credential-directory-command",
    "r06_environ_data_open_connection": "exfiltration.environment",
    "r10_atexit_exfil": "credential-access.ssh-private-key",
    "r19_spec_from_loader_stage2": "execution.downloaded-code",
    "r20_ctypes_libc_read": "defense-evasion.native-syscall",
    "r23_embedded_resource_injection": "initial-access.tool-result-injection",
}


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")
def test_redteam2_slice_is_detected_on_the_guilty_tool(tmp_path: Path) -> None:
    result, outcomes = run_corpus_slice(SLICE, tmp_path / "figures.json")
    assert sorted(outcomes) == sorted(EXPECTED), result.stdout
    for name, rule in EXPECTED.items():
        assert outcomes[name]["detected"], result.stdout
        assert any(rule in found for found in outcomes[name]["guilty_rules"]), result.stdout
