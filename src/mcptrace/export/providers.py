"""Tracer, logger and meter providers wired to the exporters the settings choose.

Usage::

    telemetry = build_telemetry(settings, default_service_name="my-server")
    telemetry.install()            # sets the global providers
    telemetry.shutdown()           # flushes everything (also registered at exit)

Exporter names follow ``OTEL_{TRACES,LOGS,METRICS}_EXPORTER``: ``otlp`` (the spool as a
write-ahead log, shipped from disk to the ``OTEL_EXPORTER_OTLP_*`` destination by a
``BackgroundShipper``), ``mcptrace_spool``, ``console`` (stderr: stdout is a stdio server's
JSON-RPC channel), ``none``, or any installed exporter entry point.

Batches go to disk every ``OTEL_BSP_SCHEDULE_DELAY`` / ``OTEL_BLRP_SCHEDULE_DELAY`` (1 s
unless set: a write to local disk is cheap, and it bounds what a SIGKILL can lose).
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    LogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

from mcptrace._stderr import say
from mcptrace._version import __version__
from mcptrace.config import (
    BATCH_EXPORT_SIZE,
    BATCH_QUEUE_SIZE,
    SPOOL_EXPORTER,
    Settings,
    Signal,
    batch_setting,
)
from mcptrace.export.enrich import EnrichingSpanProcessor
from mcptrace.export.lazy_metrics import LazyMeterProvider
from mcptrace.export.spill import SpillingBatchLogRecordProcessor, SpillingBatchSpanProcessor
from mcptrace.export.spool import SpoolLogExporter, SpoolSpanExporter

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider

    from mcptrace.export.shipper import BackgroundShipper
    from mcptrace.export.spool_metrics import SpoolMetricExporter

FLUSH_MILLIS = 1000  # the flush interval: what a SIGKILL can lose
QUEUE_SIZE = BATCH_QUEUE_SIZE


# thread id -> the span id its next span must have (see PresetIdGenerator)
PRESET_SPAN_IDS: dict[int, int] = {}


class PresetIdGenerator(RandomIdGenerator):
    """Random ids, except a span id a thread reserved in ``PRESET_SPAN_IDS``: a child's
    process span, whose records carry its id from before the SDK was loaded."""

    def generate_span_id(self) -> int:
        if PRESET_SPAN_IDS:
            preset = PRESET_SPAN_IDS.pop(threading.get_ident(), None)
            if preset is not None:
                return preset
        return super().generate_span_id()


class HeldExporter:
    """Keeps what a synchronous processor hands it and exports it all in one batch at flush
    or shutdown: providers built at exit, when no export thread may start (Python 3.12
    refuses new threads in atexit callbacks)."""

    def __init__(self, exporter: Any) -> None:
        self.exporter = exporter
        self.held: list[Any] = []

    def export(self, batch: Sequence[Any]) -> Any:
        self.held.extend(batch)
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        held, self.held = self.held, []
        if held:
            self.exporter.export(held)
        return True

    def shutdown(self) -> None:
        self.force_flush()
        self.exporter.shutdown()


class ExporterError(ValueError):
    """An exporter name that cannot be built; the message is one line for the user."""


_BUILT_IN = frozenset({SPOOL_EXPORTER, "otlp", "console"})


def _spool_exporter(signal: Signal) -> Any:
    if signal == "metrics":  # the metrics SDK: loaded with the first measurement
        from mcptrace.export.spool_metrics import SpoolMetricExporter

        return SpoolMetricExporter
    return SpoolSpanExporter if signal == "traces" else SpoolLogExporter


def _say(message: str) -> None:
    try:
        say(message)
    except (OSError, ValueError, AttributeError):
        pass


def build_shipper(settings: Settings, environ: dict[str, str] | None = None) -> BackgroundShipper:
    """The shipper for the signals exported over ``otlp``; ExporterError on a bad setting."""
    # imported only when there is an endpoint: a spool-only process never loads them
    from mcptrace.export.destination import Destination, DestinationError
    from mcptrace.export.shipper import BackgroundShipper

    env = dict(os.environ) if environ is None else environ
    try:
        destination = Destination.from_environment(settings, env)
    except DestinationError as exc:
        raise ExporterError(str(exc)) from None
    wanted = {s for s in ("traces", "logs", "metrics") if "otlp" in settings.exporter_for(s)}
    targets = {s: t for s, t in destination.targets.items() if s in wanted}
    return BackgroundShipper(settings.spool_dir, Destination(targets), _say)


def build_exporter(
    signal: Signal,
    name: str,
    settings: Settings,
    shipper: BackgroundShipper | None = None,
) -> Any:
    """``otlp`` writes the spool the ``shipper`` sends (see build_shipper; without one,
    the spool is only written)."""
    spool = _spool_exporter(signal)
    if name == SPOOL_EXPORTER:
        return spool(settings.spool_dir, settings.spool_max_file_bytes)
    if name == "otlp":
        if signal == "metrics":
            return _otlp_metrics(settings, shipper)
        return spool(settings.spool_dir, settings.spool_max_file_bytes, shipper)
    if name == "console":
        if signal == "metrics":
            from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

            return ConsoleMetricExporter(out=sys.stderr)
        console: dict[str, Any] = {"traces": ConsoleSpanExporter, "logs": ConsoleLogRecordExporter}
        return console[signal](out=sys.stderr)
    from importlib.metadata import entry_points  # only for names that are not built in

    found = entry_points(group=f"opentelemetry_{signal}_exporter", name=name)
    for entry in found:
        return entry.load()()
    raise ExporterError(
        f"mcptrace: OTEL_{signal.upper()}_EXPORTER: no exporter named {name!r} is installed; "
        f"use otlp, {SPOOL_EXPORTER}, console or none"
    )


def _otlp_metrics(settings: Settings, shipper: BackgroundShipper | None) -> SpoolMetricExporter:
    """A spool metric exporter with the temporality and histogram aggregation the OTLP
    metric exporter would choose from ``OTEL_EXPORTER_OTLP_METRICS_*``."""
    from opentelemetry.sdk.metrics import (
        Counter,
        Histogram,
        ObservableCounter,
        ObservableGauge,
        ObservableUpDownCounter,
        UpDownCounter,
    )
    from opentelemetry.sdk.metrics.export import AggregationTemporality
    from opentelemetry.sdk.metrics.view import (
        ExplicitBucketHistogramAggregation,
        ExponentialBucketHistogramAggregation,
    )

    from mcptrace.export.spool_metrics import SpoolMetricExporter

    exporter = SpoolMetricExporter(settings.spool_dir, settings.spool_max_file_bytes, shipper)
    preference = (
        os.environ.get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "CUMULATIVE")
        .strip()
        .upper()
    )
    delta = AggregationTemporality.DELTA
    cumulative = AggregationTemporality.CUMULATIVE
    temporality: dict[type, AggregationTemporality] = dict.fromkeys(
        (Counter, UpDownCounter, Histogram, ObservableCounter, ObservableUpDownCounter,
         ObservableGauge),
        cumulative,
    )  # fmt: skip
    if preference == "DELTA":
        temporality.update({Counter: delta, Histogram: delta, ObservableCounter: delta})
    elif preference == "LOWMEMORY":
        temporality.update({Counter: delta, Histogram: delta})
    exporter._preferred_temporality = temporality
    histogram = os.environ.get(
        "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", "explicit_bucket_histogram"
    ).strip()
    if histogram == "base2_exponential_bucket_histogram":
        exporter._preferred_aggregation = {Histogram: ExponentialBucketHistogramAggregation()}
    else:
        exporter._preferred_aggregation = {Histogram: ExplicitBucketHistogramAggregation()}
    return exporter


def _span_processor(exporter: Any, meter_provider: MeterProvider) -> BatchSpanProcessor:
    """A batch processor; in front of the spool, one that spills instead of dropping."""
    kind = SpillingBatchSpanProcessor if isinstance(exporter, SpoolSpanExporter) else None
    return (kind or BatchSpanProcessor)(
        exporter,
        meter_provider=meter_provider,
        **_batch_arguments("OTEL_BSP_"),
    )


def _log_processor(exporter: Any, meter_provider: MeterProvider) -> BatchLogRecordProcessor:
    kind = SpillingBatchLogRecordProcessor if isinstance(exporter, SpoolLogExporter) else None
    return (kind or BatchLogRecordProcessor)(
        exporter,
        meter_provider=meter_provider,
        **_batch_arguments("OTEL_BLRP_"),
    )


def _batch_arguments(prefix: str) -> dict[str, int]:
    """The batch processor's settings; a bad value (reported by config) is its default.

    The SDK raises on a non-positive value or a batch larger than the queue, which would
    switch all telemetry off for one mistyped number.
    """
    env = os.environ
    queue, _ = batch_setting(env, f"{prefix}MAX_QUEUE_SIZE", QUEUE_SIZE)
    batch, _ = batch_setting(env, f"{prefix}MAX_EXPORT_BATCH_SIZE", BATCH_EXPORT_SIZE)
    return {
        "schedule_delay_millis": batch_setting(env, f"{prefix}SCHEDULE_DELAY", FLUSH_MILLIS)[0],
        "max_queue_size": queue,
        "max_export_batch_size": min(batch, queue),
    }


@dataclass
class Telemetry:
    tracer_provider: TracerProvider
    logger_provider: LoggerProvider
    meter_provider: LazyMeterProvider
    exporters: dict[str, list[Any]] = field(default_factory=dict)
    shipper: BackgroundShipper | None = None

    def install(self) -> None:
        trace.set_tracer_provider(self.tracer_provider)
        set_logger_provider(self.logger_provider)
        metrics.set_meter_provider(self.meter_provider)

    def force_flush(self, timeout_millis: int = 10_000) -> None:
        self.tracer_provider.force_flush(timeout_millis)
        self.logger_provider.force_flush(timeout_millis)
        self.meter_provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Flush every signal to disk, then give the shipper its small fixed budget."""
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()
        self.meter_provider.shutdown()
        if self.shipper is not None:
            self.shipper.close()


