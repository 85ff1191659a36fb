"""Bounded buffers for the sensor's records, and their conversion to OTel data.

Usage::

    recorder = Recorder(span_events_per_category=32)
    recorder.record(observation, state, "context", thread_id)   # in the hook: tuples only
    additions = recorder.span_additions(state)                   # at span end (enricher)
    recorder.pump.flush()                                        # log records, off the hot path

Per span and category, the first ``span_events_per_category`` events become span events and
the first ``LOG_RECORDS_FACTOR`` times that many become log records; every event is counted
on the span's root (``mcptrace.events.<category>.count``) and those that became no log record
are counted in ``mcptrace.events.dropped``.  The queue to the log thread is bounded too, so
memory stays flat whatever the tool does.

An event identical to one this span already recorded (same name, audit event, attributes,
attribution and thread) is coalesced into that record, which counts it in
``mcptrace.event.repeats``, until the record is emitted as a log record; the next identical
event then starts a new record.  A loop opening one file 20,000 times is one record that says
so, not 256 copies, and the log and span event of a record carry the same count.  Repeats
count towards the log cap, so a flood reaches the count-only state as before; the span-event
cap counts records, so a file read once after many repeats of another still shows inline.
"""

from __future__ import annotations

import _thread
import time
from _collections import deque  # type: ignore[import-not-found]  # (no collections/)

from mcptrace import _guard
from mcptrace.record import vocabulary as ev
from mcptrace.record.modules import describe_module, module_name_for
from mcptrace.record.observation import Observation, detection_severity, severity_of
from mcptrace.record.state import SpanRegistry, SpanState

# Records are plain data, kept from interpreter start: OpenTelemetry is loaded when they are
# converted, threading when the log thread starts, typing never.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Mapping
    from typing import Any

    from opentelemetry._logs import Logger
    from opentelemetry.context import Context
    from opentelemetry.trace import SpanContext
    from opentelemetry.util.types import AttributeValue

    from mcptrace.export.direct_logs import SpoolTextLogger
    from mcptrace.export.enrich import Additions
    from mcptrace.export.shared import SharedAttributes

# [time_ns, observation, attribution, thread id, repeats, sealed]: a list, because repeats of
# the same event are counted on it until the log thread emits it (seals it); once sealed,
# ``record_attributes`` appends the attributes it built (ATTRIBUTES), for every later use
if TYPE_CHECKING:
    Record = list[Any]
else:
    Record = list
TIME, OBSERVATION, HOW, THREAD, REPEATS, SEALED, ATTRIBUTES = range(7)
LOG_RECORDS_FACTOR = 8
QUEUE_LIMIT = 8192
JUDGE_ONLY_LIMIT = 2048  # per category of a span-less bucket: judged, never emitted
SUMMARY_WINDOW_SECONDS = 10.0
SENSOR_CATEGORY = "sensor"
PROCESS = "process"  # the label of a child's process span state
_time_ns = time.time_ns


PAST_CAP_SUSPECT = 64  # per span: actions past the cap a pre-filter could not clear
PAST_CAP_LATEST = 32  # per span: the last actions past the cap
_LOOPBACK_PREFIXES = ("127.", "::1", "localhost", "0:0:0:0:0:0:0:1", "::ffff:127.")
_SYSTEM_PREFIXES = ("/etc/", "/proc/", "/var/", "/run/", "/root/", "/usr/", "/boot/")


def _suspect(observation: Observation) -> bool:
    """False only for an action past the cap that no built-in detection could be about.

    Code compiled or run by library machinery (typing's forward references, dataclasses,
    pydantic: thousands at start-up) meets only the rule about strings that import a module
    (the others judge the tool's own code) and the one about a module compiled from an
    archive in a scratch directory (zipimport's compile, named by its file): it is suspect
    only when it imports one or is named by a file rather than a pseudo name (``<string>``)."""
    category = observation[1]
    attributes = observation[2]
    if observation[0] == ev.CODE_EXEC:
        origin = attributes.get(ev.ORIGIN)
        filename = attributes.get(ev.CODE_FILENAME)
        return (
            origin is None
            or str(origin) not in ev.LIBRARY_ORIGINS
            or bool(attributes.get(ev.CODE_IMPORTS_MODULE))
            or type(filename) is not str
            or filename[:1] != "<"
        )
    if category == ev.FILE:
        path = attributes.get(ev.FILE_PATH)
        if type(path) is not str:
            return True
        return "/." in path or path.startswith(_SYSTEM_PREFIXES) or "-packages" in path
    if category == ev.NETWORK:
        address = attributes.get(ev.SERVER_ADDRESS)
        return type(address) is not str or not address.startswith(_LOOPBACK_PREFIXES)
    return category != ev.IMPORT


