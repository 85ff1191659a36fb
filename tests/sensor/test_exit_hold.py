"""What a program's daemon threads do while mcptrace's exit runs is recorded, or does not happen.

By mcptrace's exit (its atexit handler runs last) the program's own exit is over; only
daemon threads are left, which a plain interpreter stops within milliseconds.  mcptrace's
exit lasts longer (an activation at exit, the last records, the spool): a thread that
waits for the main thread to end and then acts (the corpus's e02 steals 0.3 s after a
short session's last call) used to act all through it, once the sensor had stopped
recording unseen: ≈50 file appends and as many connects per run here.  Each side effect
the thread manages must now be on record; the exit must still end promptly.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from mcptrace.record import vocabulary as ev
from support import PYTHON, clean_env, logs, run_under_mcptrace

LATE_ACTOR = """
import socket, sys, threading, time
marker, port = sys.argv[1], int(sys.argv[2])
def late():
    while threading.main_thread().is_alive():
        time.sleep(0.001)
    for _ in range(400):  # all through mcptrace's exit, as long as it lasts
        with open(marker, "a") as handle:
            handle.write("x\\n")
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
threading.Thread(target=late, daemon=True).start()
with open(sys.argv[3]) as handle:  # something recorded: mcptrace activates and writes at exit
    handle.read()
"""


def _recorded(spool: Path, event_name: str, key: str, value: object) -> int:
    """Actions on record: each record counts once plus the repeats folded into it."""
    total = 0
    for record in logs(spool):
        if record.event_name == event_name and record.attributes.get(key) == value:
            total += 1 + int(record.attributes.get(ev.EVENT_REPEATS, 0))
    return total


@pytest.mark.parametrize("round_number", range(3))
def test_a_daemon_thread_acting_during_mcptrace_s_exit_is_recorded_or_held(
    tmp_path: Path, round_number: int
) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted = []

    def accept() -> None:
        listener.settimeout(0.2)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                if stop.is_set():
                    return
                continue
            except OSError:
                return
            accepted.append(1)
            connection.close()

    stop = threading.Event()
    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    marker = tmp_path / "appended-late"
    readable = tmp_path / "readable.txt"
    readable.write_text("x", encoding="utf-8")
    spool = tmp_path / "spool"
    started = time.monotonic()
    try:
        run_under_mcptrace(
            [PYTHON, "-c", LATE_ACTOR, str(marker), str(port), str(readable)],
            spool,
            env=clean_env(XDG_STATE_HOME=str(tmp_path / "state")),
            timeout=60,
        )
    finally:
        stop.set()
        acceptor.join(5)
        listener.close()
    took = time.monotonic() - started
    appended = len(marker.read_text().splitlines()) if marker.exists() else 0
    opens = _recorded(spool, ev.FILE_OPEN, ev.FILE_PATH, str(marker))
    connects = _recorded(spool, ev.NETWORK_CONNECT, ev.SERVER_PORT, port)
    assert appended <= opens, (appended, opens)
    assert len(accepted) <= connects, (len(accepted), connects)
    assert took < 14, took  # the held thread does not keep the process (its hold is 15 s)


def test_threads_of_mcptrace_and_opentelemetry_are_not_held() -> None:
    """Their functions, under threading's bootstrap and context wrappers, are told apart
    from the program's."""
    import opentelemetry

    from mcptrace.sensor import exit_hold

    def outermost_first(*files: str) -> object:
        frame = None
        for name in files:  # innermost last: build f_back links outermost first
            frame = _Frame(name, frame)
        return frame

    threading_py = threading.__file__
    wrapper = str(Path(exit_hold.__file__).parent.parent / "threads.py")
    own = str(Path(exit_hold.__file__).parent / "hook.py")
    otel = next(iter(opentelemetry.__path__)) + "/sdk/_shared_internal/__init__.py"
    program = "/srv/tool.py"
    assert exit_hold._runs_own_code(outermost_first(threading_py, wrapper, own, program))
    assert exit_hold._runs_own_code(outermost_first(threading_py, threading_py, otel))
    assert not exit_hold._runs_own_code(outermost_first(threading_py, wrapper, program, own))
    assert not exit_hold._runs_own_code(outermost_first(threading_py, program, otel))


class _Frame:
    def __init__(self, filename: str, back: object) -> None:
        self.f_code = type("Code", (), {"co_filename": filename})()
        self.f_back = back


ENDS_ITSELF = """
import os, signal, sys, threading, time
def busy():
    while True:
        time.sleep(0.001)  # not audited: the open below is
        open(os.devnull).close()
threading.Thread(target=busy, daemon=True).start()
open(sys.argv[2]).close()  # something recorded: the exit has a flush to do
if sys.argv[1] == "os._exit":
    os._exit(3)
print("ready", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("ending", ["os._exit", "SIGTERM"])
def test_the_thread_that_ends_the_process_is_not_held(tmp_path: Path, ending: str) -> None:
    """``os._exit`` and a SIGTERM at its default flush in a helper thread while the thread
    that asked waits, then end the process from that thread (``os.kill`` is audited): it
    is not the program's daemon work and must not wait out the hold."""
    import signal
    import subprocess

    from support import mcptrace_cmd

    readable = tmp_path / "readable.txt"
    readable.write_text("x", encoding="utf-8")
    command = mcptrace_cmd("run", "--spool", str(tmp_path / "spool"), "--")
    process = subprocess.Popen(
        [*command, PYTHON, "-c", ENDS_ITSELF, ending, str(readable)],
        env=clean_env(XDG_STATE_HOME=str(tmp_path / "state")),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if ending == "SIGTERM":
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
            process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        returncode = process.wait(timeout=60)
        took = time.monotonic() - started
    finally:
        process.kill()
        process.wait()
    assert returncode == (3 if ending == "os._exit" else -signal.SIGTERM)
    assert took < 10, took  # the hold is 15 s
    assert _recorded(tmp_path / "spool", ev.FILE_OPEN, ev.FILE_PATH, str(readable)) >= 1
