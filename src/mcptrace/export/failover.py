"""Send to OTLP; when a batch still fails after the exporter's own retries, spool it.

Usage::

    exporter = FailoverSpanExporter(OTLPSpanExporter(), SpoolSpanExporter(spool_dir))

After a failure the primary is skipped for a cool-down (5 s doubling up to 60 s) so a dead
collector costs one timeout, not one per batch; every skipped batch goes to the spool, from
where ``mcptrace replay`` sends it later.

The exporters of the three signals share a ``Collector`` per address.  After a failed batch
one TCP connect tells a collector that is down from one that refused this signal (a backend
without a metrics endpoint, say): when it is down, every signal goes straight to the spool
for a while, so a process ending with its collector down pays one export timeout, not three,
before a parent's patience runs out (mcp's stdio client kills its server 4 s after closing
its stdin).  A refusal opens only the refused signal's breaker.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from mcptrace import _guard

Exporter = TypeVar("Exporter", SpanExporter, LogRecordExporter, MetricExporter)

_FIRST_COOLDOWN = 5.0
_MAX_COOLDOWN = 60.0
PROBE_TIMEOUT_SECONDS = 0.25


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


def collector_address(endpoint: str | None, protocol: str) -> tuple[str, int]:
    """Host and port of an OTLP endpoint (the exporters' defaults when there is none)."""
    default_port = 4317 if protocol == "grpc" else 4318
    if not endpoint:
        return "localhost", default_port
    parts = urlsplit(endpoint if "//" in endpoint else f"//{endpoint}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"https": 443, "http": 80}.get(parts.scheme, default_port)
    return parts.hostname or "localhost", port


class Collector:
    """Whether the collector several exporters send to accepts connections at all."""

    def __init__(self, address: tuple[str, int], clock: Callable[[], float] = time.monotonic):
        self.address = address
        self._clock = clock
        self._down_until = 0.0

    def down(self) -> bool:
        return self._clock() < self._down_until

    def probe(self) -> None:
        """After a failed batch: is the collector down (every signal spools for a
        cool-down), or did it refuse only that batch?"""
        try:
            with socket.create_connection(self.address, timeout=PROBE_TIMEOUT_SECONDS):
                return
        except OSError:
            self._down_until = self._clock() + _FIRST_COOLDOWN


class _Failover(Generic[Exporter]):
    def __init__(
        self, primary: Exporter, fallback: Exporter, collector: Collector | None = None
    ) -> None:
        self.primary: Exporter = primary
        self.fallback: Exporter = fallback
        self.breaker = CircuitBreaker()
        self.collector = collector
        self.spooled_batches = 0

    def _send(self, try_primary: Callable[[], bool], try_fallback: Callable[[], bool]) -> bool:
        with _guard.sensor_paused():
            collector = self.collector
            if self.breaker.allows() and (collector is None or not collector.down()):
                try:
                    ok = try_primary()
                except Exception:  # an exporter bug must cost the batch route, not the batch
                    ok = False
                self.breaker.record(ok)
                if ok:
                    return True
                if collector is not None:
                    collector.probe()
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
    def __init__(
        self, primary: MetricExporter, fallback: MetricExporter, collector: Collector | None = None
    ) -> None:
        MetricExporter.__init__(
            self,
            preferred_temporality=primary._preferred_temporality,
            preferred_aggregation=primary._preferred_aggregation,
        )
        _Failover.__init__(self, primary, fallback, collector)

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
