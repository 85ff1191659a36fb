"""Run under ``mcptrace run``: a child records a file open, then ends one way or another.

    python fork_endings.py HOW WORK_DIR [active]

HOW is how the child is made and how it ends (see ``ENDINGS``); ``active`` imports
opentelemetry first, so mcptrace is set up in the parent before the fork (as in an MCP
server).  The child opens ``WORK_DIR/child-HOW.txt``.  The parent prints
``{"child": pid, "exit": code}`` with the child's exit code as ``waitstatus_to_exitcode``
(or multiprocessing) gives it: a negative number is the signal that ended it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import threading
import time

HOW, WORK = sys.argv[1], sys.argv[2]
if sys.argv[3:] == ["active"]:
    import opentelemetry.trace  # noqa: F401  (mcptrace activates before this import)


def record() -> None:
    open(os.path.join(WORK, f"child-{HOW}.txt"), "w").close()


def worker(_: object = None) -> int:
    record()
    return os.getpid()


def failing_worker() -> None:
    record()
    raise RuntimeError("the worker fails")


def fork_then(end: object) -> tuple[int, int]:
    pid = os.fork()
    if pid == 0:
        record()
        end()  # type: ignore[operator]
        os._exit(99)  # not reached: every ending ends the child
    _, status = os.waitpid(pid, 0)
    return pid, os.waitstatus_to_exitcode(status)


def os_exit() -> tuple[int, int]:
    return fork_then(lambda: os._exit(7))


def sigterm_default() -> tuple[int, int]:
    pid = os.fork()
    if pid == 0:
        record()
        time.sleep(60)
        os._exit(0)
    time.sleep(1.0)  # the child has recorded; a parent or supervisor stops it
    os.kill(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
    return pid, os.waitstatus_to_exitcode(status)


def own_handler_os_exit() -> tuple[int, int]:
    def end() -> None:
        signal.signal(signal.SIGUSR1, lambda signum, frame: os._exit(9))
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(60)

    return fork_then(end)


GRACE_SECONDS = 6.0  # ≈1 s before a lazy process sets up its exporters, 1 s batches, slack


def sigkill_after_grace() -> tuple[int, int]:
    return fork_then(lambda: (time.sleep(GRACE_SECONDS), os.kill(os.getpid(), signal.SIGKILL)))


def main_sigkill_after_grace() -> tuple[int, int]:
    record()
    print(json.dumps({"child": os.getpid(), "exit": -9}), flush=True)
    time.sleep(GRACE_SECONDS)
    os.kill(os.getpid(), signal.SIGKILL)
    return 0, 0  # not reached


def from_a_thread() -> tuple[int, int]:
    """The fork is made by a thread while the main thread keeps recording."""
    result: list[tuple[int, int]] = []
    busy = threading.Event()

    def forker() -> None:
        busy.wait()
        result.append(os_exit())

    thread = threading.Thread(target=forker)
    thread.start()
    for _ in range(300):
        open(os.path.join(WORK, "burst.txt"), "w").close()
        busy.set()
    thread.join()
    return result[0]


def pty_fork() -> tuple[int, int]:
    import pty

    pid, fd = pty.fork()
    if pid == 0:
        record()
        os._exit(3)
    try:
        while os.read(fd, 1024):
            pass
    except OSError:  # EIO once the child side closes
        pass
    _, status = os.waitpid(pid, 0)
    return pid, os.waitstatus_to_exitcode(status)


def mp_process() -> tuple[int, int]:
    process = multiprocessing.get_context("fork").Process(target=worker)
    process.start()
    process.join()
    return process.pid or 0, process.exitcode or 0


def mp_failing() -> tuple[int, int]:
    process = multiprocessing.get_context("fork").Process(target=failing_worker)
    process.start()
    process.join()
    return process.pid or 0, process.exitcode or 0


def mp_pool() -> tuple[int, int]:
    with multiprocessing.get_context("fork").Pool(1) as pool:
        (pid,) = pool.map(worker, [None])
    return pid, 0


def main_os_exit() -> tuple[int, int]:
    record()
    print(json.dumps({"child": os.getpid(), "exit": 5}), flush=True)
    os._exit(5)


ENDINGS = {
    "os_exit": os_exit,
    "sigterm_default": sigterm_default,
    "own_handler_os_exit": own_handler_os_exit,
    "sigkill_after_grace": sigkill_after_grace,
    "from_a_thread": from_a_thread,
    "pty_fork": pty_fork,
    "mp_process": mp_process,
    "mp_failing": mp_failing,
    "mp_pool": mp_pool,
    "main_os_exit": main_os_exit,
    "main_sigkill_after_grace": main_sigkill_after_grace,
}

if __name__ == "__main__":
    child, code = ENDINGS[HOW]()
    print(json.dumps({"child": child, "exit": code}), flush=True)
