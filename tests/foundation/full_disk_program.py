"""Run under ``mcptrace run``: the spool's disk fills up while the program runs.

    python full_disk_program.py WORK_DIR

After a first batch reaches the spool, the program limits the size of the files it writes
(RLIMIT_FSIZE, 1 KiB: every spool file is past it, so each write fails with EFBIG as on a
full disk; Python ignores SIGXFSZ), then records spans ``after-N`` and runs on.
``WORK_DIR/done`` says it got to its end.
"""

from __future__ import annotations

import os
import resource
import sys
import time

from opentelemetry import trace  # mcptrace activates before this import

work = sys.argv[1]
tracer = trace.get_tracer("full-disk")
for number in range(3):
    with tracer.start_as_current_span(f"before-{number}"):
        open(os.path.join(work, "before.txt"), "w").close()
time.sleep(2.0)  # written: the spool files are past 1 KiB
resource.setrlimit(resource.RLIMIT_FSIZE, (1024, resource.RLIM_INFINITY))
for number in range(20):
    with tracer.start_as_current_span(f"after-{number}"):
        open(os.path.join(work, "after.txt"), "w").close()
time.sleep(2.5)  # exported (and, with an endpoint, sent) meanwhile
fd = os.open(os.path.join(work, "done"), os.O_WRONLY | os.O_CREAT, 0o600)
os.close(fd)
