"""Start, fork, exec and exit of a process with the sensor on.

* start: the hook is installed; nothing of OpenTelemetry is loaded yet.  Records wait in
  the recorder's bounded buffers; the first one asks for activation (activation.py).  In a
  child started with ``TRACEPARENT`` (an instrumented parent spawned it inside a span),
  the process span's state exists from the start, so the child's events are attributed to
  it in the parent's trace even before OpenTelemetry loads.
* link (once the providers exist): the enricher is registered (span start/end → sensor
  state, span events), the hook reads OTel's context, the process span ``process <name>``
  is started (dated from the start) with the id its records already carry, and the log
  thread hands the buffered records over.
* fork: the child drops the parent's buffers and spans and gets its own log thread.
* exec: the process image is about to be replaced: the process span is ended and
  everything pending is flushed synchronously, from inside the hook.
* exit: the process span ends, the start-up / unattributed summaries and pending log
  records are emitted, before the SDK providers flush (activation.at_exit).
"""

from __future__ import annotations

import _thread
import os
import sys
import time

from mcptrace import _guard, activation
from mcptrace.record import vocabulary as ev
from mcptrace.record.recorder import PROCESS, SUMMARY_WINDOW_SECONDS
from mcptrace.record.state import SpanState
from mcptrace.sensor import translate
from mcptrace.sensor.hook import Sensor, install, link_otel

# A process with records activates at exit anyway: activating a little earlier in a thread
# costs nothing more, and one that exits sooner is not slowed at all.
LAZY_WRITE_SECONDS = 1.0

TYPE_CHECKING = False  # not typing's: imported as the interpreter starts
if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import ReadableSpan, Span
    from opentelemetry.trace import SpanContext

    from mcptrace.export.enrich import Additions


def started_from_site() -> bool:
    """True while site.py / sitecustomize runs (before __main__): our own start-up."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.endswith(("sitecustomize.py", os.sep + "site.py")):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _hold_program_threads() -> None:
    """mcptrace's exit begins, the program's is over: what its daemon threads would do from
    here on, in time only mcptrace's exit gives them, waits at their next action instead."""
    from mcptrace.sensor import exit_hold

    exit_hold.start(activation.EXIT_REQUESTERS)


class EarlySpanContext:
    """The process span's identity before OpenTelemetry loads: the trace of TRACEPARENT and
    a span id chosen now.  Records taken before the span exists carry this; the log thread
    resolves it to the real span's context (same ids) once the span is started."""

    __slots__ = ("real", "span_id", "trace_flags", "trace_id", "trace_state")

    def __init__(self, trace_id: int, span_id: int, trace_flags: int, trace_state: str) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.trace_flags = trace_flags
        self.trace_state = trace_state
        self.real: SpanContext | None = None

    @classmethod
    def from_environment(cls) -> EarlySpanContext | None:
        """From a valid W3C ``TRACEPARENT`` (version 00), else None."""
        parts = os.environ.get("TRACEPARENT", "").strip().lower().split("-")
        if len(parts) < 4 or parts[0] == "ff" or len(parts[1]) != 32 or len(parts[2]) != 16:
            return None
        try:
            trace_id, parent_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
        except ValueError:
            return None
        if not trace_id or not parent_id:
            return None
        span_id = int.from_bytes(os.urandom(8), "big") or 1
        return cls(trace_id, span_id, flags & 0xFF, os.environ.get("TRACESTATE", ""))

    def traceparent(self) -> str:
        return f"00-{self.trace_id:032x}-{self.span_id:016x}-{self.trace_flags:02x}"

    def resolve(self) -> SpanContext | None:
        return self.real


