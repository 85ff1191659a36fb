"""The MCP duration histograms aggregated in plain Python (export/histograms.py) export what
the SDK's own aggregation of the same measurements exports: the same metrics, points,
bucket counts, sums, min/max, attributes, exemplars and overflow series, cumulative and
delta, collection after collection; base2 exponential histograms fall back to the SDK."""

from __future__ import annotations

import json
import math
import random
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from mcptrace.config import load_settings
from mcptrace.export.histogram_reader import sdk_meter_provider
from mcptrace.export.lazy_metrics import LazyMeterProvider
from mcptrace.export.providers import _otlp_metrics
from mcptrace.export.spool_reader import ReadStats, iter_requests
from mcptrace.mcp.metrics import BUCKETS
from support import PYTHON, clean_env

SCOPE = ("mcptrace", "9.9")
NAME, DESCRIPTION = "mcp.server.operation.duration", "Duration of MCP requests, server side"
NAMES = ("mcp.method.name", "gen_ai.tool.name", "error.type", "server.port")


class Capture(MetricExporter):
    def __init__(self, delta: bool = False, aggregation: Any = None) -> None:
        super().__init__(
            preferred_temporality={Histogram: AggregationTemporality.DELTA} if delta else None,
            preferred_aggregation={Histogram: aggregation} if aggregation else None,
        )
        self.batches: list[MetricsData] = []

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.batches.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass

    def exported(self) -> list[Any]:
        """Every batch as JSON, times replaced by their order (start before end)."""
        return [_timeless(json.loads(batch.to_json())) for batch in self.batches]


def _timeless(tree: Any) -> Any:
    if isinstance(tree, dict):
        out = {k: _timeless(v) for k, v in tree.items() if "time_unix_nano" not in k}
        if "start_time_unix_nano" in tree:
            assert tree["start_time_unix_nano"] <= tree["time_unix_nano"]
        return out
    if isinstance(tree, list):
        return [_timeless(v) for v in tree]
    return tree


RESOURCE = Resource({"service.name": "plain-histograms"})


class Sdk:
    """The SDK's own histogram: what the plain one must export."""

    def __init__(self, exporter: Capture) -> None:
        self.reader = PeriodicExportingMetricReader(exporter, export_interval_millis=math.inf)
        self.provider = MeterProvider(resource=RESOURCE, metric_readers=[self.reader])
        self.histogram = self.provider.get_meter(*SCOPE).create_histogram(
            NAME, unit="s", description=DESCRIPTION, explicit_bucket_boundaries_advisory=BUCKETS
        )

    def record(self, value: float, attributes: dict[str, Any], span: SpanContext | None) -> None:
        picked = {name: attributes[name] for name in NAMES if name in attributes}
        context = None if span is None else set_span_in_context(NonRecordingSpan(span))
        self.histogram.record(value, picked, context=context)

    def collect(self) -> None:
        self.provider.force_flush()


class Plain:
    """mcptrace's provider and its plain histogram, through the same reader and exporter."""

    def __init__(self, *exporters: Capture) -> None:
        self.lazy = LazyMeterProvider(
            lambda: sdk_meter_provider(self.lazy.histograms, exporters, RESOURCE, math.inf)
        )
        self.histogram = self.lazy.histograms.histogram(SCOPE, NAME, "s", DESCRIPTION, BUCKETS)

    def record(self, value: float, attributes: dict[str, Any], span: SpanContext | None) -> None:
        self.histogram.record(value, attributes, NAMES, span)

    def collect(self) -> None:
        self.lazy.force_flush()


def _span(rng: random.Random, sampled: bool) -> SpanContext:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else 0)
    return SpanContext(rng.getrandbits(128) | 1, rng.getrandbits(64) | 1, False, flags)


