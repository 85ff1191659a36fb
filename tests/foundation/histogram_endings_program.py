"""Run under ``mcptrace run``: records MCP operation-duration points, then ends as told.

    python histogram_endings_program.py HOW COUNT

HOW: ``return`` (the interpreter's exit), ``os_exit`` (``os._exit(0)``, as a fork worker or a
daemonizing server ends), ``sigterm`` (SIGTERM at its default, from another thread),
``fork`` (a forked child records 5 points of tool ``child`` and ends by ``os._exit(0)``; the
parent waits for it and returns).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from opentelemetry.trace import SpanContext, SpanKind, TraceFlags

from mcptrace import activation
from mcptrace.mcp.metrics import record_operation

HOW, COUNT = sys.argv[1], int(sys.argv[2])
activation.activate()
attributes = {"mcp.method.name": "tools/call", "gen_ai.tool.name": "echo", "mcp.session.id": "s"}
for index in range(COUNT):
    span = SpanContext(index + 1, index + 1, False, TraceFlags(TraceFlags.SAMPLED))
    record_operation(SpanKind.SERVER, 0.001 * (index % 40), attributes, span)
if HOW == "fork":
    child = os.fork()
    if child == 0:
        child_attributes = {**attributes, "gen_ai.tool.name": "child"}
        for _ in range(5):
            record_operation(SpanKind.SERVER, 0.5, child_attributes, None)
        os._exit(0)
    os.waitpid(child, 0)
elif HOW == "os_exit":
    os._exit(0)
elif HOW == "sigterm":
    threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGTERM)).start()
    time.sleep(30)  # ended by the signal before this
