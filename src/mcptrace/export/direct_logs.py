"""Hand a sensor record to the SDK logger's processors as a ready-made log record.

``Logger.emit`` builds an API ``LogRecord``, wraps it in a ``ReadWriteLogRecord`` whose
attributes it copies into a ``BoundedAttributes`` (each value checked and cleaned), counts it
in the SDK's own metrics and calls the logger's processors.  The sensor's attributes are
already clean (strings, numbers, booleans, sequences of strings), so ``DirectLogger`` does
the same minus that copy: the same ``ReadWriteLogRecord`` type, the same resource, scope and
limits, the logger's own enabled switch and metrics, and **every processor registered on the
provider** (``LoggerProvider.add_log_record_processor``, the user's included) receives it in
order, as from ``Logger.emit``.  What is bypassed, exactly: the ``BoundedAttributes`` wrapper
when nothing needs it (no value-length limit, the count within the limit, every value of a
plain OTel type: otherwise the record takes the SDK's path, values cleaned and counted as
dropped as usual) and the exception attributes (a sensor record carries no exception).  The
record's attributes are its own copy, so a processor changing them changes no span event.

``SpoolTextLogger`` goes further when the spool is the only place the provider's records go
(its processors are all mcptrace's batch processors in front of spool exporters, the
``otlp`` exporter's write-ahead spool included): no log record object at all.  It writes the
record's OTLP/JSON text at once (export/log_text.py: the same function, hence the same
bytes, as the spool's encoding of an SDK record; the attribute list is the text the span
event's encoding left) and queues that text (``EncodedLog``) in the same batch processors,
which write it to the spool with the next batch: the same queue bound and spill, flush,
shutdown and shipper as any record.  Anything else (a processor added since, attributes the
SDK would clean, a value-length limit) takes ``DirectLogger``'s path.

Usage::

    direct = DirectLogger.of(logger)        # None: not the SDK's Logger, use logger.emit
    direct.emit(timestamp=..., context=..., severity_number=..., attributes=..., ...)
    text = SpoolTextLogger.of(logger)       # None: a processor other than the spool's
    text.emit(span_context=..., ...)        # False: not taken, use the direct path
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.context import Context
from opentelemetry.sdk._logs import Logger, ReadWriteLogRecord
from opentelemetry.trace import SpanContext

from mcptrace.export.log_text import EncodedLog, attributes_text, sensor_record_text
from mcptrace.export.shared import SharedAttributes

_SCALARS = (str, bool, int, float)


def _clean(attributes: Mapping[str, Any]) -> bool:
    """Every key a string and every value one the SDK would keep exactly as it is (said once
    for a ``SharedAttributes``, kept with its encoding until it changes)."""
    if type(attributes) is SharedAttributes:
        holder = attributes.encoded
        clean = holder[2]
        if clean is None:
            clean = holder[2] = _clean_pairs(attributes)
        return bool(clean)
    return _clean_pairs(attributes)


def _clean_pairs(attributes: Mapping[str, Any]) -> bool:
    for key, value in attributes.items():
        kind = type(value)
        if kind in _SCALARS and type(key) is str and key:
            continue
        if kind is tuple and value and all(type(item) is str for item in value):
            continue
        return False
    return True


class DirectLogRecord(ReadWriteLogRecord):
    """A ``ReadWriteLogRecord`` that keeps attributes already clean as they are."""

    def __post_init__(self) -> None:
        attributes = self.log_record.attributes
        limits = self.limits
        count_limit = limits.max_log_record_attributes
        if (
            attributes is not None
            and limits.max_log_record_attribute_length is None
            and (count_limit is None or len(attributes) <= count_limit)
            and _clean(attributes)
        ):
            return
        super().__post_init__()  # type: ignore[no-untyped-call]


class DirectLogger:
    def __init__(self, logger: Logger) -> None:
        self.logger = logger
        self.processor = logger._multi_log_record_processor
        self.resource = logger._resource
        self.scope = logger._instrumentation_scope
        self.limits = logger._log_record_limits
        self.metrics = logger._logger_metrics
        self.enabled = logger._is_enabled

    @classmethod
    def of(cls, logger: Any) -> DirectLogger | None:
        """For the SDK's own ``Logger``; None for any other (another SDK, a no-op logger)."""
        if type(logger) is not Logger:
            return None
        try:
            return cls(logger)
        except AttributeError:  # an SDK whose internals differ: its own emit
            return None

    def emit(
        self,
        *,
        timestamp: int,
        observed_timestamp: int,
        context: Context,
        severity_number: SeverityNumber,
        severity_text: str,
        attributes: Mapping[str, Any],
        event_name: str,
    ) -> None:
        if not self.enabled():
            return
        record = LogRecord(
            timestamp=timestamp,
            observed_timestamp=observed_timestamp,
            context=context,
            severity_number=severity_number,
            severity_text=severity_text,
            attributes=attributes,
            event_name=event_name,
        )
        writable = DirectLogRecord(
            log_record=record,
            resource=self.resource,
            instrumentation_scope=self.scope,
            limits=self.limits,
        )
        self.metrics.emit_log()
        self.processor.on_emit(writable)


