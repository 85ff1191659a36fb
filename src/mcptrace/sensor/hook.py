"""The audit hook (PEP 578): a short pipeline of small steps, the cheapest first.

    1. reject      event not in the frozen set of interesting names → return (most events)
    1b. importer   the importer reading its own module files (.pyc opens) → return
    2. guard       sensor off, interpreter finalizing, or this thread is mcptrace's own
                   (exporter, spool writer, the sensor itself: ``_guard.PAUSED``) → return;
                   otherwise the thread is marked busy, so nothing below can recurse.
                   Started from site/sitecustomize, the sensor stays off until __main__
                   starts (``cpython.run_*``): mcptrace's own start-up is not the program's
    3. translate   audit args → Observation (plain data) or None
    4. attribute   → (SpanState, "context" | "inferred" | "none"), or None for telemetry's own
                   work (the SDK's suppress-instrumentation flag)
    5. decide      the policy seam (sensor/decide.py): may raise PolicyDenial
    6. record      bounded per-span buffers and counters (sensor/recorder.py)

Nothing in the hook calls the OTel API.  Any error is counted and swallowed, except a
deliberate ``PolicyDenial`` and KeyboardInterrupt/SystemExit.

Usage::

    sensor = Sensor(categories={"file", "network"}, span_events_per_category=32)
    install(sensor)        # once per process: audit hooks cannot be removed
    sensor.active = False  # what "uninstrument" does
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from mcptrace import _guard
from mcptrace.sensor import decide as decide_module
from mcptrace.sensor import events as ev
from mcptrace.sensor import translate as translate_module
from mcptrace.sensor.attribution import SpanRegistry
from mcptrace.sensor.decide import PolicyDenial
from mcptrace.sensor.events import Observation
from mcptrace.sensor.recorder import Recorder
from mcptrace.sensor.translate import (
    MAIN_STARTS,
    TRANSLATORS,
    interesting_events,
    is_importer_open,
)

AuditHook = Callable[[str, tuple[Any, ...]], None]


class Sensor:
    """Everything the hook reads, in one object."""

    def __init__(self, categories: Iterable[str], span_events_per_category: int = 32) -> None:
        self.categories = frozenset(categories) | {ev.TAMPER}
        self.interesting = interesting_events(self.categories)
        self.registry = SpanRegistry()
        self.recorder = Recorder(span_events_per_category)
        self.active = True
        self.bootstrapping = False  # off until __main__ starts (set by the lifecycle)
        self.errors = 0
        self.on_exec: Callable[[], None] | None = None  # flush before the image is replaced


def translate(event: str, args: tuple[Any, ...]) -> Observation | None:
    return TRANSLATORS[event].translate(args)


def make_hook(sensor: Sensor) -> AuditHook:
    interesting = sensor.interesting  # immutable, captured: the first test is a set lookup
    categories = sensor.categories
    paused = _guard.PAUSED
    get_ident = threading.get_ident
    is_finalizing = sys.is_finalizing
    registry = sensor.registry
    recorder = sensor.recorder
    decide = decide_module.decide

    def mcptrace_audit_hook(event: str, args: tuple[Any, ...]) -> None:
        if event not in interesting:  # 1. reject
            return
        if event == "open" and is_importer_open(args):  # 1b. the importer's own reads
            return
        thread_id = get_ident()  # 2. guard
        if thread_id in paused or not sensor.active or is_finalizing():
            if sensor.bootstrapping and event in MAIN_STARTS:
                sensor.bootstrapping = False
                sensor.active = True
            return
        if event in MAIN_STARTS:
            return
        paused.add(thread_id)
        try:
            observation = translate(event, args)  # 3.
            if observation is None or observation.category not in categories:
                return
            attribution = registry.attribute()  # 4.
            if attribution is None:
                return
            decide(observation, attribution)  # 5.
            recorder.record(observation, attribution[0], attribution[1], thread_id)  # 6.
            if observation.name == ev.PROCESS_EXEC and sensor.on_exec is not None:
                sensor.on_exec()
        except PolicyDenial:
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:
            sensor.errors += 1
        finally:
            paused.discard(thread_id)

    return mcptrace_audit_hook


_installed: Sensor | None = None


def install(sensor: Sensor) -> bool:
    """Add the hook for ``sensor``; False if a hook is already installed in this process."""
    global _installed
    if _installed is not None:
        return False
    translate_module.register_own_files(__file__)
    sys.addaudithook(make_hook(sensor))
    _installed = sensor
    return True


def installed() -> Sensor | None:
    return _installed
