"""Tracer, logger and meter providers wired to the exporters the settings choose.

Usage::

    telemetry = build_telemetry(settings, default_service_name="my-server")
    telemetry.install()            # sets the global providers
    telemetry.shutdown()           # flushes everything (also registered at exit)

Exporter names follow ``OTEL_{TRACES,LOGS,METRICS}_EXPORTER``: ``otlp`` (grpc or
http/protobuf by ``OTEL_EXPORTER_OTLP_PROTOCOL``, spooling failed batches), ``mcptrace_spool``,
``console`` (stderr: stdout is a stdio server's JSON-RPC channel), ``none``, or any installed
exporter entry point.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    LogRecordExporter,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from mcptrace import __version__
from mcptrace.config import SPOOL_EXPORTER, Settings, Signal
from mcptrace.export.enrich import EnrichingSpanProcessor
from mcptrace.export.failover import (
    Collector,
    FailoverLogExporter,
    FailoverMetricExporter,
    FailoverSpanExporter,
    collector_address,
)
from mcptrace.export.spool import SpoolLogExporter, SpoolMetricExporter, SpoolSpanExporter


class ExporterError(ValueError):
    """An exporter name that cannot be built; the message is one line for the user."""


def _otlp(signal: Signal, protocol: str) -> Any:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import (  # type: ignore[assignment]
            OTLPLogExporter,
        )
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
            OTLPMetricExporter,
        )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    return {"traces": OTLPSpanExporter, "logs": OTLPLogExporter, "metrics": OTLPMetricExporter}[
        signal
    ]()


_SPOOL = {"traces": SpoolSpanExporter, "logs": SpoolLogExporter, "metrics": SpoolMetricExporter}
_FAILOVER = {
    "traces": FailoverSpanExporter,
    "logs": FailoverLogExporter,
    "metrics": FailoverMetricExporter,
}


def build_exporter(
    signal: Signal,
    name: str,
    settings: Settings,
    collectors: dict[tuple[str, int], Collector] | None = None,
) -> Any:
    """``collectors``: the OTLP exporters built with one dict share a ``Collector`` per
    address (a collector found down sends every signal to the spool at once)."""
    spool = _SPOOL[signal]
    if name == SPOOL_EXPORTER:
        return spool(settings.spool_dir, settings.spool_max_file_bytes)
    if name == "otlp":
        fallback = spool(settings.spool_dir, settings.spool_max_file_bytes)
        address = collector_address(settings.endpoint_for(signal), settings.protocol)
        collectors = {} if collectors is None else collectors
        collector = collectors.setdefault(address, Collector(address))
        return _FAILOVER[signal](_otlp(signal, settings.protocol), fallback, collector)
    if name == "console":
        console: dict[str, Any] = {
            "traces": ConsoleSpanExporter,
            "logs": ConsoleLogRecordExporter,
            "metrics": ConsoleMetricExporter,
        }
        return console[signal](out=sys.stderr)
    found = entry_points(group=f"opentelemetry_{signal}_exporter", name=name)
    for entry in found:
        return entry.load()()
    raise ExporterError(
        f"mcptrace: OTEL_{signal.upper()}_EXPORTER: no exporter named {name!r} is installed; "
        f"use otlp, {SPOOL_EXPORTER}, console or none"
    )


@dataclass
class Telemetry:
    tracer_provider: TracerProvider
    logger_provider: LoggerProvider
    meter_provider: MeterProvider
    exporters: dict[str, list[Any]] = field(default_factory=dict)

    def install(self) -> None:
        trace.set_tracer_provider(self.tracer_provider)
        set_logger_provider(self.logger_provider)
        metrics.set_meter_provider(self.meter_provider)

    def force_flush(self, timeout_millis: int = 10_000) -> None:
        self.tracer_provider.force_flush(timeout_millis)
        self.logger_provider.force_flush(timeout_millis)
        self.meter_provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()
        self.meter_provider.shutdown()


def build_resource(settings: Settings, default_service_name: str | None) -> Resource:
    attributes: dict[str, Any] = {
        "telemetry.distro.name": "mcptrace",
        "telemetry.distro.version": __version__,
    }
    service_name = settings.service_name or default_service_name
    if service_name:
        attributes["service.name"] = service_name
    # Resource.create merges OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME on top.
    return Resource.create(attributes)


def build_telemetry(settings: Settings, default_service_name: str | None = None) -> Telemetry:
    """Providers for all three signals; an exporter that fails to build raises ExporterError."""
    resource = build_resource(settings, default_service_name)
    collectors: dict[tuple[str, int], Collector] = {}
    chosen: dict[str, list[Any]] = {
        signal: [
            build_exporter(signal, name, settings, collectors)
            for name in settings.exporter_for(signal)
        ]
        for signal in ("traces", "logs", "metrics")
    }
    readers: list[MetricReader] = [
        PeriodicExportingMetricReader(exporter) for exporter in chosen["metrics"]
    ]
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    tracer_provider = TracerProvider(resource=resource)
    # One processor in front of the exporters, so enrichers (MCP attributes, the sensor's
    # events) are merged into each span before any exporter sees it.
    tracer_provider.add_span_processor(
        EnrichingSpanProcessor(
            [
                BatchSpanProcessor(span_exporter, meter_provider=meter_provider)
                for span_exporter in chosen["traces"]
            ]
        )
    )
    logger_provider = LoggerProvider(resource=resource)
    for log_exporter in chosen["logs"]:
        logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(log_exporter, meter_provider=meter_provider)
        )
    return Telemetry(tracer_provider, logger_provider, meter_provider, chosen)


__all__ = [
    "ExporterError",
    "LogRecordExporter",
    "MetricExporter",
    "SpanExporter",
    "Telemetry",
    "build_exporter",
    "build_telemetry",
]
