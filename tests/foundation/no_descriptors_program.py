"""Run under ``mcptrace run``: the program uses up every file descriptor for a while.

    python no_descriptors_program.py WORK_DIR

A first batch reaches the spool (its files are open); then RLIMIT_NOFILE is lowered and the
program holds every descriptor left while it records spans ``during-N`` (made with the
descriptors it keeps for that), releases them and records ``afterwards-N``.
"""

from __future__ import annotations

import os
import resource
import sys
import time

from opentelemetry import trace  # mcptrace activates before this import

work = sys.argv[1]
tracer = trace.get_tracer("no-descriptors")
with tracer.start_as_current_span("before"):
    open(os.path.join(work, "before.txt"), "w").close()
time.sleep(2.0)  # written: the spool files are open
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
held = []
try:
    while True:
        held.append(os.open(os.devnull, os.O_RDONLY))
except OSError:
    pass
for number in range(5):  # no descriptor is free: the spans' own work needs none
    with tracer.start_as_current_span(f"during-{number}"):
        time.sleep(0.01)
time.sleep(2.5)  # exported meanwhile, with no descriptor free
for fd in held:
    os.close(fd)
for number in range(5):
    with tracer.start_as_current_span(f"afterwards-{number}"):
        open(os.path.join(work, "afterwards.txt"), "w").close()
