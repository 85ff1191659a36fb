"""OpenTelemetry instrumentor for the runtime sensor (entry point ``mcptrace_sensor``).

Usage::

    from mcptrace.sensor.instrumentor import SensorInstrumentor
    SensorInstrumentor().instrument()      # `mcptrace run` and opentelemetry-instrument do this
    SensorInstrumentor().uninstrument()    # stops recording (an audit hook cannot be removed)

Categories come from ``MCPTRACE_SENSOR`` (default all), the per-span cap from
``MCPTRACE_MAX_EVENTS_PER_SPAN``; keyword arguments ``categories`` and
``max_events_per_span`` override them.  Instrumenting loads no OpenTelemetry: the hook
records into plain buffers and is linked to the providers when they exist.
"""

from __future__ import annotations

from mcptrace.instrumentor import Instrumentor
from mcptrace.sensor.hook import Sensor, installed
from mcptrace.sensor.lifecycle import SensorLifecycle

TYPE_CHECKING = False  # not typing's: imported as the interpreter starts
if TYPE_CHECKING:
    from collections.abc import Collection
    from typing import Any

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
        categories = kwargs.get("categories")
        max_events = kwargs.get("max_events_per_span")
        native = kwargs.get("native_hook")
        if categories is None or max_events is None or native is None:
            from mcptrace.activation import current_settings

            settings = current_settings()
            if not settings.part_enabled("sensor"):
                return
            categories = settings.sensor if categories is None else categories
            max_events = settings.max_events_per_span if max_events is None else max_events
            native = settings.native_hook if native is None else native
        categories = frozenset(categories)
        if not categories or installed() is not None:
            return
        sensor = Sensor(categories, int(max_events), native=bool(native))
        _lifecycle = SensorLifecycle(sensor)
        _lifecycle.start()

    def _uninstrument(self, **kwargs: Any) -> None:
        if _lifecycle is not None:
            _lifecycle.stop()


def current_lifecycle() -> SensorLifecycle | None:
    return _lifecycle