def cleared_open(event: str, args: tuple[Any, ...]) -> bool:
    """An ``open`` past the cap the pre-filter clears from its raw arguments (absolute path,
    nothing suspect): the hook then only counts it, as without detections."""
    if event != "open" or not args:
        return False
    path = args[0]
    return (
        type(path) is str
        and path[:1] == "/"
        and "/." not in path
        and not path.startswith(_SYSTEM_PREFIXES)
        and "-packages" not in path
    )


_SEVERITY_TEXT = {"WARN": "WARN", "ERROR": "ERROR", "ERROR2": "ERROR"}  # by SeverityNumber name


def record_attributes(record: Record) -> SharedAttributes:
    """The attributes of a span event / log record (module details resolved, paths redacted
    here).  Built once per sealed record: its detection, its span event and its log record
    all read the one dict (which none of them changes; a log record gets a copy)."""
    if len(record) > ATTRIBUTES:
        built: SharedAttributes = record[ATTRIBUTES]
        return built
    attributes = _build_attributes(record)
    if record[SEALED] and len(record) == ATTRIBUTES:  # repeats are final: keep them
        record.append(attributes)
    return attributes


def _build_attributes(record: Record) -> SharedAttributes:
    observation, how, thread_id = record[OBSERVATION], record[HOW], record[THREAD]
    attributes = dict(observation.attributes)
    if observation.name == ev.MODULE_IMPORT:
        path = str(attributes.get(ev.FILE_PATH, ""))
        if ev.MODULE_NAME not in attributes:
            name = module_name_for(path)
            if name is not None:
                attributes[ev.MODULE_NAME] = name
        attributes.update(describe_module(path))
    redact_path, shared = _helpers or _load_helpers()
    for key in (ev.FILE_PATH, ev.FILE_TARGET_PATH):
        value = attributes.get(key)
        if isinstance(value, str):  # a key's published format in a file name is a secret
            attributes[key] = redact_path(value)
    attributes[ev.ATTRIBUTION] = how
    attributes[ev.AUDIT_EVENT] = observation.audit_event
    attributes[ev.THREAD_ID] = thread_id
    if record[REPEATS]:
        attributes[ev.EVENT_REPEATS] = record[REPEATS]
    return shared(attributes)


_helpers: tuple[Callable[[str], str], type[SharedAttributes]] | None = None


def _load_helpers() -> tuple[Callable[[str], str], type[SharedAttributes]]:
    """Loaded with the first conversion, not at interpreter start (re, urllib, export)."""
    global _helpers
    from mcptrace.export.shared import SharedAttributes
    from mcptrace.record.redact import redact_path

    _helpers = (redact_path, SharedAttributes)
    return _helpers


def counter_attributes(state: SpanState) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        ev.count_attribute(category): count for category, count in state.counts.items()
    }
    if attributes:
        attributes[ev.EVENTS_DROPPED] = state.dropped
    return attributes


