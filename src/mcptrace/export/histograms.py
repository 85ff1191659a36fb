"""Explicit-bucket histograms aggregated in plain Python, exported through the SDK's readers.

Usage::

    histogram = meter_provider.histograms.histogram(scope, version, "d", "s", "what", BUCKETS)
    histogram.record(0.2, span.attributes, ("a", "b"), span.context)   # a few µs
    # at each collection, every reader of the SDK provider exports the points
    # (``histogram_reader.MergingMetricReader``), as the SDK's own histogram would

The SDK's ``Histogram.record`` costs ≈20 µs per point (an attribute frozenset, view
matching, locks, the exemplar reservoir's context lookups), paid on every MCP span end.
Here a point is a tuple of the attribute values, a dict lookup, a bisect and a few additions
under one lock.  What a reader exports is the SDK's aggregation of the same values: the
same bucket counts, sum, min and max, start and end times, cardinality limit and overflow
series, and one exemplar per bucket (the last sampled measurement in it, by the exemplar
filter of ``OTEL_METRICS_EXEMPLAR_FILTER``).  When a reader wants another aggregation for
histograms (``base2_exponential_bucket_histogram``, or bounds of its own) the histograms
record through the SDK instead (``PlainHistograms.decide``).

This module loads no metrics SDK: a process that never records never pays for it.
"""

from __future__ import annotations

import math
import os
import threading
import weakref
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from time import time_ns
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import NonRecordingSpan, SpanContext, set_span_in_context

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import Metric

    from mcptrace.export.lazy_metrics import LazyMeterProvider

# The SDK's default cardinality limit per metric and reader, and the series that takes the
# measurements of attribute sets past it (opentelemetry.sdk.metrics, _view_instrument_match).
CARDINALITY_LIMIT = 2000
OVERFLOW_ATTRIBUTES = {"otel.metric.overflow": True}
_OVERFLOW_KEY = ("otel.metric.overflow",)

# Exemplar filters, as OTEL_METRICS_EXEMPLAR_FILTER names them
TRACE_BASED, ALWAYS_ON, ALWAYS_OFF = "trace_based", "always_on", "always_off"

# (value, time_unix_nano, span_id, trace_id, names, key): the last sampled measurement of
# a bucket, with what its attributes were (an overflow point's exemplars keep them)
ExemplarValue = tuple[float, int, "int | None", "int | None", tuple[str, ...], tuple[Any, ...]]


class ApiHistogram:
    """A histogram of an OpenTelemetry API meter, recorded with ``PlainHistogram.record``'s
    arguments: the attributes ``names`` picks (absent and ``None`` ones left out), and
    ``span_context`` as the exemplar's span."""

    def __init__(
        self, meter: Any, name: str, unit: str, description: str, boundaries: Sequence[float]
    ) -> None:
        try:
            self._instrument = meter.create_histogram(
                name,
                unit=unit,
                description=description,
                explicit_bucket_boundaries_advisory=list(boundaries),
            )
        except TypeError:  # an older API without bucket advice
            self._instrument = meter.create_histogram(name, unit=unit, description=description)

    def record(
        self,
        value: float,
        attributes: Mapping[str, Any],
        names: tuple[str, ...],
        span_context: SpanContext | None = None,
    ) -> None:
        picked = {name: attributes[name] for name in names if attributes.get(name) is not None}
        context = (
            None if span_context is None else set_span_in_context(NonRecordingSpan(span_context))
        )
        self._instrument.record(value, picked, context=context)


def exemplar_filter(environ: Mapping[str, str] | None = None) -> str:
    """The filter the SDK's MeterProvider reads (an unknown name fails its build first)."""
    env = os.environ if environ is None else environ
    name = env.get("OTEL_METRICS_EXEMPLAR_FILTER", TRACE_BASED)
    return {ALWAYS_ON: ALWAYS_ON, ALWAYS_OFF: ALWAYS_OFF}.get(name, TRACE_BASED)


class Series:
    """One attribute set's aggregation: bucket counts, sum, min, max, exemplars."""

    __slots__ = ("attributes", "counts", "exemplars", "maximum", "minimum", "start", "total")

    def __init__(self, attributes: dict[str, Any], buckets: int, start: int) -> None:
        self.attributes = attributes
        self.counts = [0] * buckets
        self.total: float = 0
        self.minimum = math.inf
        self.maximum = -math.inf
        self.start = start
        self.exemplars: list[ExemplarValue | None] = [None] * buckets

    def add(self, other: Series) -> None:
        self.counts = [
            mine + theirs for mine, theirs in zip(self.counts, other.counts, strict=True)
        ]
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        for index, exemplar in enumerate(other.exemplars):
            if exemplar is not None:  # a later measurement replaces the bucket's exemplar
                self.exemplars[index] = exemplar


