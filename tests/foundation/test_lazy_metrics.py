"""The meter provider that loads the metrics SDK at the first measurement (lazy_metrics)."""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from mcptrace.export.lazy_metrics import LazyMeterProvider


class Built:
    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.calls = 0

    def __call__(self) -> MeterProvider:
        self.calls += 1
        return MeterProvider(metric_readers=[self.reader])

    def points(self) -> dict[str, list[Any]]:
        data = self.reader.get_metrics_data()
        out: dict[str, list[Any]] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    out[metric.name] = list(metric.data.data_points)
        return out


def test_nothing_is_built_until_the_first_measurement_and_nothing_is_lost() -> None:
    build = Built()
    provider = LazyMeterProvider(build)
    meter = provider.get_meter("scope", "1.0")
    counter = meter.create_counter("c")
    histogram = meter.create_histogram("h", unit="s", explicit_bucket_boundaries_advisory=[1.0])
    gauge = meter.create_gauge("g")
    assert build.calls == 0 and not provider.built
    counter.add(2, {"k": "v"})
    histogram.record(0.5)
    histogram.record(1.5)
    gauge.set(7)
    assert build.calls == 1
    # later calls go straight to the SDK's instrument
    assert getattr(counter.add, "__self__", None) is not counter
    counter.add(3, {"k": "v"})
    points = build.points()
    assert points["c"][0].value == 5
    assert points["h"][0].count == 2 and list(points["h"][0].explicit_bounds) == [1.0]
    assert points["g"][0].value == 7
    # a meter asked for once the SDK is in is the SDK's
    assert type(provider.get_meter("later")).__module__.startswith("opentelemetry.sdk")


def test_an_observable_instrument_builds_at_once() -> None:
    build = Built()
    provider = LazyMeterProvider(build)

    def observe(options: CallbackOptions) -> list[Observation]:
        return [Observation(4)]

    provider.get_meter("scope").create_observable_gauge("o", callbacks=[observe])
    assert build.calls == 1
    assert build.points()["o"][0].value == 4


def test_a_first_measurement_after_shutdown_builds_nothing() -> None:
    build = Built()
    provider = LazyMeterProvider(build)
    counter = provider.get_meter("scope").create_counter("c")
    assert provider.force_flush() is True
    provider.shutdown()
    counter.add(1)
    assert build.calls == 0


def test_racing_first_measurements_build_once_and_count_all() -> None:
    build = Built()
    provider = LazyMeterProvider(build)
    counter = provider.get_meter("scope").create_counter("c")
    start = threading.Barrier(8)

    def add() -> None:
        start.wait()
        for _ in range(100):
            counter.add(1)

    threads = [threading.Thread(target=add) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert build.calls == 1
    assert build.points()["c"][0].value == 800


def test_a_measurement_made_while_building_neither_deadlocks_nor_recurses() -> None:
    """The SDK's own internal metrics (OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED) may measure
    through the global provider while the SDK provider is being built."""
    built = Built()
    provider = LazyMeterProvider(lambda: (inner.add(1), built())[1])
    inner = provider.get_meter("sdk-internal").create_counter("inner")
    outer = provider.get_meter("scope").create_counter("outer")
    done = threading.Event()

    def measure() -> None:
        outer.add(2)
        done.set()

    thread = threading.Thread(target=measure, daemon=True)
    thread.start()
    assert done.wait(10), "deadlocked"
    assert built.calls == 1
    inner.add(5)  # dropped while building only: later measurements count
    assert built.points()["outer"][0].value == 2
    assert built.points()["inner"][0].value == 5