def _measurements(rng: random.Random, count: int) -> list[tuple[float, dict[str, Any], Any]]:
    """Values on and around every bound, 0, past the last, and those the SDK drops (below 0,
    not finite); varied attribute sets
    (some names absent, an int value); spans sampled, not sampled, or none."""
    values = [*BUCKETS, 0.0, -1.0, 1e-9, 301.0, 1e6, math.nan, math.inf, -0.0]
    values += [bound * factor for bound in BUCKETS for factor in (0.999, 1.001)]
    out = []
    for index in range(count):
        value = values[index % len(values)] if index < len(values) else rng.uniform(0, 400)
        attributes: dict[str, Any] = {"mcp.method.name": rng.choice(["tools/call", "ping"])}
        if rng.random() < 0.7:
            attributes["gen_ai.tool.name"] = rng.choice(["echo", "boom", "ünïcode"])
        if rng.random() < 0.2:
            attributes["error.type"] = "tool_error"
        if rng.random() < 0.3:
            attributes["server.port"] = rng.choice([8000, 9000])
        attributes["mcp.session.id"] = str(index)  # not one of the names: never an attribute
        span = rng.choice([None, _span(rng, True), _span(rng, False)])
        out.append((value, attributes, span))
    return out


def _drive(
    sink: Sdk | Plain, rounds: Sequence[Sequence[tuple[float, dict[str, Any], Any]]]
) -> None:
    for measurements in rounds:
        for value, attributes, span in measurements:
            sink.record(value, attributes, span)
        sink.collect()


