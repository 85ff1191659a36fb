"""Runs in a child process: one sensor, one span, a flood of audit events; prints what counted.

python native_probe.py native|python EVENTS
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from mcptrace import _guard
from mcptrace.export.enrich import EnrichingSpanProcessor, register_enricher
from mcptrace.record import vocabulary as ev
from mcptrace.record.state import SUPPRESS_KEY
from mcptrace.sensor.hook import Sensor, install, native_counted
from mcptrace.sensor.lifecycle import SensorEnricher

mode, events = sys.argv[1], int(sys.argv[2])
sensor = Sensor({"file", "network", "process", "code", "native", "import"}, native=mode == "native")
register_enricher(SensorEnricher(sensor))
provider = TracerProvider()
provider.add_span_processor(EnrichingSpanProcessor([]))
install(sensor)
report: dict[str, object] = {"native": sensor.native}

span = provider.get_tracer("probe").start_span("tool")
with trace.use_span(span, end_on_exit=False), tempfile.TemporaryDirectory() as work:
    state = sensor.registry.by_span[span]
    plain = os.path.join(work, "plain.txt")
    open(plain, "w").close()
    for _ in range(events):  # past the log cap: the C hook counts these without Python
        with open(plain, "rb"):
            pass
    bytecode = os.path.join(work, "module.pyc")
    open(bytecode, "wb").close()  # a write of a .pyc is the tool's own: counted
    with open(bytecode, "rb"):  # a read-only .pyc open looks like the importer: ignored
        pass
    token = otel_context.attach(otel_context.set_value(SUPPRESS_KEY, True))
    open(plain, "rb").close()  # telemetry's own work: ignored
    otel_context.detach(token)
    with _guard.sensor_paused():
        open(plain, "rb").close()  # mcptrace's own thread: ignored
    sys.audit("open")  # malformed arguments: no error reaches the program
    sys.audit("open", 3)

    traced: list[str] = []

    def tracer(frame: object, event: str, arg: object) -> None:
        traced.append(getattr(getattr(frame, "f_code", None), "co_filename", ""))

    sys.settrace(tracer)  # type: ignore[arg-type]
    os.putenv("MCPTRACE_PROBE", "1")  # a process event under its cap: the Python hook runs
    sys.settrace(None)
    report["traced_into_mcptrace"] = sorted({f for f in traced if "mcptrace" in f})

    def in_thread() -> None:  # no span in context: attributed to the unattributed bucket
        open(plain, "rb").close()

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    root = state.root
    if sensor.recorder.drain is not None:  # the C hook keeps its counts in C until drained
        sensor.recorder.drain()
    report["file_count"] = root.counts.get(ev.FILE, 0)
    report["dropped"] = root.dropped
    report["kept"] = state.kept.get(ev.FILE, 0)
span.end()
report["native_counted"] = native_counted()
report["log_cap"] = sensor.recorder.log_cap
report["errors"] = sensor.errors
print(json.dumps(report))