class Recorder:
    def __init__(self, span_events_per_category: int = 32) -> None:
        self.span_cap = span_events_per_category
        self.log_cap = span_events_per_category * LOG_RECORDS_FACTOR
        self.pending: deque[tuple[Record, SpanContext | None]] = deque()
        self.pump = LogPump(self)
        # the C hook's drain() (sensor/_fasthook.c): counts it keeps in C until a span ends
        self.drain: Callable[[], None] | None = None
        # judges a span's records when it ends (policy/detect_stage.py): its span events
        self.detector: Detector | None = None
        # whether the detector has anything to do for a span (else it returns no events at
        # once): set with it; None while a detector is set means it judges every span
        self.judges: Callable[[SpanState], bool] | None = None
        # judges, on the log thread, the records no span end will judge: those of a thread
        # still working after its call ended (``mcptrace.span.ended``) and those of no call
        # (start-up, unattributed); returns detection records to emit with them
        self.late_detector: LateDetector | None = None
        self.judge_only: deque[Record] = deque(maxlen=QUEUE_LIMIT)
        self.detector_errors = 0
        # past the log cap, records are still kept (bounded) for the detector to judge, so a
        # flood of harmless actions cannot hide the one that matters (detect_stage sets it)
        self.judge_past_cap = False
        # held to count, and to look up, add or seal a record open to repeats: nothing inside
        # it calls out or raises an audit event; re-entrant all the same, for a signal handler
        # that runs between two of its bytecodes and ends a span in the same thread
        self.lock = _thread.RLock()
        # called once, with the first record of a process that has no exporter yet
        self.on_first_record: Callable[[], None] | None = None

    # --- hot path: plain lists and integer counters, no OTel call; one lock around the
    # counters and the records open to repeats (a thread switch can fall between the read
    # and the write of a counter, and threads share a span when attribution is inferred)

    def first_lookup(self, state: SpanState, observation: Observation) -> bool:
        """False for a native symbol this span already looked up in the same library.

        ctypes raises ``ctypes.dlsym`` on every ``lib["name"]``, ``in_dll`` and prototype
        call, so a wrapper resolving its functions per call would fill the span's native
        cap with copies and push a later library load out of the span events.  A repeat
        says nothing new: it is neither recorded nor counted (the policy has already
        judged it).  Past the log cap, lookups are only counted anyway, so the set holds
        at most ``log_cap`` keys per span and goes with the span.
        """
        if state.kept.get(ev.NATIVE, 0) >= self.log_cap:
            return True
        attributes = observation[2]
        key = (attributes.get(ev.FILE_PATH), attributes.get(ev.NATIVE_SYMBOL_NAME))
        seen = state.symbols
        if seen is None:
            state.symbols = {key}
            return True
        if key in seen:
            return False
        seen.add(key)
        return True

    def _keep_past_cap(
        self, state: SpanState, observation: Observation, how: str, thread_id: int
    ) -> None:
        """An action past the span's log cap: kept for the detector only, never emitted.

        Two bounded lists per span: ``suspect`` holds the first actions a cheap pre-filter
        cannot clear (dot-files, system paths, non-loopback peers, spawns, exec, native
        loads), ``latest`` the last ones whatever they are, so flooding the pre-filter
        still leaves the action that follows the flood to be judged.
        """
        record: Record = [_time_ns(), observation, how, thread_id, 0, True]
        past = state.past_cap
        if past is None:
            past = state.past_cap = ([], deque(maxlen=PAST_CAP_LATEST))
        suspect = past[0]
        if len(suspect) < PAST_CAP_SUSPECT and _suspect(observation):
            suspect.append(record)
        else:
            past[1].append(record)

    def only_counts(self, state: SpanState, category: str) -> bool:
        """True when ``record`` would now only count an observation of ``category`` made for
        ``state``: no record, span event or judge would keep it, so the hook skips the work
        that only a kept observation reads (the origin walk).  The same tests as ``record``'s
        but one: past start-up's judges' budget, ``record`` still keeps what a detection could
        be about (``_suspect``, which reads the origin mark), so there the answer is False.
        The counts only grow and the judges only come in, so the answer holds until
        ``record`` runs (but for a judge installed by another thread in between)."""
        span_context = state.span_context
        if category == ev.IMPORT and (span_context is None or state.label == PROCESS):
            return True
        seen = state.kept.get(category, 0) + 1
        if span_context is None:  # past the judges' budget, a suspect action is still judged
            return seen > self.span_cap and not self.late_detector
        return seen > self.log_cap and not (self.judge_past_cap and not state.ended)

    def judged_only(self, state: SpanState, category: str) -> bool:
        """True when ``record`` would keep an observation of ``category`` made for ``state``
        for the late judge at most, never as a record, span event or log record: start-up's
        and unattributed activity past the span cap.  The hook then leaves out what only an
        emitted record reads (the responsible library of the origin mark) and hashes a
        compiled string only when the record is kept (``_suspect``): the judges read
        neither the hash nor the library.  Holds until ``record`` runs, as ``only_counts``."""
        return (
            state.span_context is None
            and bool(self.late_detector)
            and state.kept.get(category, 0) >= self.span_cap
        )

    def record(self, observation: Observation, state: SpanState, how: str, thread_id: int) -> None:
        category = observation[1]
        root = state.root
        span_context = state.span_context
        ended = state.ended
        if ended:  # its span is gone: a log record linked to it, saying so
            observation = observation._replace(attributes={**observation[2], ev.SPAN_ENDED: True})
        key: tuple[object, ...] | None
        with self.lock:  # threads sharing a span (inferred), span end: counts lose nothing
            if not root.ended:  # an ended call's counters are final: late records are logs
                root.counts[category] = root.counts.get(category, 0) + 1
            seen = state.kept.get(category, 0) + 1
            state.kept[category] = seen
            if category == ev.IMPORT and (span_context is None or state.label == PROCESS):
                # start-up, unattributed and a child's own imports: a count in the summary
                # (the module inventory reports each module with its provenance)
                return
            if seen > (self.log_cap if span_context is not None else self.span_cap):
                root.dropped += 1
                if (
                    span_context is None
                    and self.late_detector
                    and (
                        (seen <= JUDGE_ONLY_LIMIT and observation[0] != ev.CODE_EXEC)
                        or _suspect(observation)
                    )
                ):
                    # past the log cap of start-up / unattributed: not emitted, still judged;
                    # past the judges' budget too when a detection could be about it (a
                    # payload run after the import of a large library: typing, dataclasses
                    # and pydantic alone compile thousands of strings at start-up).  Code
                    # no built-in detection could be about (library machinery's, importing
                    # nothing, under a pseudo name) is only counted, within the budget too:
                    # judging it cost start-up's log thread ≈35 us a record (issue 20)
                    self.judge_only.append([_time_ns(), observation, how, thread_id, 0, True])
                if self.judge_past_cap and span_context is not None and not ended:
                    self._keep_past_cap(state, observation, how, thread_id)
                return
            recent = state.recent  # the key is built only now: most events past the caps
            key = (observation[0], observation[3], how, thread_id, *observation[2].items())
            try:
                earlier = recent.get(key)
            except TypeError:  # an unhashable attribute value: recorded on its own
                key = earlier = None
            if earlier is not None and not earlier[SEALED]:
                earlier[REPEATS] += 1
                return
            if len(self.pending) >= QUEUE_LIMIT:
                root.dropped += 1
                return
            record: Record = [_time_ns(), observation, how, thread_id, 0, False]
            # every record of the span is in ``recent`` until it ends (the detector reads it)
            recent[key if key is not None else (id(record),)] = record
            if span_context is not None and not ended:  # span events: the first records count
                shown = state.shown.get(category, 0)
                if shown < self.span_cap:
                    state.shown[category] = shown + 1
                    state.events.append(record)
        self.pending.append((record, span_context))
        if self.on_first_record is not None:
            first, self.on_first_record = self.on_first_record, None
            first()

    # --- conversions (off the hot path)

    def quiet(self, state: SpanState) -> bool:
        """Whether ``span_additions(state)`` has nothing to convert or judge: no records, no
        span events, and no detector that judges this span.  Then ``counters_only`` returns
        the same, with no file read or import on the way (no pause of the sensor needed)."""
        if state.recent or state.past_cap is not None or state.events:
            return False
        if self.detector is None:
            return True
        return self.judges is not None and not self.judges(state)

    def counters_only(self, state: SpanState) -> Additions | None:
        """``span_additions`` of a ``quiet`` span: the counters of a root, if any."""
        if state.root is not state:
            return None
        if self.drain is not None:
            self.drain()  # the C hook's counts for this span (and others) into the objects
        counters = counter_attributes(state)
        if not counters:
            return None
        from mcptrace.export.enrich import Additions

        return Additions(attributes=counters, events=[])

    def span_additions(
        self, state: SpanState, span_attributes: Mapping[str, Any] | None = None
    ) -> Additions | None:
        """Span events for the records kept on ``state``, counters if it is a root.

        A span that recorded nothing (most spans) builds no objects: ``None``."""
        records: list[Record] = []
        if state.recent:  # the span's records are complete: its log records say the same
            with self.lock:
                for record in state.recent.values():
                    record[SEALED] = True
                records = list(state.recent.values())
                state.recent.clear()
        past = state.past_cap
        if past is not None:  # judged, not emitted: their counts are already on the root
            state.past_cap = None
            records.extend(past[0])
            records.extend(past[1])
        events: list[Any] = []
        if self.detector is not None:
            try:
                events.extend(self.detector(state, records, span_attributes))
            except Exception:
                self.detector_errors += 1
        if state.events:
            from opentelemetry.sdk.trace import Event

            for record in state.events:
                events.append(
                    Event(
                        record[OBSERVATION].name, record_attributes(record), timestamp=record[TIME]
                    )
                )
            state.events.clear()
        counters: dict[str, AttributeValue] | None = None
        if state.root is state:
            if self.drain is not None:
                self.drain()  # the C hook's counts for this span (and others) into the objects
            counters = counter_attributes(state)
        if not events and not counters:
            return None
        from mcptrace.export.enrich import Additions

        return Additions(attributes=counters or {}, events=events)

    def summarize(self, bucket: SpanState, phase: str) -> None:
        """One log record with the counts of a bucket (start-up, unattributed); resets it."""
        if not bucket.counts:
            return
        attributes = counter_attributes(bucket)
        attributes[ev.SENSOR_PHASE] = phase
        attributes[ev.ATTRIBUTION] = ev.NONE
        observation = Observation(ev.SENSOR_SUMMARY, SENSOR_CATEGORY, attributes, "")
        bucket.reset()
        record: Record = [_time_ns(), observation, ev.NONE, _thread.get_ident(), 0, True]
        self.pending.append((record, None))

    def reset_after_fork(self) -> None:
        """In a forked child: the parent's records are its own; the producers stay attached."""
        self.pending = deque()
        self.judge_only = deque(maxlen=QUEUE_LIMIT)
        self.lock = _thread.RLock()  # another thread may have held it at the fork
        parent = self.pump
        self.pump = LogPump(self)
        self.pump.on_tick = parent.on_tick
        self.pump.sources = parent.sources
        self.pump.after_fork = parent.after_fork
        for reset in self.pump.after_fork:
            try:
                reset()
            except Exception:
                pass

    def seal(self, record: Record) -> None:
        """No more repeats on ``record``: it is being emitted (the next copy is a new record)."""
        with self.lock:
            record[SEALED] = True


