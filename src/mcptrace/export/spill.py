"""The batch processors in front of the spool: they spill to disk instead of dropping when
their queue is full, and the span processor queues spans already encoded.

Usage::

    SpillingBatchSpanProcessor(SpoolSpanExporter(spool_dir))   # like BatchSpanProcessor

The SDK's batch processors drop an item ("Queue full, dropping Span.") when the program
produces faster than the export thread drains.  In front of the spool the export is a local
disk write, never a network wait, so the right answer to a full queue is to write a batch
right away on the producing thread: the program slows down for the length of one disk write
instead of losing telemetry.  Where the SDK's internals differ from the version this was
written against, these behave exactly like the SDK's processors.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from mcptrace.export.direct_logs import DirectLogRecord
from mcptrace.export.log_text import EncodedLog
from mcptrace.export.otlp_json import EncodedSpan


def _spill_if_full(processor: Any) -> None:
    batch = getattr(processor, "_batch_processor", None)
    queue = getattr(batch, "_queue", None)
    limit = getattr(batch, "_max_queue_size", None)
    if queue is None or limit is None or len(queue) < limit - 1:
        return
    try:
        from opentelemetry.sdk._shared_internal import BatchExportStrategy

        batch._export(BatchExportStrategy.EXPORT_WHILE_BATCH_EXCEEDS_THRESHOLD)  # type: ignore[union-attr]
    except (ImportError, AttributeError, TypeError):
        return  # another SDK: its own behaviour


class SpillingBatchSpanProcessor(BatchSpanProcessor):
    """In front of the spool, each span is also encoded as it ends: the queue holds its
    text (``EncodedSpan``), not the span, which the export thread would have encoded
    anyway.  The CPU is the same; the memory a full queue holds is a fraction, and the
    span's objects are freed young instead of being promoted by the cyclic GC."""

    def on_end(self, span: ReadableSpan) -> None:
        _spill_if_full(self)
        item: Any = span
        if span.context is not None and span.context.trace_flags.sampled:
            try:
                item = EncodedSpan(span)
            except Exception:  # the exporter encodes what could not be encoded here
                item = span
        super().on_end(item)


class SpillingBatchLogRecordProcessor(BatchLogRecordProcessor):
    def emit_encoded(self, item: EncodedLog) -> None:
        """Queue a record already written as spool text (direct_logs.SpoolTextLogger)."""
        _spill_if_full(self)
        self._batch_processor.emit(item)  # type: ignore[arg-type]  # the spool's exporter reads it

    def on_emit(self, log_record: Any) -> None:
        _spill_if_full(self)
        emit = getattr(getattr(self, "_batch_processor", None), "emit", None)
        if (
            type(log_record) is DirectLogRecord
            and emit is not None
            and log_record.resource is not None
        ):
            # a sensor record (export/direct_logs.py): its context is a small one of ours,
            # so the SDK's shallow copy that drops a large context is not needed
            emit(
                ReadableLogRecord(
                    log_record=log_record.log_record,
                    resource=log_record.resource,
                    instrumentation_scope=log_record.instrumentation_scope,
                    limits=log_record.limits,
                )
            )
            return
        super().on_emit(log_record)
