"""A slice of the evasive corpus (benchmarks/corpus/evasive/): badness where a per-call judge
looks least.

Each server runs in bubblewrap (loopback only, a throwaway HOME) under ``mcptrace run``:
a Timer that steals the SSH key after its tool returned, a thread that unpickles a crafted
payload after the call ended, an appended ~/.profile from a late thread, a theft at import
time and a ~/.bashrc write while a low-level server starts, a string import eval'd at import
time once the SDK's imports have compiled thousands of strings, and a credential theft at
import time behind thousands of reads.  Each must give a detection of
severity warning or worse on the guilty tool (late detections are log records linked to
its ended span) or, for start-up badness, on no call at all.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from detect_support import run_corpus_slice

SLICE = "e01_,e07_,e08_,e27_,e31_,e14_,e38_,e39_"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")
def test_evasive_slice_late_and_startup_badness_is_detected(tmp_path: Path) -> None:
    result, outcomes = run_corpus_slice(SLICE, tmp_path / "figures.json")
    assert len(outcomes) == 8, result.stdout
    missed = [name for name, o in outcomes.items() if not o["detected"]]
    assert missed == [], result.stdout
    assert outcomes["e07_import_time_theft"]["guilty"] == "<startup>"
    assert any(
        "credential-access.ssh-private-key" in rule
        for rule in outcomes["e01_timer_after_return"]["guilty_rules"]
    ), result.stdout
