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

Usage::

    direct = DirectLogger.of(logger)        # None: not the SDK's Logger, use logger.emit
    direct.emit(timestamp=..., context=..., severity_number=..., attributes=..., ...)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.context import Context
from opentelemetry.sdk._logs import Logger, ReadWriteLogRecord

_SCALARS = (str, bool, int, float)


def _clean(attributes: Mapping[str, Any]) -> bool:
    """Every key a string and every value one the SDK would keep exactly as it is."""
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