class ReaderState:
    """What one reader has been handed and not yet exported (delta) or ever (cumulative)."""

    def __init__(self, cumulative: bool) -> None:
        self.cumulative = cumulative
        self.series: dict[PlainHistogram, dict[tuple[Any, ...], Series]] = {}
        self.last_collection: int | None = None


class PlainHistogram:
    """One histogram; ``record`` resolves, at its first call, how points are recorded."""

    def __init__(
        self,
        registry: PlainHistograms,
        scope: tuple[str, str | None],
        name: str,
        unit: str,
        description: str,
        boundaries: Sequence[float],
    ) -> None:
        self.registry = registry
        self.scope = scope
        self.name = name
        self.unit = unit
        self.description = description
        self.boundaries = tuple(float(bound) for bound in boundaries)
        self._buckets = len(self.boundaries) + 1
        self._lock = threading.Lock()
        self._pending: dict[tuple[Any, ...], Series] = {}
        self._sampling = TRACE_BASED

    def record(
        self,
        value: float,
        attributes: Mapping[str, Any],
        names: tuple[str, ...],
        span_context: SpanContext | None = None,
    ) -> None:
        """One measurement, with the attributes ``names`` picks (absent ones left out), and
        the span whose context an exemplar links to (the SDK's ``context=``)."""
        record = self.registry.resolve(self)
        if record is not None:
            record(value, attributes, names, span_context)

    def record_plain(
        self,
        value: float,
        attributes: Mapping[str, Any],
        names: tuple[str, ...],
        span_context: SpanContext | None = None,
    ) -> None:
        if not 0.0 <= value < math.inf:  # the SDK drops negative and non-finite values too
            return
        # span attributes are never None (the SDK drops them), so None stands for absent
        key = tuple(map(attributes.get, names))
        index = bisect_left(self.boundaries, value)
        sampling = self._sampling
        exemplar: ExemplarValue | None = None
        if sampling is not ALWAYS_OFF and (
            sampling is ALWAYS_ON or (span_context is not None and span_context.trace_flags.sampled)
        ):
            exemplar = (
                value,
                time_ns(),
                None if span_context is None else span_context.span_id,
                None if span_context is None else span_context.trace_id,
                names,
                key,
            )
        with self._lock:
            series = self._pending.get(key)
            if series is None:
                series = self._new_series(key, names)
            series.counts[index] += 1
            series.total += value
            if value < series.minimum:
                series.minimum = value
            if value > series.maximum:
                series.maximum = value
            if exemplar is not None:
                series.exemplars[index] = exemplar

    def _new_series(self, key: tuple[Any, ...], names: tuple[str, ...]) -> Series:
        """(under the lock)"""
        if len(self._pending) >= CARDINALITY_LIMIT:
            key = _OVERFLOW_KEY
            series = self._pending.get(key)
            if series is not None:
                return series
            attributes: dict[str, Any] = dict(OVERFLOW_ATTRIBUTES)
        else:
            attributes = {
                name: value for name, value in zip(names, key, strict=True) if value is not None
            }
        series = self._pending[key] = Series(attributes, self._buckets, time_ns())
        return series

    def drain(self) -> dict[tuple[Any, ...], Series]:
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()


def _drop(
    value: float,
    attributes: Mapping[str, Any],
    names: tuple[str, ...],
    span_context: SpanContext | None = None,
) -> None:
    pass


Recorder = Callable[[float, Mapping[str, Any], tuple[str, ...], "SpanContext | None"], None]


