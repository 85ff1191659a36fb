"""Run under ``mcptrace run``: record a file open, fork, and record another in the child.

    python fork_after_recording.py WORK_DIR

The parent prints ``{"parent": pid, "child": pid, "pending_at_fork": n, "status": s}``.
"""

from __future__ import annotations

import json
import os
import sys

from opentelemetry import trace

from mcptrace.sensor.hook import installed


def main(work: str) -> None:
    sensor = installed()
    if sensor is None:
        raise SystemExit("the sensor is not installed: run this under `mcptrace run`")
    tracer = trace.get_tracer("fork-test")
    span = tracer.start_span("parent work")
    # The log pump's lock is held across the fork, so the parent's record is still pending
    # (not yet a log record) when the child is made: a child that kept the parent's buffers
    # would emit it a second time at its exit.
    with trace.use_span(span), sensor.recorder.pump.lock:
        open(os.path.join(work, "before-fork.txt"), "w").close()
        pending = len(sensor.recorder.pending)
        pid = os.fork()
    if pid == 0:  # the child exits normally: its atexit flush is what is under test
        with tracer.start_as_current_span("child work"):
            open(os.path.join(work, "in-child.txt"), "w").close()
        sys.exit(0)
    _, status = os.waitpid(pid, 0)
    span.end()
    report = {"parent": os.getpid(), "child": pid, "pending_at_fork": pending, "status": status}
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