if TYPE_CHECKING:
    from opentelemetry.sdk.trace import Event

    # (span state, its records, the ending span's attributes) -> span events of detections
    Detector = Callable[[SpanState, list[Record], Mapping[str, Any] | None], list[Event]]
    # records emitted after their span ended or outside any span -> detection records
    LateDetector = Callable[
        [list[tuple[Record, SpanContext | None]]], list[tuple[Record, SpanContext | None]]
    ]


def _judged_late(record: Record, span_context: SpanContext | None) -> bool:
    """A record no span end judges: after its span ended, or attributed to no span."""
    observation = record[OBSERVATION]
    if observation.category in (SENSOR_CATEGORY, ev.DETECTION_CATEGORY):
        return False
    return span_context is None or bool(observation.attributes.get(ev.SPAN_ENDED))


class LogPump:
    """Turns pending records into OTel log records on a background thread (or on flush).

    The process's one log thread: other producers attach to it instead of starting their
    own (``sources`` are flushed with every flush, the exit flush included; ``on_tick``
    runs on each wake-up; ``after_fork`` resets a producer in a forked child).
    """

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.wake: threading.Event | None = None  # (threading loads with the thread)
        self.lock = _thread.allocate_lock()
        self.thread: threading.Thread | None = None
        self.stopped = False
        self.on_tick: list[Callable[[], None]] = []  # on each wake-up (bucket summaries)
        self.sources: list[Callable[[], None]] = []  # flushed after the sensor's records
        self.after_fork: list[Callable[[], None]] = []  # in a forked child
        # other producers' ready-made records (MCP sessions, inventory, pinning): emitted
        # with the next flush, in the order they came
        self.ready: deque[LogItem] = deque(maxlen=QUEUE_LIMIT)
        self._logger: Logger | None = None
        self._emitter: Callable[..., None] | None = None
        self._text: SpoolTextLogger | None = None  # set with the emitter
        self._severities: dict[str, Any] = {}
        self._severity_texts: dict[Any, tuple[int, str]] = {}  # SeverityNumber -> both
        self._contexts: dict[tuple[int, int], Context] = {}
        self.errors = 0

    def start(self) -> None:
        if self.thread is None:
            import threading

            self.wake = threading.Event()
            self.thread = threading.Thread(
                target=self._run, args=(self.wake,), name="mcptrace-sensor-logs", daemon=True
            )
            self.thread.start()

    def notify(self) -> None:
        wake = self.wake
        if wake is not None:  # before the thread starts, records wait in the queue
            wake.set()

    def stop(self) -> None:
        """No more wake-ups; what is submitted from now on is emitted by its producer."""
        self.stopped = True
        self.notify()

    def submit(self, item: LogItem) -> None:
        """Emit ``item`` with the next flush; at once if the pump has stopped (exit)."""
        if self.stopped:
            emit_item(item)
            return
        self.ready.append(item)
        self.notify()

    def _run(self, wake: threading.Event) -> None:
        _guard.PAUSED.add(_thread.get_ident())  # nothing this thread does is the tool's
        while not self.stopped:
            wake.wait(1.0)
            wake.clear()
            for tick in self.on_tick:
                try:
                    tick()
                except Exception:
                    pass
            self.flush()

    def flush(self) -> None:
        """Emit everything pending now, in the calling thread."""
        with self.lock, _guard.sensor_paused():
            pending = self.recorder.pending
            judge = self.recorder.late_detector
            late: list[tuple[Record, SpanContext | None]] = []
            while pending:
                try:
                    record, span_context = pending.popleft()
                except IndexError:
                    break
                try:
                    self._emit(record, span_context)
                except Exception:
                    self.errors += 1
                if judge is not None and _judged_late(record, span_context):
                    late.append((record, span_context))
            judge_only = self.recorder.judge_only
            while judge_only:
                try:
                    late.append((judge_only.popleft(), None))
                except IndexError:
                    break
            if late and judge is not None:
                try:
                    found = judge(late)
                except Exception:
                    self.recorder.detector_errors += 1
                    found = []
                for record, span_context in found:
                    try:
                        self._emit(record, span_context)
                    except Exception:
                        self.errors += 1
            ready = self.ready
            while ready:
                try:
                    emit_item(ready.popleft())
                except IndexError:
                    break
                except Exception:
                    self.errors += 1
        for source in self.sources:  # their own locks; outside ours
            try:
                source()
            except Exception:
                self.errors += 1

    def _context_for(self, span_context: SpanContext | None) -> Context | None:
        span_context = _resolved(span_context)
        if span_context is None:
            return None
        key = (span_context.trace_id, span_context.span_id)
        context = self._contexts.get(key)
        if context is None:
            from opentelemetry import trace
            from opentelemetry.context import Context
            from opentelemetry.trace import NonRecordingSpan

            if len(self._contexts) > 256:
                self._contexts.clear()
            context = trace.set_span_in_context(NonRecordingSpan(span_context), Context())
            self._contexts[key] = context
        return context

    def _emit(self, record: Record, span_context: SpanContext | None) -> None:
        emit = self._emitter or self._make_emitter()
        self.recorder.seal(record)
        observation = record[OBSERVATION]
        category = observation.category
        if category == SENSOR_CATEGORY:
            severity = _INFO
        elif category == ev.DETECTION_CATEGORY:
            severity = detection_severity(observation.attributes.get(ev.DETECTION_SEVERITY))
        else:
            severity = self._severities.get(category)
            if severity is None:
                severity = self._severities[category] = severity_of(category)
        text = self._text
        if text is not None:  # the spool is the only destination: written as text now
            shared: Mapping[str, Any] = (
                observation.attributes
                if observation.name == ev.SENSOR_SUMMARY
                else record_attributes(record)
            )
            number_and_text = self._severity_texts.get(severity)
            if number_and_text is None:  # (an enum's value and name are properties)
                number_and_text = (severity.value, _SEVERITY_TEXT.get(severity.name, "INFO"))
                self._severity_texts[severity] = number_and_text
            if text.emit(
                timestamp=record[TIME],
                observed_timestamp=_time_ns(),
                span_context=_resolved(span_context),
                severity_number=number_and_text[0],
                severity_text=number_and_text[1],
                attributes=shared,
                event_name=observation.name,
            ):
                return
        if observation.name == ev.SENSOR_SUMMARY:
            attributes: Mapping[str, AttributeValue] = dict(observation.attributes)
        else:  # the log record's own copy: a log processor may change it, never the span event
            attributes = record_attributes(record).shared_copy()
        emit(
            timestamp=record[TIME],
            observed_timestamp=_time_ns(),
            context=self._context_for(span_context) or _empty_context(),
            severity_number=severity,
            severity_text=_SEVERITY_TEXT.get(severity.name, "INFO"),
            attributes=attributes,
            event_name=observation.name,
        )

    def _make_emitter(self) -> Callable[..., None]:
        """The SDK logger's processors, fed ready-made records (export/direct_logs.py), or
        ``Logger.emit`` for a logger that is not the SDK's."""
        from opentelemetry._logs import SeverityNumber, get_logger
        from opentelemetry.context import Context

        from mcptrace.export.direct_logs import DirectLogger, SpoolTextLogger

        global _INFO, _empty_context
        _INFO, _empty_context = SeverityNumber.INFO, Context
        if self._logger is None:
            self._logger = get_logger(ev.SENSOR_SCOPE)
        direct = DirectLogger.of(self._logger)
        self._text = SpoolTextLogger.of(self._logger)
        self._emitter = direct.emit if direct is not None else self._logger.emit
        return self._emitter


