"""``_memory.give_back_free_memory``: what a thread's glibc arena holds free goes back to the
system (a server calls it once, when start-up settled: see provenance/startup.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROGRAM = """
import json, threading
from mcptrace._memory import give_back_free_memory

def rss_kib():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4

kept = []
def churn():  # 40 MiB in 4 KiB blocks on a thread of its own (its own arena); one in 64 kept
    blocks = [bytes(4096) for _ in range(10_240)]
    kept.extend(blocks[63::64])
    del blocks

worker = threading.Thread(target=churn)
worker.start()
worker.join()
before = rss_kib()
ran = give_back_free_memory()
print(json.dumps({"ran": ran, "before": before, "after": rss_kib(), "kept": len(kept)}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_free_memory_of_a_threads_arena_goes_back() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["ran"] is True and out["kept"] == 160
    # the kept blocks pin the arena's heap: only a trim gives the freed 39 MiB back
    assert out["before"] - out["after"] > 20 * 1024, out
