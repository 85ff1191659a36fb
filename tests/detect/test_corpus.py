"""A slice of the detection corpus, as `python -m benchmarks.corpus.run` measures it all.

Malicious servers run inside bubblewrap (loopback only, a throwaway HOME); the full corpus
and its figures are in the README (``python -m benchmarks.corpus.run``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, clean_env

SLICE = "m01,m09,m12,m17,m21,m24,m26,m30,m35,m39,examples"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")
def test_corpus_slice_detects_every_malicious_server_and_flags_no_benign_call(
    tmp_path: Path,
) -> None:
    out = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.corpus.run", "--only", SLICE, "--json", str(out)],
        cwd=ROOT,
        env=clean_env(),  # runs under /var/tmp: the sandbox mounts a fresh /tmp
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["malicious_servers"] == 10
    missed = [
        o["name"] for o in figures["outcomes"] if o["kind"] == "malicious" and not o["detected"]
    ]
    assert missed == [], result.stdout
    assert figures["benign_tool_calls"] >= 5
    assert figures["benign_calls_with_detections"] == 0, result.stdout
