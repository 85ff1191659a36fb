"""Start, fork, exec and exit of a process with the sensor on.

* start: the enricher is registered (span start/end → sensor state, span events), the hook
  installed, the log thread started.  In a child started with ``TRACEPARENT`` (an
  instrumented parent spawned it inside a span), one INTERNAL span ``process <name>`` is
  started as a child of that span and made current in the main thread: the child's events
  become its span events and log records, in the parent's trace.
* fork: the child drops the parent's buffers and spans and gets its own log thread.
* exec: the process image is about to be replaced: the process span is ended and
  everything pending is flushed synchronously, from inside the hook.
* exit: the process span ends, the start-up / unattributed summaries and pending log
  records are emitted, before the SDK providers flush (atexit is last-in, first-out).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span
from opentelemetry.trace import SpanKind

from mcptrace import _guard, activation
from mcptrace.export.enrich import Additions, register_enricher, unregister_enricher
from mcptrace.record import vocabulary as ev
from mcptrace.record.recorder import SUMMARY_WINDOW_SECONDS
from mcptrace.record.redact import redact_argv
from mcptrace.sensor import translate
from mcptrace.sensor.hook import Sensor, install


def started_from_site() -> bool:
    """True while site.py / sitecustomize runs (before __main__): our own start-up."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.endswith(("sitecustomize.py", os.sep + "site.py")):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


class SensorEnricher:
    """Feeds span starts/ends to the registry; returns the span's events and counters."""

    def __init__(self, sensor: Sensor) -> None:
        self.sensor = sensor

    def on_start(self, span: Span, parent_context: Context | None) -> None:
        self.sensor.registry.span_started(span, parent_context)

    def on_end(self, span: ReadableSpan) -> Additions | None:
        if span.context is None:
            return None
        state = self.sensor.registry.span_ended(span.context.span_id)
        if state is None:
            return None
        recorder = self.sensor.recorder
        with _guard.sensor_paused():  # module describers read files: not the tool's
            additions = recorder.span_additions(state, span.attributes)
        if recorder.pending:  # wake the log thread only for work: a wake-up per request
            recorder.pump.notify()  # costs a GIL hand-off on the server's hot path
        return additions


class SensorLifecycle:
    def __init__(self, sensor: Sensor) -> None:
        self.sensor = sensor
        self.enricher = SensorEnricher(sensor)
        self.process_span: trace.Span | None = None
        self.window_started = time.monotonic()
        self.closed = False

    def start(self) -> None:
        sensor = self.sensor
        register_enricher(self.enricher)
        recorder = sensor.recorder
        sensor.registry.on_first_request = self._on_first_request
        recorder.pump.on_tick.append(self._rotate_unattributed)
        sensor.on_exec = self.before_exec
        if started_from_site():
            sensor.active, sensor.bootstrapping = False, True
        install(sensor)
        recorder.pump.start()
        self._start_process_span()
        atexit.register(self.at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self.after_fork_in_child)

    def stop(self) -> None:
        """Audit hooks cannot be removed: stop recording and unregister the enricher."""
        self.sensor.active = False
        unregister_enricher(self.enricher)

    def resume(self) -> None:
        self.sensor.active = True
        register_enricher(self.enricher)

    # --- process span for an instrumented child

    def _start_process_span(self) -> None:
        parent = activation.parent_context()
        if parent is None:
            return
        argv = [sys.executable, *sys.argv[1:]] if sys.argv else [sys.executable]
        name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
        tracer = trace.get_tracer(ev.SENSOR_SCOPE)
        span = tracer.start_span(
            f"process {name or 'python'}",
            context=parent,
            kind=SpanKind.INTERNAL,
            attributes={
                ev.PROCESS_PID: os.getpid(),
                ev.PROCESS_PARENT_PID: os.getppid(),
                ev.PROCESS_EXECUTABLE_PATH: sys.executable,
                ev.PROCESS_COMMAND_ARGS: redact_argv(argv),
            },
        )
        state = self.sensor.registry.by_span.get(span)
        if state is None:  # not our SDK provider: nothing to attach events to
            span.end()
            return
        self.process_span = span
        self.sensor.registry.process = state
        otel_context.attach(trace.set_span_in_context(span, parent))

    def _end_process_span(self) -> None:
        span, self.process_span = self.process_span, None
        if span is not None:
            self.sensor.registry.process = None
            span.end()

    # --- summaries

    def _on_first_request(self) -> None:
        self.sensor.recorder.summarize(self.sensor.registry.startup, "startup")
        self.sensor.recorder.pump.notify()

    def _rotate_unattributed(self) -> None:
        now = time.monotonic()
        if now - self.window_started >= SUMMARY_WINDOW_SECONDS:
            self.window_started = now
            self.sensor.recorder.summarize(self.sensor.registry.unattributed, "unattributed")

    # --- process events

    def flush(self) -> None:
        recorder = self.sensor.recorder
        registry = self.sensor.registry
        self._end_process_span()
        recorder.summarize(registry.startup, "startup")
        recorder.summarize(registry.unattributed, "unattributed")
        recorder.pump.flush()

    def before_exec(self) -> None:
        self.flush()
        active = activation.telemetry()
        if active is not None:
            active.force_flush(5_000)

    def at_exit(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.flush()
        finally:
            self.sensor.active = False  # the providers shut down next
            self.sensor.recorder.pump.stop()

    def after_fork_in_child(self) -> None:
        _guard.PAUSED.intersection_update({threading.get_ident()})
        drain = self.sensor.recorder.drain
        if drain is not None:  # the C hook's counts belong to the parent's spans: let go
            try:
                drain()
            except Exception:
                pass
        self.sensor.registry.reset()
        self.sensor.recorder.reset_after_fork()  # the pump's producers stay attached
        translate.reset_after_fork()
        self.process_span = None
        self.sensor.recorder.pump.start()
