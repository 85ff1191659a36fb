"""Run under ``mcptrace run``: fork while a thread holds the export layer's locks.

    python fork_while_locked.py WORK_DIR

A thread of the program's (standing for the exporter, the shipper or a span ending at
that moment) holds every lock of mcptrace's export layer while the main thread forks.  The
child records a file open and exits normally; a lock it inherited held would hang its exit
flush forever.  The parent waits for the child at most 60 s and prints
``{"child": pid, "exit": code}`` (``"hung"`` if the child did not end; it is then killed).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

from opentelemetry import trace  # mcptrace activates before this import

from mcptrace import activation, children
from mcptrace.export import enrich, progress
from mcptrace.mcp import pinning

work = sys.argv[1]
telemetry = activation.telemetry()
assert telemetry is not None, "run this under mcptrace run"
locks = [enrich._enrichers_lock, progress._claims_lock, children._ENVIRON_SWAP, pinning._lock]
locks += [
    exporter.writer._lock
    for exporters in telemetry.exporters.values()
    for exporter in exporters
    if hasattr(exporter, "writer")
]
if telemetry.shipper is not None:
    locks.append(telemetry.shipper._lock)
held, release = threading.Event(), threading.Event()


def hold() -> None:
    for lock in locks:
        lock.acquire()
    held.set()
    release.wait()
    for lock in reversed(locks):
        lock.release()


holder = threading.Thread(target=hold)
holder.start()
held.wait()
pid = os.fork()
if pid == 0:
    with trace.get_tracer("fork-while-locked").start_as_current_span("child work"):
        open(os.path.join(work, "in-child.txt"), "w").close()
    sys.exit(3)
release.set()
holder.join()
deadline = time.monotonic() + 60
code: int | str = "hung"
while time.monotonic() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        code = os.waitstatus_to_exitcode(status)
        break
    time.sleep(0.1)
else:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
print(json.dumps({"child": pid, "exit": code, "locks": len(locks)}), flush=True)
