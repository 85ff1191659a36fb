"""The floor under any OpenTelemetry instrumentation of an mcp 2.x program, without mcptrace.

Two floors, each the least that an instrumentation built on the OTel SDK must do to
deliver what the issues ask for:

* ``install()``, for round trips: the SDK's ``TracerProvider`` (which makes mcp 2.x's own
  spans real: one per message sent, one per message handled, with ``_meta`` context
  propagation) and a ``BatchSpanProcessor`` whose exporter only encodes each batch to binary
  OTLP protobuf (written to a scratch file: no JSON, no network).  With
  ``exporter="no-op"`` the batch processor's exporter drops each batch: issue 20's floor
  (its "+2.6 MiB" server footprint), without protobuf's modules and message objects.
* ``install_module_records()``, for start-up with module provenance: that, plus a
  ``LoggerProvider`` that, at exit, emits one log record per loaded module file (name, path,
  and a fixed stand-in for the hash: no hashing, no cache, no RECORD lookup) to an exporter
  that keeps them in memory: not even encoded (mcptrace's own spool needs no protobuf, so
  the floor carries none; no spans are sent during start-up, so the span encoder never
  loads either).

The benchmarks run them as extra variants: a floor's ratio to plain Python is the part of a
figure that no instrumentation on these dependencies can remove.
"""

from __future__ import annotations

import atexit
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

STAND_IN_SHA256 = "0" * 64


class _ScratchFile:
    """Where a floor's encoded batches go: an unlinked file that lives as long as the process
    (concatenated serialized requests, which parse back as one merged request)."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed at process exit

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        self.file.flush()


class SpanFileExporter(_ScratchFile, SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        self.file.write(encode_spans(spans).SerializeToString())
        return SpanExportResult.SUCCESS


class NoOpSpanExporter(SpanExporter):
    """Drops every batch: the SDK's span pipeline with nothing after it (issue 20's floor)."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class KeptLogExporter(LogRecordExporter):
    """Keeps the records it is given: the SDK's work without any encoding."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        self.records.extend(batch)
        return LogRecordExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        pass


def install(service_name: str, exporter: str = "protobuf") -> SpanExporter:
    """The round-trip floor; ``exporter`` is "protobuf" (``SpanFileExporter``) or "no-op"."""
    resource = Resource.create({"service.name": service_name})
    provider = TracerProvider(resource=resource)
    chosen = SpanFileExporter() if exporter == "protobuf" else NoOpSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(chosen))
    trace.set_tracer_provider(provider)
    return chosen


def install_module_records(service_name: str) -> tuple[SpanExporter, KeptLogExporter]:
    spans = install(service_name)
    provider = LoggerProvider(resource=Resource.create({"service.name": service_name}))
    exporter = KeptLogExporter()
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))

    def emit_module_records() -> None:
        logger = provider.get_logger("floor")
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str):
                logger.emit(
                    timestamp=time.time_ns(),
                    attributes={
                        "mcptrace.module.name": name,
                        "file.path": path,
                        "mcptrace.module.sha256": STAND_IN_SHA256,
                    },
                    event_name="mcptrace.module.import",
                )
        provider.shutdown()
        trace_provider = trace.get_tracer_provider()
        if isinstance(trace_provider, TracerProvider):
            trace_provider.shutdown()

    atexit.register(emit_module_records)
    return spans, exporter