def build_resource(
    settings: Settings,
    default_service_name: str | None,
    at_exit: bool = False,
    scrub: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
) -> Resource:
    """The resource of every signal; ``scrub`` (redaction, from a layer above) sees its
    attributes last: OTEL_RESOURCE_ATTRIBUTES and detectors are user data too."""
    resource = _detected_resource(settings, default_service_name, at_exit)
    if scrub is None:
        return resource
    return Resource(scrub(dict(resource.attributes)), resource.schema_url)


def _detected_resource(
    settings: Settings, default_service_name: str | None, at_exit: bool
) -> Resource:
    attributes: dict[str, Any] = {
        "telemetry.distro.name": "mcptrace",
        "telemetry.distro.version": __version__,
    }
    service_name = settings.service_name or default_service_name
    if service_name:
        attributes["service.name"] = service_name
    if at_exit or not os.environ.get("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS"):
        # what Resource.create gives with its default detector, without scanning every
        # distribution's entry points for detectors and running them on threads (which exit
        # cannot start)
        from opentelemetry.sdk.resources import OTELResourceDetector
        from opentelemetry.sdk.version import __version__ as sdk_version

        sdk = {
            "telemetry.sdk.language": "python",
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.version": sdk_version,
        }
        return Resource(sdk).merge(OTELResourceDetector().detect()).merge(Resource(attributes))
    # Resource.create merges OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME on top.
    return Resource.create(attributes)