def _resolved(span_context: SpanContext | None) -> SpanContext | None:
    """The span context, a process span's context taken before OTel loaded resolved."""
    if span_context is None:
        return None
    resolve = getattr(span_context, "resolve", None)
    if resolve is not None:
        resolved: SpanContext | None = resolve()
        return resolved
    return span_context


_INFO: Any = None  # SeverityNumber.INFO and opentelemetry's Context, once the log thread runs
_empty_context: Any = None


# A record another producer made: (scope, scope version, event name, attributes, body,
# severity number, its time, the context it was made in — the span it belongs to)
if TYPE_CHECKING:
    LogItem = tuple[str, str | None, str, Mapping[str, Any], str, int, int, Context]


_loggers: dict[tuple[str, str | None], Logger] = {}


def emit_item(item: LogItem) -> None:
    """Emit one producer's record through the SDK (the pump's thread, or the producer's)."""
    from opentelemetry._logs import SeverityNumber, get_logger

    scope, version, name, attributes, body, severity, timestamp, context = item
    number = SeverityNumber(severity)
    logger = _loggers.get((scope, version))
    if logger is None:
        logger = _loggers[(scope, version)] = get_logger(scope, version)  # type: ignore[arg-type]
    logger.emit(
        timestamp=timestamp,
        observed_timestamp=_time_ns(),
        context=context,
        severity_number=number,
        severity_text=_SEVERITY_TEXT.get(number.name, number.name),
        body=body,
        attributes=attributes,
        event_name=name,
    )


