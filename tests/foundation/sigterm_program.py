"""Run under ``mcptrace run``: SIGTERM arrives while the program records a burst.

    python sigterm_program.py HOW WORK_DIR

HOW:
  burst         the main thread opens files in spans without pause; a thread sends SIGTERM
                after 1 s.  ``WORK_DIR/count`` is how many were opened before it.
  in_spool_write  SIGTERM arrives while this thread is inside a spool write (it holds the
                spool writer's lock, as a batch written on the producing thread does)
  set_back_to_default  the program's own handler, then SIG_DFL set back, then SIGTERM
  handler_reraises     the program's handler sets SIG_DFL and sends SIGTERM again
                ``WORK_DIR/seen``: what signal.getsignal said at the program's start
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from opentelemetry import trace  # mcptrace activates before this import

from mcptrace import activation

HOW, WORK = sys.argv[1], sys.argv[2]
tracer = trace.get_tracer("sigterm")
with tracer.start_as_current_span("first work"):
    open(os.path.join(WORK, "first.txt"), "w").close()
time.sleep(1.5)  # written: the spool files are open


def terminate_soon() -> None:
    time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


if HOW == "burst":
    threading.Thread(target=terminate_soon, daemon=True).start()
    count = 0
    counter = os.open(os.path.join(WORK, "count"), os.O_WRONLY | os.O_CREAT, 0o600)
    while True:
        with tracer.start_as_current_span(f"burst {count}"):
            open(os.path.join(WORK, "burst.txt"), "w").close()
        count += 1
        os.pwrite(counter, f"{count:>12}".encode(), 0)  # one call: never seen half done
elif HOW in ("set_back_to_default", "handler_reraises"):
    seen = signal.getsignal(signal.SIGTERM)
    with open(os.path.join(WORK, "seen"), "w") as handle:
        handle.write("SIG_DFL" if seen is signal.SIG_DFL else repr(seen))

    def reraise(signum: int, frame: object) -> None:  # as uvicorn ends after its shutdown
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, reraise)
    if HOW == "set_back_to_default":  # asyncio's remove_signal_handler does this
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with tracer.start_as_current_span("last work"):
        open(os.path.join(WORK, "last.txt"), "w").close()
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(60)
elif HOW == "in_spool_write":
    telemetry = activation.telemetry()
    assert telemetry is not None
    (writer,) = [exporter.writer for exporter in telemetry.exporters["traces"]]
    with writer._lock:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(60)
sys.exit(0)  # not reached
