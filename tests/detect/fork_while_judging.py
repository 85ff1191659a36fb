"""Run under ``mcptrace run``: fork while another thread is inside mcptrace's judging.

    python fork_while_judging.py HOME

A helper thread holds the locks the log thread takes while it loads or compiles detection
rules, and those of the spool writers (as those threads do when a tool forks at that
moment); the main thread forks, and the child
reads a key and execs ``/bin/true``, which makes mcptrace judge the child's records before
the image goes.  The parent prints ``{"child_exited": bool, "status": n}``: a child stuck
on a lock the parent's thread held at the fork never exits.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import threading
import time

from opentelemetry import trace


def hold(locks: list[threading.Lock], held: threading.Event, release: threading.Event) -> None:
    for lock in locks:
        lock.acquire()
    held.set()
    release.wait()
    for lock in locks:
        lock.release()


def main(home: str) -> None:
    trace.get_tracer("fork-test").start_span("activate").end()  # mcptrace starts lazily
    stage = getattr(sys.modules.get("mcptrace.policy.detect_stage"), "_installed", None)
    if stage is None:
        raise SystemExit("detections are not installed: run this under `mcptrace run`")
    detector = stage.detector()
    assert detector is not None
    held, release = threading.Event(), threading.Event()
    # ... and the spool writers' locks, as an exporter thread writing a batch holds them
    writers = [o for o in gc.get_objects() if type(o).__name__ == "SpoolWriter"]
    assert writers
    locks = [stage._lock, detector._lock, *(writer._lock for writer in writers)]
    helper = threading.Thread(target=hold, args=(locks, held, release))
    helper.start()
    held.wait()
    pid = os.fork()
    if pid == 0:
        with open(os.path.join(home, ".ssh", "id_rsa")) as key:
            key.read()
        os.execv("/bin/true", ["true"])
    release.set()
    helper.join()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            print(json.dumps({"child_exited": True, "status": status}))
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    print(json.dumps({"child_exited": False, "status": None}))


if __name__ == "__main__":
    main(sys.argv[1])