class SensorEnricher:
    """Feeds span starts/ends to the registry; returns the span's events and counters."""

    # a SERVER span of mcptrace's scope is an MCP request's by its scope alone (span_started)
    blind_start = True

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
        if recorder.quiet(state):  # recorded nothing, judged by nothing (an SDK client span)
            additions = recorder.counters_only(state)
        else:
            with _guard.sensor_paused():  # module describers read files: not the tool's
                additions = recorder.span_additions(state, span.attributes)
        if recorder.pending:  # wake the log thread only for work: a wake-up per request
            recorder.pump.notify()  # costs a GIL hand-off on the server's hot path
        return additions


class SensorLifecycle:
    def __init__(self, sensor: Sensor) -> None:
        self.sensor = sensor
        self.enricher = SensorEnricher(sensor)
        self.process_span: object = None
        self.early: EarlySpanContext | None = None
        self.started_ns = time.time_ns()
        self.window_started = time.monotonic()
        self.closed = False
        self.linked = False

    def start(self) -> None:
        """Install the hook; OpenTelemetry is linked in when the providers exist."""
        sensor = self.sensor
        recorder = sensor.recorder
        sensor.registry.on_first_request = self._on_first_request
        recorder.pump.on_tick.append(self._rotate_unattributed)
        sensor.on_exec = self.before_exec
        if started_from_site():
            sensor.active, sensor.bootstrapping = False, True
        self._early_process_state()
        recorder.on_first_record = self._write_soon
        install(sensor)
        activation.on_exit(self.at_exit, needs=self.has_records)
        activation.on_exit_begin(_hold_program_threads)
        activation.when_active(self.link)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self.after_fork_in_child)

    def _write_soon(self) -> None:
        """The first record of a process that has not set up OpenTelemetry: a short process
        writes it at exit, one that lives on writes it after ``LAZY_WRITE_SECONDS``, so a
        SIGKILL costs at most that much (plus the 1 s batches), never the whole run."""
        try:
            _thread.start_new_thread(self._activate_later, ())
        except RuntimeError:  # no thread now (interpreter shutting down): at exit, then
            pass

    def _activate_later(self) -> None:
        time.sleep(LAZY_WRITE_SECONDS)
        if self.linked or activation.exiting() or activation.is_settled():
            return
        me = _thread.get_ident()
        _guard.PAUSED.add(me)  # what activation opens is not the program's
        try:
            activation.activate_in_background()
            self.sensor.recorder.pump.notify()  # what waited is emitted now, not in 1 s
        except Exception:
            pass
        finally:
            # this thread ends here, and its id goes to the next thread started: a tool's
            # worker thread must not inherit the pause (its file opens went unrecorded)
            _guard.PAUSED.discard(me)

    def link(self) -> None:
        """The providers exist: spans get their events, records become log records."""
        if self.linked:
            return
        from mcptrace.export.enrich import register_enricher

        self.linked = True
        register_enricher(self.enricher)
        self._start_process_span()  # may replace OTel's context variable: link after it
        link_otel(self.sensor)
        self.sensor.recorder.pump.start()
        if hasattr(os, "register_at_fork"):
            # registered after threading's own at-fork hook (the pump imported threading):
            # a thread started before that hook runs is dropped from threading's table
            # and fails as it ends (KeyError in Thread._delete)
            os.register_at_fork(after_in_child=self._start_pump_in_child)

    def has_records(self) -> bool:
        """Something for the exporters: a pending record, or events on the process span."""
        recorder = self.sensor.recorder
        process = self.sensor.registry.process
        return (
            bool(recorder.pending)
            or bool(recorder.pump.ready)
            or (process is not None and bool(process.events))
        )

    def stop(self) -> None:
        """Audit hooks cannot be removed: stop recording and unregister the enricher.

        Refused while a policy is locked in: the policy needs the sensor's observations."""
        from mcptrace.export.enrich import unregister_enricher

        if not self.sensor.set_active(False):
            activation.report("mcptrace: a policy is locked in; the sensor stays on")
            return
        unregister_enricher(self.enricher)

    def resume(self) -> None:
        from mcptrace.export.enrich import register_enricher

        self.sensor.set_active(True)
        register_enricher(self.enricher)

    # --- process span for an instrumented child

    def _early_process_state(self) -> None:
        early = EarlySpanContext.from_environment()
        if early is None:
            return
        state = SpanState(early, label=PROCESS)  # type: ignore[arg-type]  # resolved later
        self.early = early
        self.sensor.registry.process = state

    def _start_process_span(self) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind

        from mcptrace.export.providers import PRESET_SPAN_IDS
        from mcptrace.record.redact import redact_argv

        state = self.sensor.registry.process
        parent = activation.parent_context()
        if parent is None or state is None or self.early is None:
            return
        argv = [sys.executable, *sys.argv[1:]] if sys.argv else [sys.executable]
        name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
        tracer = trace.get_tracer(ev.SENSOR_SCOPE)
        PRESET_SPAN_IDS[_thread.get_ident()] = self.early.span_id
        try:
            span = tracer.start_span(
                f"process {name or 'python'}",
                context=parent,
                kind=SpanKind.INTERNAL,
                start_time=self.started_ns,
                attributes={
                    ev.PROCESS_PID: os.getpid(),
                    ev.PROCESS_PARENT_PID: os.getppid(),
                    ev.PROCESS_EXECUTABLE_PATH: sys.executable,
                    ev.PROCESS_COMMAND_ARGS: redact_argv(argv),
                },
            )
        finally:
            PRESET_SPAN_IDS.pop(_thread.get_ident(), None)
        registry = self.sensor.registry
        started = registry.by_span.pop(span, None)  # the enricher's fresh state: use ours
        if started is None:  # not our SDK provider: nothing to attach events to
            registry.process = None
            span.end()
            return
        span_context = span.get_span_context()
        registry.by_id.pop(span_context.span_id, None)
        self.early.real = span_context
        state.span_context = span_context
        state.key = span
        registry.by_span[span] = state
        registry.by_id[span_context.span_id] = state
        self.process_span = span
        activation.set_ambient_context(trace.set_span_in_context(span, parent))

    def _end_process_span(self) -> None:
        span, self.process_span = self.process_span, None
        if span is not None:
            self.sensor.registry.process = None
            span.end()  # type: ignore[attr-defined]

    # --- summaries

    def _on_first_request(self) -> None:
        self.sensor.recorder.summarize(self.sensor.registry.startup, "startup")
        self.sensor.recorder.pump.notify()
        # Start-up is over: what it built (modules, the SDK, mcptrace's own objects, the
        # server's tools) lives as long as the process.  Frozen, the cyclic GC's full
        # collections stop walking it on every pass: a full collection of a server was a
        # ≈50 ms stall.  (Objects are still freed by reference counting; a cycle left over
        # from start-up is kept.)
        import gc

        gc.freeze()

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
        if not self.linked:
            if not self.has_records():
                return
            activation.activate()  # the image is about to go: its records must be written
        self.flush()
        active = activation.telemetry()
        if active is not None:
            active.force_flush(5_000)

    def at_exit(self) -> None:
        if self.closed:
            return
        self.closed = True
        if not self.linked:  # never activated: nothing to write (activation.at_exit decided)
            self.sensor.set_active(False)
            return
        # stopped first: a record another producer submits from now on is emitted by it,
        # not left behind in the pump after its last flush
        self.sensor.recorder.pump.stop()
        try:
            self.flush()
        finally:
            self.sensor.set_active(False)  # the providers shut down next (unless a policy
            # is locked in: it keeps judging until the end)

    def after_fork_in_child(self) -> None:
        _guard.PAUSED.intersection_update({_thread.get_ident()})
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
        self.early = None
        if not self.linked:  # the parent's timer did not come along
            self.sensor.recorder.on_first_record = self._write_soon

    def _start_pump_in_child(self) -> None:
        self.sensor.recorder.pump.start()
