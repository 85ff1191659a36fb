"""What the spool exporter sustains: spans/s (each with 4 events) and log records/s; and
what shipping a spooled line over OTLP/HTTP protobuf costs next to the SDK's own encoder.

Measured in this process on prebuilt SDK objects, so the figure is the exporter's own cost:
the OTLP/JSON mapping (``otlp_tree``, no protobuf) and the write of whole lines to a 0600
file.  The write-ahead log encodes a batch once, as that line; the shipper turns the line
into the protobuf request (``Sender.prepare``: parse, ``tree_to_message``, serialize), the
one step the SDK's OTLP exporter does differently (``encode_spans`` + serialize).
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
from mcptrace.export.destination import Target
from mcptrace.export.otlp_json import encode_lines
from mcptrace.export.sender import Sender
from mcptrace.export.spool import MAX_LINE_BYTES, SpoolLogExporter, SpoolSpanExporter

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


def _shipping_rate(spans: list[Any]) -> float:
    sender, target = Sender(), Target("traces", "http://127.0.0.1:4318/v1/traces")
    lines = [
        line.encode()
        for start in range(0, len(spans), BATCH)
        for line in encode_lines("traces", spans[start : start + BATCH], MAX_LINE_BYTES)
    ]
    started = time.perf_counter()
    for line in lines:
        sender.prepare(target, line)
    return len(spans) / (time.perf_counter() - started)


def _sdk_encoder_rate(spans: list[Any]) -> float:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    started = time.perf_counter()
    for start in range(0, len(spans), BATCH):
        encode_spans(spans[start : start + BATCH]).SerializeToString()
    return len(spans) / (time.perf_counter() - started)


def run(rounds: int, smoke: bool = False) -> list[Result]:
    count = 1024 if smoke else 8_192  # 16 batches a round
    spans, logs = _spans(count), _logs(count)
    directory = Path(tempfile.mkdtemp(prefix="mcptrace-bench-export-"))
    span_exporter = SpoolSpanExporter(directory, 1 << 30)
    log_exporter = SpoolLogExporter(directory, 1 << 30)
    span_rate = Result("spool exporter: spans (4 events each)", "spans/s", compare="value")
    log_rate = Result("spool exporter: log records", "records/s", compare="value")
    shipping = Result(
        "shipping: spool line to OTLP protobuf request", "spans/s", compare="value",
        note="parse the line, build and serialize the request",
    )  # fmt: skip
    encoder = Result(
        "for comparison: the SDK's OTLP encoder", "spans/s", compare="value",
        note="encode_spans + serialize, what the SDK's OTLP exporter does per batch",
    )  # fmt: skip
    for _ in range(rounds):
        span_rate.instrumented.append(_rate(span_exporter, spans))
        log_rate.instrumented.append(_rate(log_exporter, logs))
        shipping.instrumented.append(_shipping_rate(spans))
        encoder.instrumented.append(_sdk_encoder_rate(spans))
    return [span_rate, log_rate, shipping, encoder]