class PlainHistograms:
    """The histograms of one ``LazyMeterProvider`` and the readers that export them."""

    def __init__(self, provider: LazyMeterProvider) -> None:
        self._provider = provider
        self._lock = threading.RLock()
        self._histograms: list[PlainHistogram] = []
        self._states: list[ReaderState] = []
        self.mode: str | None = None  # "plain", "sdk" or "drop", decided at the build
        self._sampling = TRACE_BASED
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)

            def after_in_child() -> None:
                registry = ref()
                if registry is not None:
                    registry.after_fork_in_child()

            os.register_at_fork(after_in_child=after_in_child)

    def histogram(
        self,
        scope: tuple[str, str | None],
        name: str,
        unit: str,
        description: str,
        boundaries: Sequence[float],
    ) -> PlainHistogram:
        with self._lock:
            for made in self._histograms:
                if made.name == name and made.scope == scope:
                    return made
            histogram = PlainHistogram(self, scope, name, unit, description, boundaries)
            self._histograms.append(histogram)
            return histogram

    def decide(self, readers: Sequence[Any], sampling: str) -> None:
        """At the provider's build: plain aggregation when every reader takes it (explicit
        buckets, no bounds of its own), else each histogram records through the SDK."""
        with self._lock:
            self._sampling = sampling
            if not readers:
                self.mode = "drop"
            elif all(reader.takes_plain_histograms for reader in readers):
                self.mode = "plain"
                for reader in readers:
                    state = ReaderState(reader.histogram_temporality_is_cumulative)
                    self._states.append(state)
                    reader.attach(self, state)
            else:
                self.mode = "sdk"

    def resolve(self, histogram: PlainHistogram) -> Recorder | None:
        """The first measurement: build the provider, then fix ``histogram.record``."""
        real = self._provider.real()
        with self._lock:
            resolved: Recorder | None = histogram.__dict__.get("record")
            if resolved is not None:
                return resolved  # another thread resolved it first
            if not self._provider.built:  # shut down, or measured by the build itself
                return None
            recorder: Recorder
            if self.mode == "plain":
                histogram._sampling = self._sampling
                recorder = histogram.record_plain
            elif self.mode == "sdk":
                recorder = ApiHistogram(
                    real.get_meter(*histogram.scope),
                    histogram.name,
                    histogram.unit,
                    histogram.description,
                    histogram.boundaries,
                ).record
            else:
                recorder = _drop
            setattr(histogram, "record", recorder)  # later calls: no resolution  # noqa: B010
            return recorder

    def close(self) -> None:
        """The provider shut down: later measurements are dropped, as the SDK drops them."""
        with self._lock:
            self.mode = "drop"
            for histogram in self._histograms:
                setattr(histogram, "record", _drop)  # noqa: B010
                histogram.drain()

    def collect(self, state: ReaderState, now: int) -> list[tuple[tuple[str, str | None], Metric]]:
        """The points ``state``'s reader exports now: (scope, Metric) per histogram."""
        from opentelemetry.sdk.metrics import Exemplar
        from opentelemetry.sdk.metrics.export import (
            AggregationTemporality,
            Histogram,
            HistogramDataPoint,
            Metric,
        )

        with self._lock:
            histograms = list(self._histograms)
            states = list(self._states)
            for histogram in histograms:
                pending = histogram.drain()
                if pending:
                    for each in states:
                        _merge(each, histogram, pending)
            out: list[tuple[tuple[str, str | None], Metric]] = []
            for histogram in histograms:
                table = state.series.get(histogram)
                if not table:
                    continue
                points = []
                for series in table.values():
                    exemplars = [
                        Exemplar(_filtered(names, key, series.attributes), value, at, span, trace)
                        for value, at, span, trace, names, key in filter(None, series.exemplars)
                    ]
                    series.exemplars = [None] * len(series.counts)
                    points.append(
                        HistogramDataPoint(
                            attributes=series.attributes,
                            start_time_unix_nano=series.start,
                            time_unix_nano=now,
                            count=sum(series.counts),
                            sum=series.total,
                            bucket_counts=tuple(series.counts),
                            explicit_bounds=histogram.boundaries,
                            min=series.minimum,
                            max=series.maximum,
                            exemplars=exemplars,
                        )
                    )
                if not state.cumulative:
                    del state.series[histogram]
                temporality = (
                    AggregationTemporality.CUMULATIVE
                    if state.cumulative
                    else AggregationTemporality.DELTA
                )
                metric = Metric(
                    name=histogram.name,
                    description=histogram.description,
                    unit=histogram.unit,
                    data=Histogram(data_points=points, aggregation_temporality=temporality),
                )
                out.append((histogram.scope, metric))
            if not state.cumulative:
                state.last_collection = now
            return out

    def after_fork_in_child(self) -> None:
        self._lock = threading.RLock()
        for histogram in self._histograms:
            histogram.after_fork_in_child()


def _filtered(
    names: tuple[str, ...], key: tuple[Any, ...], point_attributes: Mapping[str, Any]
) -> dict[str, Any] | None:
    """An exemplar's attributes: the measurement's, less the point's (None when it had none)."""
    measured = {name: value for name, value in zip(names, key, strict=True) if value is not None}
    if not measured:
        return None
    return {name: value for name, value in measured.items() if name not in point_attributes}


def _merge(
    state: ReaderState, histogram: PlainHistogram, pending: dict[tuple[Any, ...], Series]
) -> None:
    """Adds what was recorded since the last collection to one reader's series."""
    table = state.series.setdefault(histogram, {})
    for key, recorded in pending.items():
        series = table.get(key)
        if series is None:
            if len(table) >= CARDINALITY_LIMIT and key != _OVERFLOW_KEY:
                key = _OVERFLOW_KEY
                series = table.get(key)
            if series is None:
                attributes = (
                    dict(OVERFLOW_ATTRIBUTES) if key == _OVERFLOW_KEY else recorded.attributes
                )
                start = recorded.start
                if not state.cumulative and state.last_collection is not None:
                    # the SDK: a delta point starts at the last collection
                    start = state.last_collection
                series = table[key] = Series(attributes, len(recorded.counts), start)
        series.add(recorded)


__all__ = ["ApiHistogram", "PlainHistogram", "PlainHistograms", "ReaderState"]