@pytest.mark.parametrize("delta", [False, True], ids=["cumulative", "delta"])
@pytest.mark.parametrize("exemplars", ["trace_based", "always_on", "always_off"])
def test_points_equal_the_sdks_aggregation_collection_after_collection(
    delta: bool, exemplars: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_METRICS_EXEMPLAR_FILTER", exemplars)
    rng = random.Random(20)
    first = _measurements(rng, 400)
    second = [m for m in _measurements(rng, 150) if m[1].get("gen_ai.tool.name") != "echo"]
    if exemplars == "always_on":
        # every MCP operation point has its span; without one the SDK's bucket keeps the
        # span ids of the measurement it replaced (an exemplar naming another call's span),
        # where the plain histogram leaves them out
        first, second = (
            [(v, a, s or _span(rng, False)) for v, a, s in each] for each in (first, second)
        )
    rounds = [first, second, [], first[:3]]  # a series absent, then nothing new, then more
    expected, actual = Capture(delta), Capture(delta)
    _drive(Sdk(expected), rounds)
    _drive(Plain(actual), rounds)
    assert len(expected.batches) == (4 if not delta else 3)
    assert actual.exported() == expected.exported()
    points = expected.batches[0].resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
    assert len(points) > 10 and sum(point.count for point in points) == 400 - 3  # -1, nan, inf
    if exemplars != "always_off":
        assert any(point.exemplars for point in points)


@pytest.mark.slow  # 2,000 series through both aggregations: 6 s
def test_past_the_cardinality_limit_one_overflow_series_as_the_sdks() -> None:
    rng = random.Random(7)
    rounds = [
        [(rng.uniform(0, 2), {"mcp.method.name": f"m{i}"}, _span(rng, True)) for i in range(2100)],
        [(0.5, {"mcp.method.name": f"m{i}"}, None) for i in range(1990, 2200)],
    ]
    expected, actual = Capture(), Capture()
    _drive(Sdk(expected), rounds)
    _drive(Plain(actual), rounds)
    assert actual.exported() == expected.exported()
    points = expected.batches[-1].resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
    overflow = [p for p in points if p.attributes == {"otel.metric.overflow": True}]
    assert len(overflow) == 1 and overflow[0].count == 100 + 200


def test_two_readers_each_get_every_point_in_their_own_temporality() -> None:
    rng = random.Random(3)
    rounds = [_measurements(rng, 200), _measurements(rng, 50)]
    sdk_cumulative, sdk_delta = Capture(), Capture(delta=True)
    reader = [
        PeriodicExportingMetricReader(exporter, export_interval_millis=math.inf)
        for exporter in (sdk_cumulative, sdk_delta)
    ]
    provider = MeterProvider(resource=RESOURCE, metric_readers=reader)
    sdk = Sdk(Capture())
    sdk.provider, sdk.histogram = (
        provider,
        provider.get_meter(*SCOPE).create_histogram(
            NAME, unit="s", description=DESCRIPTION, explicit_bucket_boundaries_advisory=BUCKETS
        ),
    )
    cumulative, delta = Capture(), Capture(delta=True)
    _drive(sdk, rounds)
    _drive(Plain(cumulative, delta), rounds)
    assert cumulative.exported() == sdk_cumulative.exported()
    assert delta.exported() == sdk_delta.exported()


@pytest.mark.parametrize(
    "aggregation",
    [ExponentialBucketHistogramAggregation(), ExplicitBucketHistogramAggregation([1.0, 2.0])],
    ids=["base2_exponential", "own_bounds"],
)
def test_a_reader_wanting_another_aggregation_gets_the_sdks(aggregation: Any) -> None:
    rng = random.Random(5)
    rounds = [_measurements(rng, 120)]
    expected, actual = Capture(aggregation=aggregation), Capture(aggregation=aggregation)
    _drive(Sdk(expected), rounds)
    plain = Plain(actual)
    _drive(plain, rounds)
    assert plain.lazy.histograms.mode == "sdk"
    assert actual.exported() == expected.exported()
    kind = type(actual.batches[0].resource_metrics[0].scope_metrics[0].metrics[0].data).__name__
    assert kind == (
        "ExponentialHistogram" if "Exponential" in type(aggregation).__name__ else "Histogram"
    )


def test_many_threads_recording_while_collecting_lose_no_point() -> None:
    exporter = Capture(delta=True)
    plain = Plain(exporter)
    threads, per_thread = 8, 4000
    done = threading.Event()

    def record(seed: int) -> None:
        rng = random.Random(seed)
        for index in range(per_thread):
            tool = f"t{rng.randrange(5)}"
            plain.record(
                index % 7 * 0.01, {"mcp.method.name": "tools/call", "gen_ai.tool.name": tool}, None
            )

    def collect() -> None:
        while not done.is_set():
            plain.collect()

    collector = threading.Thread(target=collect)
    workers = [threading.Thread(target=record, args=(seed,)) for seed in range(threads)]
    collector.start()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done.set()
    collector.join()
    plain.collect()
    count = total = 0.0
    for batch in exporter.batches:
        for point in batch.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points:
            assert sum(point.bucket_counts) == point.count
            count += point.count
            total += point.sum
    assert count == threads * per_thread
    assert total == pytest.approx(threads * sum(index % 7 * 0.01 for index in range(per_thread)))


def test_after_shutdown_a_measurement_is_dropped_and_nothing_builds() -> None:
    exporter = Capture()
    plain = Plain(exporter)
    plain.record(0.1, {"mcp.method.name": "ping"}, None)
    plain.lazy.shutdown()
    batches = len(exporter.batches)
    assert batches == 1  # the shutdown's last collection
    plain.record(0.2, {"mcp.method.name": "ping"}, None)
    plain.lazy.force_flush()  # the exporter is shut down: nothing more reaches it
    assert len(exporter.batches) == batches
    (point,) = exporter.batches[0].resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
    assert point.count == 1 and point.sum == 0.1
    late = Plain(Capture())
    late.lazy.shutdown()
    late.record(0.1, {"mcp.method.name": "ping"}, None)
    assert not late.lazy.built


def test_the_histograms_load_no_metrics_sdk_until_the_first_point() -> None:
    code = (
        "import sys\n"
        "from mcptrace.export.lazy_metrics import LazyMeterProvider\n"
        "import mcptrace.mcp.metrics\n"
        "lazy = LazyMeterProvider(lambda: 1 / 0)\n"
        "h = lazy.histograms.histogram(('s', None), 'h', 's', 'd', (1.0,))\n"
        "assert not any(m.startswith('opentelemetry.sdk.metrics') for m in sys.modules), 'loaded'\n"
        "print('ok')\n"
    )
    run = subprocess.run(
        [PYTHON, "-c", code], env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert run.stdout.strip() == "ok", run.stderr


def test_the_readers_interval_exports_the_histograms_when_the_sdk_has_nothing() -> None:
    """The SDK's collection of a provider whose only instruments are plain histograms finds
    nothing: the reader's own interval still exports their points."""
    exporter = Capture(delta=True)
    lazy = LazyMeterProvider(lambda: sdk_meter_provider(lazy.histograms, [exporter], RESOURCE, 50))
    histogram = lazy.histograms.histogram(SCOPE, NAME, "s", DESCRIPTION, BUCKETS)
    histogram.record(0.3, {"mcp.method.name": "ping"}, NAMES, None)
    deadline = time.monotonic() + 10
    while not exporter.batches and time.monotonic() < deadline:
        time.sleep(0.02)
    histogram.record(0.4, {"mcp.method.name": "ping"}, NAMES, None)
    lazy.shutdown()
    counts = [
        point.count
        for batch in exporter.batches
        for point in batch.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
    ]
    assert counts[0] == 1 and sum(counts) == 2


def test_under_a_programs_own_meter_provider_its_views_apply() -> None:
    code = (
        "from opentelemetry import metrics\n"
        "from opentelemetry.sdk.metrics import MeterProvider\n"
        "from opentelemetry.sdk.metrics.export import InMemoryMetricReader\n"
        "from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View\n"
        "from opentelemetry.trace import SpanKind\n"
        "reader = InMemoryMetricReader()\n"
        "view = View(instrument_name='mcp.server.operation.duration',\n"
        "            aggregation=ExplicitBucketHistogramAggregation([0.5]))\n"
        "metrics.set_meter_provider(MeterProvider(metric_readers=[reader], views=[view]))\n"
        "from mcptrace.mcp.metrics import record_operation\n"
        "record_operation(SpanKind.SERVER, 0.3, {'mcp.method.name': 'ping', 'x': 1})\n"
        "(metric,) = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics\n"
        "(point,) = metric.data.data_points\n"
        "print(list(point.explicit_bounds), point.count, dict(point.attributes))\n"
    )
    run = subprocess.run(
        [PYTHON, "-c", code], env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert run.stdout.strip() == "[0.5] 1 {'mcp.method.name': 'ping'}", run.stderr


@pytest.mark.parametrize(
    ("setting", "value", "kind", "temporality"),
    [
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "CUMULATIVE", "histogram", 2),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "DELTA", "histogram", 1),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "LOWMEMORY", "histogram", 1),
        (
            "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
            "base2_exponential_bucket_histogram",
            "exponentialHistogram",
            2,
        ),
    ],
)
def test_the_otlp_metric_settings_shape_what_the_spool_gets(
    setting: str,
    value: str,
    kind: str,
    temporality: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The exporter `otlp` builds (temporality and histogram aggregation from the
    OTEL_EXPORTER_OTLP_METRICS_* settings), two collections of its spool lines."""
    monkeypatch.setenv(setting, value)
    exporter = _otlp_metrics(load_settings({"MCPTRACE_SPOOL_DIR": str(tmp_path)}), None)
    lazy = LazyMeterProvider(
        lambda: sdk_meter_provider(lazy.histograms, [exporter], RESOURCE, math.inf)
    )
    histogram = lazy.histograms.histogram(SCOPE, NAME, "s", DESCRIPTION, BUCKETS)
    for value_ in (0.004, 0.3, 7.0):
        histogram.record(value_, {"mcp.method.name": "tools/call"}, NAMES, None)
    lazy.force_flush()
    histogram.record(0.3, {"mcp.method.name": "tools/call"}, NAMES, None)
    lazy.shutdown()
    counts = []
    for _path, tree in iter_requests(tmp_path, "metrics", ReadStats()):
        (metric,) = tree["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
        assert metric["name"] == NAME and metric["unit"] == "s" and kind in metric
        assert metric[kind]["aggregationTemporality"] == temporality
        (point,) = metric[kind]["dataPoints"]
        counts.append(int(point["count"]))
        if kind == "histogram":
            assert [float(b) for b in point["explicitBounds"]] == list(BUCKETS)
    assert counts == ([3, 1] if temporality == 1 else [3, 4])
