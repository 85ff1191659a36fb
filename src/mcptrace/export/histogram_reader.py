"""The SDK's periodic reader, also exporting the plain histograms (``histograms``).

Usage::

    provider = sdk_meter_provider(lazy.histograms, [exporter], resource)
    # one MergingMetricReader per exporter, each a PeriodicExportingMetricReader that
    # also exports the plain histograms' points (lazy.histograms.decide)

At each collection (its interval, ``force_flush``, ``shutdown``) the reader hands its
exporter what the SDK collected with the plain histograms' points added to it, in their
instrumentation scope; when the SDK has nothing (the usual case: the MCP histograms are
the only instruments), a batch of their points alone.  The SDK's ``collect`` says nothing
when it found nothing, so this reader runs its own interval thread, calls ``collect``
itself and sends the histograms' points when no batch came through ``_receive_metrics``
(the SDK's hook for a reader's own handling of a batch).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import weakref
from collections.abc import Sequence
from time import time_ns
from typing import Any

from opentelemetry.sdk.metrics import Histogram as HistogramInstrument
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricsData,
    PeriodicExportingMetricReader,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.metrics.view import (
    DefaultAggregation,
    ExplicitBucketHistogramAggregation,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from mcptrace.export.histograms import PlainHistograms, ReaderState, exemplar_filter

_logger = logging.getLogger(__name__)


def _interval_from_environment() -> float:
    try:
        return float(os.environ.get("OTEL_METRIC_EXPORT_INTERVAL", 60000))
    except ValueError:
        _logger.warning("Found invalid value for export interval, using default")
        return 60000.0


class MergingMetricReader(PeriodicExportingMetricReader):
    """A ``PeriodicExportingMetricReader`` that exports the plain histograms too."""

    def __init__(
        self,
        exporter: MetricExporter,
        resource: Resource,
        export_interval_millis: float | None = None,
    ) -> None:
        interval = (
            _interval_from_environment()
            if export_interval_millis is None
            else float(export_interval_millis)
        )
        if interval <= 0:
            raise ValueError(
                f"interval value {interval} is invalid and needs to be larger than zero."
            )
        # the SDK's own interval thread would not see a collection that found nothing
        super().__init__(exporter, export_interval_millis=math.inf)
        self._resource = resource
        self._interval_millis = interval
        self._collecting = threading.RLock()
        self._received = False
        self._shutting_down = False
        self._closed = False
        self._registry: PlainHistograms | None = None
        self._state: ReaderState | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if interval < math.inf:
            self._start_thread()  # RuntimeError at interpreter exit: the caller's fallback
            if hasattr(os, "register_at_fork"):
                restart = weakref.WeakMethod(self._start_thread)

                def after_in_child() -> None:
                    method = restart()
                    if method is not None:
                        method()

                os.register_at_fork(after_in_child=after_in_child)

    @property
    def takes_plain_histograms(self) -> bool:
        """The SDK would aggregate histograms as explicit buckets on their advisory bounds."""
        preferred = getattr(self._exporter, "_preferred_aggregation", None) or {}
        aggregation = preferred.get(HistogramInstrument)
        if aggregation is None or type(aggregation) is DefaultAggregation:
            return True
        return (
            type(aggregation) is ExplicitBucketHistogramAggregation
            and getattr(aggregation, "_boundaries", None) is None
            and getattr(aggregation, "_record_min_max", True) is True
        )

    @property
    def histogram_temporality_is_cumulative(self) -> bool:
        preferred = getattr(self._exporter, "_preferred_temporality", None) or {}
        temporality = preferred.get(HistogramInstrument, AggregationTemporality.CUMULATIVE)
        return bool(temporality is not AggregationTemporality.DELTA)

    def attach(self, registry: PlainHistograms, state: ReaderState) -> None:
        self._registry, self._state = registry, state

    def _start_thread(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            name="OtelPeriodicExportingMetricReader", target=self._ticker_loop, daemon=True
        )
        self._thread.start()

    def _ticker_loop(self) -> None:
        interval = self._interval_millis / 1e3
        while not self._stop.wait(interval):
            self.collect_and_export(self._export_timeout_millis)

    def collect_and_export(self, timeout_millis: float) -> None:
        """One collection: the SDK's batch with the histograms' points, or theirs alone."""
        with self._collecting:
            if self._closed:  # its exporter is shut down
                return
            self._received = False
            try:
                self.collect(timeout_millis=timeout_millis)
            except Exception:  # the SDK's own failure (a timeout): still export ours
                _logger.warning("Metric collection failed", exc_info=True)
            if not self._received:
                alone = self._merged(None)
                if alone is not None:
                    super()._receive_metrics(alone, timeout_millis=timeout_millis)

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        self._received = True
        merged = self._merged(metrics_data) or metrics_data
        super()._receive_metrics(merged, timeout_millis=timeout_millis, **kwargs)

    def _merged(self, metrics_data: MetricsData | None) -> MetricsData | None:
        registry, state = self._registry, self._state
        if registry is None or state is None:
            return metrics_data
        collected = registry.collect(state, time_ns())
        if not collected:
            return metrics_data
        ours: dict[InstrumentationScope, list[Any]] = {}
        for (name, version), metric in collected:
            ours.setdefault(InstrumentationScope(name, version), []).append(metric)
        if metrics_data is None or not metrics_data.resource_metrics:
            scopes = [
                ScopeMetrics(scope=scope, metrics=metrics, schema_url=scope.schema_url or "")
                for scope, metrics in ours.items()
            ]
            return MetricsData(
                resource_metrics=[
                    ResourceMetrics(
                        resource=self._resource,
                        scope_metrics=scopes,
                        schema_url=self._resource.schema_url,
                    )
                ]
            )
        first, *rest = metrics_data.resource_metrics
        scope_metrics = []
        for scoped in first.scope_metrics:  # the SDK's metrics of the same scope: one list
            extra = ours.pop(scoped.scope, None)
            if extra:
                scoped = ScopeMetrics(
                    scope=scoped.scope,
                    metrics=[*scoped.metrics, *extra],
                    schema_url=scoped.schema_url,
                )
            scope_metrics.append(scoped)
        scope_metrics.extend(
            ScopeMetrics(scope=scope, metrics=metrics, schema_url=scope.schema_url or "")
            for scope, metrics in ours.items()
        )
        merged = ResourceMetrics(
            resource=first.resource, scope_metrics=scope_metrics, schema_url=first.schema_url
        )
        return MetricsData(resource_metrics=[merged, *rest])

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        self.collect_and_export(timeout_millis)
        self._exporter.force_flush(timeout_millis=timeout_millis)
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        with self._collecting:
            if self._shutting_down:
                _logger.warning("Can't shutdown multiple times")
                return
            self._shutting_down = True
        deadline = time_ns() + timeout_millis * 10**6
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(0.0, (deadline - time_ns()) / 1e9))
        # the SDK's reader: one last collection before shutting down; none after it
        self.collect_and_export(max(0.0, (deadline - time_ns()) / 1e6))
        with self._collecting:
            self._closed = True
        super().shutdown(timeout_millis=max(0.0, (deadline - time_ns()) / 1e6), **kwargs)


def sdk_meter_provider(
    histograms: PlainHistograms,
    exporters: Sequence[MetricExporter],
    resource: Resource,
    export_interval_millis: float | None = None,
) -> SdkMeterProvider:
    """The SDK's provider with a merging reader per exporter, the histograms' mode decided."""
    readers = [
        MergingMetricReader(exporter, resource, export_interval_millis=export_interval_millis)
        for exporter in exporters
    ]
    provider = SdkMeterProvider(resource=resource, metric_readers=readers, shutdown_on_exit=False)
    histograms.decide(readers, exemplar_filter())
    return provider


__all__ = ["MergingMetricReader", "sdk_meter_provider"]
