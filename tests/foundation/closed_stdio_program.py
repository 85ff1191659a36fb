"""Run under ``mcptrace run``: a program that closed its stdout and stderr, then records.

    python closed_stdio_program.py WORK_DIR

After mcptrace has written its spool files (and, with an OTLP endpoint, opened its
connection), the program writes to descriptors 1 and 2: a file or socket of mcptrace's
there would take the text.  ``WORK_DIR/result.json``: what each write did.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time

work = sys.argv[1]
os.close(1)
os.close(2)

from opentelemetry import trace  # noqa: E402  (mcptrace activates before this import)

with trace.get_tracer("closed-stdio").start_as_current_span("work"):
    for number in range(3):
        open(os.path.join(work, f"recorded-{number}.txt"), "w").close()
time.sleep(2.5)  # the 1 s batches are written (and shipped) by now
with trace.get_tracer("closed-stdio").start_as_current_span("more work"):
    open(os.path.join(work, "recorded-later.txt"), "w").close()
time.sleep(1.5)
result = {}
for fd in (1, 2):
    try:
        os.write(fd, b"PROGRAM-OUTPUT\n")
        result[fd] = "written"
    except OSError as exc:
        result[fd] = errno.errorcode.get(exc.errno or 0, str(exc.errno))
with open(os.path.join(work, "result.json"), "w") as handle:
    json.dump(result, handle)
