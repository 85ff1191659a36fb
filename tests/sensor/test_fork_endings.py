"""What a child records reaches the spool however the child ends, where Python runs at all.

A forked child that ends by ``os._exit`` (multiprocessing's fork workers, pty.fork, a
daemonizing server), by an unhandled exception in a worker, by SIGTERM at its default, by
its own handler calling ``os._exit``: its records are written before it goes, by the child
itself, once, and its exit code is the one the program chose.  A child killed by SIGKILL
keeps what it recorded before the last flush: records reach the spool within about 2 s
(1 s before a process that has not loaded OpenTelemetry sets it up in a thread, then the
1 s batches).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import HERE, SENSOR_SCOPE

from mcptrace.export.spool_reader import iter_requests, logs_in
from mcptrace.record import vocabulary as ev
from support import PYTHON, run_under_mcptrace

pytestmark = pytest.mark.slow

EXPECTED_EXIT = {
    "os_exit": 7,
    "sigterm_default": -15,
    "own_handler_os_exit": 9,
    "from_a_thread": 7,
    "pty_fork": 3,
    "mp_process": 0,
    "mp_failing": 1,
    "mp_pool": 0,
    "main_os_exit": 5,
}


def child_opens(spool: Path, path: str) -> list[int]:
    """The pid of the writer of each log record of an open of ``path``."""
    return [
        int(file.name.split("-")[2])
        for file, tree in iter_requests(spool, "logs")
        for record in logs_in(tree)
        if record.scope == SENSOR_SCOPE
        and record.event_name == ev.FILE_OPEN
        and record.attributes.get(ev.FILE_PATH) == path
    ]


def run_ending(how: str, spool: Path, work: Path, active: bool) -> tuple[int, int, int]:
    command = [PYTHON, str(HERE / "fork_endings.py"), how, str(work)]
    result = run_under_mcptrace([*command, *(["active"] if active else [])], spool, check=False)
    assert "Traceback" not in result.stderr.replace("RuntimeError: the worker fails", "") or (
        how == "mp_failing" and result.stderr.count("Traceback") == 1
    ), result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return result.returncode, report["child"], report["exit"]


@pytest.mark.parametrize("active", [False, True], ids=["lazy", "active"])
@pytest.mark.parametrize("how", sorted(EXPECTED_EXIT))
def test_a_child_writes_what_it_recorded_before_it_ends(
    how: str, active: bool, spool: Path, tmp_path: Path
) -> None:
    returncode, child, code = run_ending(how, spool, tmp_path, active)
    assert code == EXPECTED_EXIT[how]  # the program's own exit code, unchanged
    assert returncode == (5 if how == "main_os_exit" else 0)
    assert child_opens(spool, str(tmp_path / f"child-{how}.txt")) == [child]


@pytest.mark.parametrize("active", [False, True], ids=["lazy", "active"])
@pytest.mark.parametrize("how", ["sigkill_after_grace", "main_sigkill_after_grace"])
def test_a_process_killed_after_a_grace_kept_what_it_recorded(
    how: str, active: bool, spool: Path, tmp_path: Path
) -> None:
    """SIGKILL runs nothing: what was recorded a few seconds before it is on disk already,
    also in a process that never loaded OpenTelemetry itself (a plain script)."""
    returncode, child, code = run_ending(how, spool, tmp_path, active)
    assert code == -9
    assert returncode == (-9 if how.startswith("main_") else 0)
    assert child_opens(spool, str(tmp_path / f"child-{how}.txt")) == [child]