def build_telemetry(
    settings: Settings,
    default_service_name: str | None = None,
    spool_usable: bool = True,
    at_exit: bool = False,
    scrub_resource: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
) -> Telemetry:
    """Providers for all three signals; an exporter that fails to build raises ExporterError.

    ``spool_usable`` False (start-up found the spool refused or full): nothing is shipped,
    and what the spool exporters cannot write is counted as dropped.  ``at_exit``: for a
    process that activates only as it exits: no threads (no shipper: the spool keeps what
    it writes for the next process or ``mcptrace replay``), every signal exported once, at
    shutdown.  Nothing registers at exit here: ``Telemetry.shutdown`` flushes the providers,
    then closes the shipper (activation.at_exit calls it after every part has flushed)."""
    resource = build_resource(settings, default_service_name, at_exit, scrub_resource)
    shipper = None
    shipped = any("otlp" in settings.exporter_for(s) for s in ("traces", "logs", "metrics"))
    if spool_usable and shipped and not at_exit:
        shipper = build_shipper(settings)
    chosen: dict[str, list[Any]] = {
        signal: [
            build_exporter(signal, name, settings, shipper)
            for name in settings.exporter_for(signal)
        ]
        for signal in ("traces", "logs")
    }
    metric_names = settings.exporter_for("metrics")
    if any(name not in _BUILT_IN for name in metric_names):  # an unknown name fails now
        chosen["metrics"] = [build_exporter("metrics", n, settings, shipper) for n in metric_names]

    def build_meter_provider() -> MeterProvider:
        """At the first measurement (lazy_metrics): the metrics SDK, its exporters, readers."""
        from mcptrace.export.histogram_reader import sdk_meter_provider

        if "metrics" not in chosen:
            chosen["metrics"] = [
                build_exporter("metrics", name, settings, shipper) for name in metric_names
            ]
        # the MCP duration histograms are aggregated in plain Python when every reader takes
        # the SDK's default histogram aggregation, and exported by these readers
        histograms, exporters = meter_provider.histograms, chosen["metrics"]
        try:  # at exit: no thread, one export at shutdown
            interval = math.inf if at_exit else None
            return sdk_meter_provider(histograms, exporters, resource, interval)
        except RuntimeError:  # first measured as the interpreter exits: no new threads
            return sdk_meter_provider(histograms, exporters, resource, math.inf)

    meter_provider = LazyMeterProvider(build_meter_provider)
    tracer_provider = TracerProvider(
        resource=resource, id_generator=PresetIdGenerator(), shutdown_on_exit=False
    )
    # One processor in front of the exporters, so enrichers (MCP attributes, the sensor's
    # events) are merged into each span before any exporter sees it.
    tracer_provider.add_span_processor(
        EnrichingSpanProcessor(
            [
                SimpleSpanProcessor(HeldExporter(span_exporter))  # type: ignore[arg-type]
                if at_exit
                else _span_processor(span_exporter, meter_provider)
                for span_exporter in chosen["traces"]
            ]
        )
    )
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    for log_exporter in chosen["logs"]:
        logger_provider.add_log_record_processor(
            SimpleLogRecordProcessor(HeldExporter(log_exporter))  # type: ignore[arg-type]
            if at_exit
            else _log_processor(log_exporter, meter_provider)
        )
    if shipper is not None:
        shipper.start()  # ships what earlier processes left, even before this one writes
    return Telemetry(tracer_provider, logger_provider, meter_provider, chosen, shipper)


__all__ = [
    "ExporterError",
    "LogRecordExporter",
    "SpanExporter",
    "Telemetry",
    "build_exporter",
    "build_shipper",
    "build_telemetry",
]
