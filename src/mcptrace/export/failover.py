"""Send to OTLP; when a batch still fails after the exporter's own retries, spool it.

Usage::

    exporter = FailoverSpanExporter(OTLPSpanExporter(), SpoolSpanExporter(spool_dir))

After a failure the primary is skipped for a cool-down (5 s doubling up to 60 s) so a dead
collector costs one timeout, not one per batch; every skipped batch goes to the spool, from
where ``mcptrace replay`` sends it later.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from mcptrace import _guard

Exporter = TypeVar("Exporter", SpanExporter, LogRecordExporter, MetricExporter)

_FIRST_COOLDOWN = 5.0
_MAX_COOLDOWN = 60.0


class CircuitBreaker:
    """Tracks whether the primary exporter is worth trying right now."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._cooldown = _FIRST_COOLDOWN

    def allows(self) -> bool:
        return self._clock() >= self._open_until

    def record(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self._cooldown = _FIRST_COOLDOWN
                self._open_until = 0.0
            else:
                self._open_until = self._clock() + self._cooldown
                self._cooldown = min(self._cooldown * 2, _MAX_COOLDOWN)


class _Failover(Generic[Exporter]):
    def __init__(self, primary: Exporter, fallback: Exporter) -> None:
        self.primary: Exporter = primary
        self.fallback: Exporter = fallback
        self.breaker = CircuitBreaker()
        self.spooled_batches = 0

    def _send(self, try_primary: Callable[[], bool], try_fallback: Callable[[], bool]) -> bool:
        with _guard.sensor_paused():
            if self.breaker.allows():
                try:
                    ok = try_primary()
                except Exception:  # an exporter bug must cost the batch route, not the batch
                    ok = False
                self.breaker.record(ok)
                if ok:
                    return True
            self.spooled_batches += 1
            return try_fallback()


class FailoverSpanExporter(_Failover[SpanExporter], SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = self._send(
            lambda: self.primary.export(spans) == SpanExportResult.SUCCESS,
            lambda: self.fallback.export(spans) == SpanExportResult.SUCCESS,
        )
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self.primary.shutdown()
        self.fallback.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.primary.force_flush(timeout_millis))


class FailoverLogExporter(_Failover[LogRecordExporter], LogRecordExporter):
    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        ok = self._send(
            lambda: self.primary.export(batch) == LogRecordExportResult.SUCCESS,
            lambda: self.fallback.export(batch) == LogRecordExportResult.SUCCESS,
        )
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def shutdown(self) -> None:
        self.primary.shutdown()  # type: ignore[no-untyped-call]
        self.fallback.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class FailoverMetricExporter(_Failover[MetricExporter], MetricExporter):
    def __init__(self, primary: MetricExporter, fallback: MetricExporter) -> None:
        MetricExporter.__init__(
            self,
            preferred_temporality=primary._preferred_temporality,
            preferred_aggregation=primary._preferred_aggregation,
        )
        _Failover.__init__(self, primary, fallback)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        ok = self._send(
            lambda: (
                self.primary.export(metrics_data, timeout_millis=timeout_millis)
                == MetricExportResult.SUCCESS
            ),
            lambda: self.fallback.export(metrics_data) == MetricExportResult.SUCCESS,
        )
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.primary.shutdown(timeout_millis=timeout_millis)
        self.fallback.shutdown()

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return bool(self.primary.force_flush(timeout_millis))
