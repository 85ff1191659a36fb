"""What the spool exporter sustains: spans/s (each with 4 events) and log records/s.

Measured in this process on prebuilt SDK objects, so the figure is the exporter's own cost:
the OTLP/JSON mapping (``otlp_tree``, no protobuf) and the write of whole lines to a 0600
file.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from benchmarks.harness import Result
from mcptrace.export.spool import SpoolLogExporter, SpoolSpanExporter

BATCH = 512  # the SDK's default export batch size


def _spans(count: int) -> list[Any]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    for index in range(count):
        with tracer.start_as_current_span("tools/call echo") as span:
            span.set_attribute("mcp.method.name", "tools/call")
            span.set_attribute("gen_ai.tool.name", "echo")
            span.set_attribute("jsonrpc.request.id", str(index))
            for event in range(4):
                span.add_event("mcptrace.file.open", {"file.path": f"/tmp/f{event}", "n": event})
    return list(memory.get_finished_spans())


def _logs(count: int) -> list[Any]:
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("bench")
    for index in range(count):
        logger.emit(
            event_name="mcptrace.file.open",
            severity_number=SeverityNumber.INFO,
            attributes={"file.path": f"/tmp/file-{index}", "mcptrace.attribution": "context"},
        )
    return list(memory.get_finished_logs())


def _rate(exporter: Any, items: list[Any]) -> float:
    started = time.perf_counter()
    for start in range(0, len(items), BATCH):
        exporter.export(items[start : start + BATCH])
    return len(items) / (time.perf_counter() - started)


def run(rounds: int, smoke: bool = False) -> list[Result]:
    count = 1024 if smoke else 8_192  # 16 batches a round
    spans, logs = _spans(count), _logs(count)
    directory = Path(tempfile.mkdtemp(prefix="mcptrace-bench-export-"))
    span_exporter = SpoolSpanExporter(directory, 1 << 30)
    log_exporter = SpoolLogExporter(directory, 1 << 30)
    span_rate = Result("spool exporter: spans (4 events each)", "spans/s", compare="value")
    log_rate = Result("spool exporter: log records", "records/s", compare="value")
    for _ in range(rounds):
        span_rate.instrumented.append(_rate(span_exporter, spans))
        log_rate.instrumented.append(_rate(log_exporter, logs))
    return [span_rate, log_rate]
