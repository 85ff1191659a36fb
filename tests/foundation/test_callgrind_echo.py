"""``python -m benchmarks.callgrind_echo``'s parts: the window's dumps are read per label from
the main thread's files only, and the child marks the same window on both sides (run here
under ``cProfile``, its ``BENCH_PROFILE_DIR`` mode: exact call counts, no valgrind)."""

from __future__ import annotations

import os
import pstats
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks._child import clean_env
from benchmarks.callgrind_echo import window_counts

from support import ROOT

DUMP = """version: 1
creator: callgrind-3.19.0
pid: {pid}
cmd:  python
part: 1

desc: I1 cache:
desc: Trigger: Client Request: {label}

positions: line
events: Ir
summary: {total}

fn=(1) main
0 {total}
totals: {total}
"""


def test_the_window_counts_are_the_main_threads_labelled_dumps(tmp_path: Path) -> None:
    (tmp_path / "cg.101.1-01").write_text(DUMP.format(pid=101, label="client-window", total=300))
    (tmp_path / "cg.101.1-02").write_text(DUMP.format(pid=101, label="client-window", total=9))
    (tmp_path / "cg.202.1-01").write_text(DUMP.format(pid=202, label="server-window", total=600))
    (tmp_path / "cg.202-01").write_text(DUMP.format(pid=202, label="x", total=1).replace(
        "desc: Trigger: Client Request: x\n", "desc: Trigger: Program termination\n"
    ))  # fmt: skip
    assert window_counts(tmp_path) == {"client-window": 300, "server-window": 600}


@pytest.mark.slow
def test_both_sides_profile_the_same_window_of_calls(tmp_path: Path) -> None:
    env = clean_env(BENCH_PROFILE_DIR=str(tmp_path))
    env.pop("BENCH_CALLGRIND_SHIM", None)
    script = ROOT / "benchmarks" / "_callgrind_echo.py"
    command = [sys.executable, str(script), "client", "--warmup", "2", "--calls", "7"]
    subprocess.run(command, env=env, check=True, timeout=120, stdin=subprocess.DEVNULL)
    assert sorted(os.listdir(tmp_path)) == ["client-window.prof", "server-window.prof"]
    client = {name: calls[1] for (_, _, name), calls in _stats(tmp_path / "client-window.prof")}
    # the window's 7 calls (a coroutine counts once per resumption), not the warm-up's two
    # or the marking calls: 9 or 8 calls would not divide by 7
    assert client["call_tool"] % 7 == 0 and client["call_tool"] <= 7 * 8
    server = _stats(tmp_path / "server-window.prof")
    assert any("_echo_server.py" not in path for (path, _, _), _ in server)  # the loop's work


def _stats(path: Path) -> list[tuple[tuple[str, int, str], tuple[int, ...]]]:
    return [(key, value[:2]) for key, value in pstats.Stats(str(path)).stats.items()]  # type: ignore[attr-defined]
