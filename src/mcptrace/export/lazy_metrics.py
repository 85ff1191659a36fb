"""A meter provider that loads the metrics SDK at the first measurement, not at start-up.

Usage::

    provider = LazyMeterProvider(build)          # build() -> the SDK's MeterProvider
    metrics.set_meter_provider(provider)
    histogram = metrics.get_meter("x").create_histogram("d")   # nothing loaded yet
    histogram.record(0.2)                        # build() runs once, then the SDK records it

The metrics SDK is the largest part of OpenTelemetry's start-up (≈25 ms of CPU here), and
most instrumented processes never measure anything: a script importing mcp, a client that
never opens a session.  Meters and synchronous instruments are handed out at once and
stand for the SDK's own; the first ``add``/``record``/``set`` on any of them builds the
provider, and from then on each instrument's methods are the SDK instrument's own bound
methods (no indirection per call).  Observable instruments build the provider at once:
their callbacks are only called by a reader, so waiting for a first measurement would lose
them.  Nothing measured is lost; after ``shutdown`` a first measurement is dropped, as the
SDK drops measurements after its own shutdown.  The MCP duration histograms are no SDK
instruments: ``provider.histograms`` aggregates them in plain Python and the SDK's readers
export them (``histograms``, ``histogram_reader``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from opentelemetry.metrics import Meter, MeterProvider, NoOpMeterProvider

from mcptrace import _guard
from mcptrace.export.histograms import PlainHistograms

_SYNCHRONOUS = {
    "create_counter": "add",
    "create_up_down_counter": "add",
    "create_histogram": "record",
    "create_gauge": "set",
}


class LazyMeterProvider(MeterProvider):
    """Stands for the SDK provider ``build`` makes on first use (see the module docstring)."""

    def __init__(self, build: Callable[[], MeterProvider]) -> None:
        self._build = build
        self._real: MeterProvider | None = None
        self._lock = threading.RLock()
        self._closed = False
        self._building = False
        # histograms aggregated outside the SDK, exported by its readers (see histograms)
        self.histograms = PlainHistograms(self)

    @property
    def built(self) -> bool:
        return self._real is not None

    def real(self) -> MeterProvider:
        """The SDK provider, built now if it was not (a no-op one after shutdown)."""
        real = self._real
        if real is not None:
            return real
        with self._lock:
            if self._real is None:
                if self._closed or self._building:  # (a measurement the build itself made)
                    return NoOpMeterProvider()
                self._building = True
                try:
                    with _guard.sensor_paused():  # its imports and threads: not the program's
                        self._real = self._build()
                finally:
                    self._building = False
            return self._real

    def get_meter(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: Any = None,
    ) -> Meter:
        if self._real is not None:
            return self._real.get_meter(name, version, schema_url, attributes)
        return _LazyMeter(self, name, version, schema_url, attributes)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        real = self._real
        return True if real is None else bool(real.force_flush(timeout_millis))  # type: ignore[attr-defined]

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        with self._lock:
            self._closed = True
            real = self._real
        if real is not None:
            real.shutdown(timeout_millis)  # type: ignore[attr-defined]
        self.histograms.close()


class _LazyMeter(Meter):
    def __init__(
        self,
        provider: LazyMeterProvider,
        name: str,
        version: str | None,
        schema_url: str | None,
        attributes: Any,
    ) -> None:
        super().__init__(name, version, schema_url)
        self.provider = provider
        self._identity = (name, version, schema_url, attributes)

    def real(self) -> Meter:
        return self.provider.real().get_meter(*self._identity)

    def _synchronous(self, create: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.provider.built:
            return getattr(self.real(), create)(*args, **kwargs)
        return _LazyInstrument(self, create, args, kwargs)

    def _observable(self, create: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return getattr(self.real(), create)(*args, **kwargs)

    def create_counter(self, *args: Any, **kwargs: Any) -> Any:
        return self._synchronous("create_counter", args, kwargs)

    def create_up_down_counter(self, *args: Any, **kwargs: Any) -> Any:
        return self._synchronous("create_up_down_counter", args, kwargs)

    def create_histogram(self, *args: Any, **kwargs: Any) -> Any:
        return self._synchronous("create_histogram", args, kwargs)

    def create_gauge(self, *args: Any, **kwargs: Any) -> Any:
        return self._synchronous("create_gauge", args, kwargs)

    def create_observable_counter(self, *args: Any, **kwargs: Any) -> Any:
        return self._observable("create_observable_counter", args, kwargs)

    def create_observable_up_down_counter(self, *args: Any, **kwargs: Any) -> Any:
        return self._observable("create_observable_up_down_counter", args, kwargs)

    def create_observable_gauge(self, *args: Any, **kwargs: Any) -> Any:
        return self._observable("create_observable_gauge", args, kwargs)


class _LazyInstrument:
    """A synchronous instrument until its first measurement; then the SDK's, method by method."""

    def __init__(
        self, meter: _LazyMeter, create: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self._meter = meter
        self._create = create
        self._args = args
        self._kwargs = kwargs
        self._lock = threading.Lock()
        self._instrument: Any = None
        self.name = kwargs.get("name", args[0] if args else "")

    def _resolve(self) -> Any:
        with self._lock:
            if self._instrument is None:
                instrument = getattr(self._meter.real(), self._create)(*self._args, **self._kwargs)
                if not self._meter.provider.built:  # shut down, or measured by the build
                    return instrument  # itself: this measurement is dropped, nothing kept
                self._instrument = instrument
                method = _SYNCHRONOUS[self._create]
                setattr(self, method, getattr(self._instrument, method))  # later calls: direct
            return self._instrument

    def add(self, amount: float, attributes: Any = None, context: Any = None) -> None:
        self._resolve().add(amount, attributes, context)

    def record(self, amount: float, attributes: Any = None, context: Any = None) -> None:
        self._resolve().record(amount, attributes, context)

    def set(self, amount: float, attributes: Any = None, context: Any = None) -> None:
        self._resolve().set(amount, attributes, context)


__all__ = ["LazyMeterProvider"]
