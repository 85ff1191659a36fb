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

import copy
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from mcptrace.export.direct_logs import DirectLogRecord
from mcptrace.export.log_text import EncodedLog, encoded
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
    """Like the span processor, each record is queued as its spool text (``EncodedLog``),
    written as it is emitted instead of by the export thread: a queue of records waiting
    for the next batch (a server's ≈800 module records at once when start-up settles, on a
    cold cache) holds their text, ≈0.6 KB each, not the SDK's record objects (≈1.5 KB)."""

    def emit_encoded(self, item: EncodedLog) -> None:
        """Queue a record already written as spool text (direct_logs.SpoolTextLogger)."""
        _spill_if_full(self)
        self._batch_processor.emit(item)  # type: ignore[arg-type]  # the spool's exporter reads it

    def on_emit(self, log_record: Any) -> None:
        _spill_if_full(self)
        emit = getattr(getattr(self, "_batch_processor", None), "emit", None)
        try:
            if emit is None or log_record.resource is None:
                raise AttributeError("_batch_processor")
            readable = _readable(log_record, log_record.log_record)
        except (AttributeError, TypeError):  # another SDK: its own behaviour
            super().on_emit(log_record)
            return
        item: Any
        try:
            item = encoded(readable)  # text: it holds no context, no reference to the record
        except Exception:  # the exporter encodes what could not be encoded here
            item = readable
            if type(log_record) is not DirectLogRecord:
                # the SDK's shallow copy, dropping a possibly large context (a sensor
                # record's is a small one of ours)
                record = copy.copy(log_record.log_record)
                record.context = Context()
                item = _readable(log_record, record)
        emit(item)


def _readable(log_record: Any, record: Any) -> ReadableLogRecord:
    return ReadableLogRecord(
        log_record=record,
        resource=log_record.resource,
        instrumentation_scope=log_record.instrumentation_scope,
        limits=log_record.limits,
    )