def emit_log(
    scope: str,
    version: str | None,
    name: str,
    attributes: Mapping[str, Any],
    body: str,
    severity: int,
) -> None:
    """Hand one record to the process's log pump (its producer's thread is not delayed by
    the SDK); emitted at once when there is no pump (sensor off) or it has stopped."""
    from opentelemetry.context import get_current

    item: LogItem = (scope, version, name, attributes, body, severity, _time_ns(), get_current())
    current = _active
    if current is None:
        emit_item(item)
    else:
        current[1].pump.submit(item)


_active: tuple[SpanRegistry, Recorder] | None = None
_when_active: list[Callable[[SpanRegistry, Recorder], None]] = []


def set_active(registry: SpanRegistry, recorder: Recorder) -> None:
    """Make ``registry`` and ``recorder`` the process's own (the sensor does, once)."""
    global _active
    _active = (registry, recorder)
    while _when_active:
        try:
            _when_active.pop(0)(registry, recorder)
        except Exception:  # a feeder failing must not stop the sensor
            pass


def when_active(callback: Callable[[SpanRegistry, Recorder], None]) -> None:
    """Call ``callback(registry, recorder)`` once they are active (now, if they already are).

    Instrumentors start in entry-point order, so a part that feeds the recorder (detections)
    may start before the sensor.
    """
    if _active is not None:
        callback(*_active)
    else:
        _when_active.append(callback)


def active() -> tuple[SpanRegistry, Recorder] | None:
    """The process's span registry and recorder, or None before the sensor is installed."""
    return _active
