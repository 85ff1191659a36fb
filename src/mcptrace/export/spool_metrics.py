"""The spool's metric exporter, apart from ``spool`` because it loads the metrics SDK.

Usage::

    reader = PeriodicExportingMetricReader(SpoolMetricExporter(spool_dir))

A process loads the metrics SDK only when it first measures something
(``lazy_metrics``); the span and log exporters of ``spool`` need none of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData

from mcptrace.config import Signal
from mcptrace.export.spool import SpoolListener, _SpoolExporterBase


class SpoolMetricExporter(_SpoolExporterBase, MetricExporter):
    signal: Signal = "metrics"

    def __init__(
        self,
        spool_dir: Path | None = None,
        max_file_bytes: int | None = None,
        listener: SpoolListener | None = None,
    ) -> None:
        MetricExporter.__init__(self)
        _SpoolExporterBase.__init__(self, spool_dir, max_file_bytes, listener)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        return (
            MetricExportResult.SUCCESS if self._write(metrics_data) else MetricExportResult.FAILURE
        )

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.writer.close()

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True