class SpoolTextLogger:
    """Writes a logger's records as spool text when the spool is their only destination."""

    def __init__(self, logger: Logger, processors: tuple[Any, ...]) -> None:
        self.multi = logger._multi_log_record_processor
        self.processors = processors  # the provider's tuple (a new one when one is added)
        self.queues = [processor.emit_encoded for processor in processors]
        self.resource = logger._resource
        self.scope = logger._instrumentation_scope
        self.count_limit = logger._log_record_limits.max_log_record_attributes
        self.metrics = logger._logger_metrics
        self.enabled = logger._is_enabled

    @classmethod
    def of(cls, logger: Any) -> SpoolTextLogger | None:
        """For the SDK's ``Logger`` whose every processor writes the spool; None otherwise."""
        from mcptrace.export.spill import SpillingBatchLogRecordProcessor
        from mcptrace.export.spool import SpoolLogExporter

        if type(logger) is not Logger:
            return None
        try:
            processors = logger._multi_log_record_processor._log_record_processors
            if logger._log_record_limits.max_log_record_attribute_length is not None:
                return None
            if type(processors) is not tuple or not processors:
                return None
            for processor in processors:
                if type(processor) is not SpillingBatchLogRecordProcessor:
                    return None
                exporter = getattr(processor._batch_processor, "_exporter", None)
                if type(exporter) is not SpoolLogExporter:
                    return None
            return cls(logger, processors)
        except AttributeError:  # an SDK whose internals differ
            return None

    def emit(
        self,
        *,
        timestamp: int,
        observed_timestamp: int,
        span_context: SpanContext | None,
        severity_number: int,
        severity_text: str,
        attributes: Mapping[str, Any],
        event_name: str,
    ) -> bool:
        """Queue the record's text; False (nothing done) when it must take another path."""
        if self.multi._log_record_processors is not self.processors:
            return False  # a processor was added: every one must see the record
        count_limit = self.count_limit
        if (count_limit is not None and len(attributes) > count_limit) or not _clean(attributes):
            return False
        if not self.enabled():
            return True  # the logger is switched off: nothing emitted, as Logger.emit
        if span_context is None:
            flags = trace_id = span_id = 0
        else:
            flags = int(span_context.trace_flags)
            trace_id, span_id = span_context.trace_id, span_context.span_id
        item = EncodedLog(
            self.resource,
            self.scope,
            sensor_record_text(
                timestamp,
                severity_number,
                severity_text,
                attributes_text(attributes),
                flags,
                trace_id,
                span_id,
                observed_timestamp,
                event_name,
            ),
        )
        self.metrics.emit_log()
        for queue in self.queues:
            queue(item)
        return True
