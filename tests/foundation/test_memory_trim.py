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


TAMPERED = """
import ctypes, json
from mcptrace._memory import give_back_free_memory

calls = []
original_cdll, original_dlopen = ctypes.CDLL, ctypes._dlopen

class Replaced(original_cdll):  # what a tool could install to run code on other threads
    def __init__(self, *args, **kwargs):
        calls.append("CDLL")
        super().__init__(*args, **kwargs)

def dlopen(*args):
    calls.append("_dlopen")
    return original_dlopen(*args)

def __getattr__(self, name):
    calls.append("__getattr__")
    return original_getattr(self, name)

original_getattr = original_cdll.__getattr__
results = {}
for name, owner, attribute, replacement in (
    ("class", ctypes, "CDLL", Replaced),
    ("dlopen", ctypes, "_dlopen", dlopen),
    ("method", original_cdll, "__getattr__", __getattr__),
):
    original = getattr(owner, attribute)
    setattr(owner, attribute, replacement)
    results[name] = give_back_free_memory()
    setattr(owner, attribute, original)
results["untouched"] = give_back_free_memory()
print(json.dumps({"results": results, "calls": calls}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_a_replaced_ctypes_is_never_called_from_the_paused_thread() -> None:
    """The trim runs with the sensor paused: a program's replacement of ctypes (its CDLL
    class, the dlopen it calls, a method) must get no call there, where its code would go
    unrecorded; the trim is skipped instead, and runs again once ctypes is the original."""
    result = subprocess.run(
        [sys.executable, "-c", TAMPERED], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["calls"] == []
    assert out["results"] == {"class": False, "dlopen": False, "method": False, "untouched": True}
