"""OpenTelemetry instrumentor for the runtime sensor (entry point ``mcptrace_sensor``).

Usage::

    from mcptrace.sensor.instrumentor import SensorInstrumentor
    SensorInstrumentor().instrument()      # `mcptrace run` and opentelemetry-instrument do this
    SensorInstrumentor().uninstrument()    # stops recording (an audit hook cannot be removed)

Categories come from ``MCPTRACE_SENSOR`` (default all), the per-span cap from
``MCPTRACE_MAX_EVENTS_PER_SPAN``; keyword arguments ``categories`` and
``max_events_per_span`` override them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from mcptrace.activation import current_settings
from mcptrace.instrumentor import Instrumentor
from mcptrace.sensor.hook import Sensor, installed
from mcptrace.sensor.lifecycle import SensorLifecycle

_lifecycle: SensorLifecycle | None = None


class SensorInstrumentor(Instrumentor):
    """Audit-hook sensor: files, network, processes, code, native loads, imports."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return []

    def _instrument(self, **kwargs: Any) -> None:
        global _lifecycle
        if _lifecycle is not None:
            _lifecycle.resume()
            return
        settings = current_settings()
        if not settings.part_enabled("sensor"):
            return
        categories = frozenset(kwargs.get("categories", settings.sensor))
        if not categories or installed() is not None:
            return
        sensor = Sensor(
            categories,
            int(kwargs.get("max_events_per_span", settings.max_events_per_span)),
            native=bool(kwargs.get("native_hook", settings.native_hook)),
        )
        _lifecycle = SensorLifecycle(sensor)
        _lifecycle.start()

    def _uninstrument(self, **kwargs: Any) -> None:
        if _lifecycle is not None:
            _lifecycle.stop()


def current_lifecycle() -> SensorLifecycle | None:
    return _lifecycle
