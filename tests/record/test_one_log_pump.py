"""MCP's own log records (sessions, inventory, pinning) leave through the record stage's one
log pump: made on the producer's thread, emitted on the pump's, with the producer's span."""

from __future__ import annotations

from pathlib import Path

from support import PYTHON, logs, run_under_mcptrace

SCRIPT = """
import sys, threading
import mcp  # activates mcptrace's providers (the import of mcp does)
from opentelemetry import trace
from opentelemetry._logs import get_logger_provider, SeverityNumber
from opentelemetry.sdk._logs import LogRecordProcessor
from mcptrace.mcp.events import emit_event
from mcptrace.record.recorder import active

class Threads(LogRecordProcessor):
    def __init__(self):
        self.seen = []
    def on_emit(self, record):
        name = record.log_record.event_name or ""
        if name.startswith("test.pump"):
            self.seen.append((name, threading.current_thread().name))
    def shutdown(self):
        pass
    def force_flush(self, timeout_millis=30000):
        return True

threads = Threads()
get_logger_provider().add_log_record_processor(threads)
tracer = trace.get_tracer("test")
with tracer.start_as_current_span("producer") as span:
    emit_event("test.pump.in-span", {"k": "v", "none": None}, body="one")
    sys.stderr.write("span=%032x/%016x\\n" % (span.get_span_context().trace_id,
                                              span.get_span_context().span_id))
emit_event("test.pump.warn", {"k": "w"}, severity=SeverityNumber.WARN)
pump = active()[1].pump
pump.flush()  # what the pump's thread does on its next wake-up
sys.stderr.write("emitted=" + repr(threads.seen) + "\\n")
pump.stop()  # as at exit: the pump's last flush is behind it
emit_event("test.pump.after-stop", {"k": "late"})
sys.stderr.write("after=" + repr(threads.seen[2:]) + "\\n")
"""


def _line(stderr: str, prefix: str) -> str:
    return next(line for line in stderr.splitlines() if line.startswith(prefix))[len(prefix) :]


def test_mcp_records_go_through_the_pump_with_their_span(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    result = run_under_mcptrace([PYTHON, "-c", SCRIPT], spool)
    trace_id, span_id = _line(result.stderr, "span=").split("/")
    emitted = _line(result.stderr, "emitted=")  # by the flush above or the pump's thread
    assert "test.pump.in-span" in emitted and "test.pump.warn" in emitted
    assert "after=[('test.pump.after-stop', 'MainThread')]" in result.stderr
    by_name = {r.event_name: r for r in logs(spool) if r.event_name.startswith("test.pump")}
    assert sorted(by_name) == ["test.pump.after-stop", "test.pump.in-span", "test.pump.warn"]
    in_span = by_name["test.pump.in-span"]
    assert (in_span.trace_id, in_span.span_id) == (trace_id, span_id)
    assert in_span.attributes == {"k": "v"}
    assert in_span.body == "one"
    assert in_span.scope == "mcptrace.mcp"
    warn = by_name["test.pump.warn"]
    assert (warn.severity_number, warn.severity_text) == (13, "WARN")
    assert warn.span_id in ("", None) or set(warn.span_id) == {"0"}


PRODUCER_THREAD = """
import sys, threading, time
import mcp
from opentelemetry._logs import get_logger_provider
from opentelemetry.sdk._logs import LogRecordProcessor
from mcptrace.mcp.events import emit_event

class Threads(LogRecordProcessor):
    def __init__(self):
        self.seen = []
    def on_emit(self, record):
        if (record.log_record.event_name or "").startswith("test.pump"):
            self.seen.append(threading.current_thread().name)
    def shutdown(self):
        pass
    def force_flush(self, timeout_millis=30000):
        return True

threads = Threads()
get_logger_provider().add_log_record_processor(threads)
emit_event("test.pump.background", {"k": "v"})
deadline = time.monotonic() + 10
while not threads.seen and time.monotonic() < deadline:
    time.sleep(0.01)
sys.stderr.write("threads=" + ",".join(threads.seen) + "\\n")
"""


def test_the_pump_thread_emits_them_not_the_producer(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    result = run_under_mcptrace([PYTHON, "-c", PRODUCER_THREAD], spool)
    assert _line(result.stderr, "threads=") == "mcptrace-sensor-logs"
    assert [r.event_name for r in logs(spool) if r.event_name.startswith("test.pump")] == [
        "test.pump.background"
    ]
