"""SIGTERM, left at (or set back to) its default by the program, flushes what was recorded
and then ends the process by SIGTERM, as the parent expects, even in the middle of a burst
of records or of a spool write on the very thread the signal interrupts (the flush waits at
most 5 s for a lock held there, instead of for ever)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from mcptrace.export.spool_reader import ReadStats, iter_requests, iter_spans
from support import PYTHON, clean_env, mcptrace_cmd

pytestmark = pytest.mark.slow
PROGRAM = Path(__file__).resolve().parent / "sigterm_program.py"


def run(how: str, spool: Path, work: Path) -> tuple[int, float]:
    started = time.monotonic()
    result = subprocess.run(
        mcptrace_cmd("run", "--spool", str(spool), "--", PYTHON, str(PROGRAM), how, str(work)),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, time.monotonic() - started


def test_sigterm_in_a_burst_writes_what_came_before(spool: Path, tmp_path: Path) -> None:
    returncode, _ = run("burst", spool, tmp_path)
    assert returncode == -15  # `mcptrace run` passes the signal on as the child's ending
    stats = ReadStats()
    assert list(iter_requests(spool, "traces", stats))
    assert stats.malformed == 0
    names = {span.name for span in iter_spans(spool)}
    opened = int((tmp_path / "count").read_text())
    assert "first work" in names
    # every span ended before the signal is on disk (the one in flight may be too)
    assert {f"burst {n}" for n in range(opened)} <= names


def test_sigterm_inside_a_spool_write_does_not_hang(spool: Path, tmp_path: Path) -> None:
    returncode, seconds = run("in_spool_write", spool, tmp_path)
    assert returncode == -15
    assert seconds < 60  # the program sleeps 60 s after the signal: it ended before
    assert "first work" in {span.name for span in iter_spans(spool)}


@pytest.mark.parametrize("how", ["set_back_to_default", "handler_reraises"])
def test_sigterm_set_back_to_its_default_still_flushes(
    how: str, spool: Path, tmp_path: Path
) -> None:
    """The program sees SIGTERM at its default, and setting the default back (asyncio's
    remove_signal_handler, a handler that re-raises as uvicorn's does) keeps the flush."""
    returncode, seconds = run(how, spool, tmp_path)
    assert returncode == -15 and seconds < 60
    assert (tmp_path / "seen").read_text() == "SIG_DFL"
    assert {"first work", "last work"} <= {span.name for span in iter_spans(spool)}
