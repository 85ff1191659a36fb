"""The audit hook (PEP 578): a short pipeline of small steps, the cheapest first.

    1. reject      event not in the frozen set of interesting names → return (most events)
    1b. importer   the importer reading a module's bytecode (.pyc, read-only) → return,
                   unless a policy is locked in: then every open is judged by where it leads
    2. guard       sensor off, interpreter finalizing, or this thread is mcptrace's own
                   (exporter, spool writer, the sensor itself: ``_guard.PAUSED``) → return;
                   otherwise the thread is marked busy, so nothing below can recurse.
                   Started from site/sitecustomize, the sensor stays off until __main__
                   starts (``cpython.run_*``): mcptrace's own start-up is not the program's.
                   With a policy locked in, a switch flipped by anyone but mcptrace (the
                   sensor's ``active``, a pause mcptrace did not make, the policy slot) is a
                   ``mcptrace.sensor.tamper`` event, judged by the policy (which denies the
                   tool's later actions), and the switch is put back
    3. attribute   → (SpanState, "context" | "inferred" | "none").  OpenTelemetry's
                   suppress-instrumentation flag is not consulted: tool code can set it too;
                   mcptrace's own export runs in paused threads (``_guard``).  Attribution
                   comes before translation so that a span already past its cap for the
                   event's category only counts the event (a tool opening a million files
                   pays ~the guard)
    4. translate   audit args → Observation (plain data) or None; the network activity of an
                   MCP client request outside any tool call (the transport connecting to its
                   server) is dropped here: it is the protocol's, not a tool's
    5. decide      the policy seam (record/decide.py): may raise PolicyDenial.  Source
                   reads, code and imports made by library machinery (a traceback being
                   formatted, dataclasses generating code) are marked just before
                   (sensor/origin.py): the policy judges those by its rules only.  Without
                   a policy, an observation the recorder will only count (a start-up
                   import, a code event past the caps and the judges' limit) is not marked:
                   nothing reads the mark (``Recorder.only_counts``); one only the judges may
                   keep (start-up's past the span cap) is marked without the responsible
                   library, and a compile of it hashed only once it is kept
                   (``Recorder.judged_only``: library machinery's code importing nothing is
                   only counted)
    6. record      bounded per-span buffers and counters (record/recorder.py); a native
                   symbol already looked up in this span is skipped here, after the policy

For a plain open the policy allowed (and says it would allow again while the path leads to
the same file), the hook returns that file's identity: the C hook then answers the same open
in the same span, past its cap, without calling Python (``_fasthook.c``, step 3).

Nothing in the hook calls the OTel API.  Any error is counted and swallowed, except a
deliberate ``PolicyDenial`` and KeyboardInterrupt/SystemExit.

Usage::

    sensor = Sensor(categories={"file", "network"}, span_events_per_category=32)
    install(sensor)        # once per process: audit hooks cannot be removed
    sensor.set_active(False)  # what "uninstrument" does (refused while a policy is locked)
"""

from __future__ import annotations

import os
import sys
from _thread import get_ident as _get_ident

from mcptrace import _guard
from mcptrace.record import decide as decide_module
from mcptrace.record import vocabulary as ev
from mcptrace.record.decide import POLICY, PolicyDenial
from mcptrace.record.observation import Observation
from mcptrace.record.recorder import Recorder, _suspect, cleared_open, set_active
from mcptrace.record.state import SpanRegistry, context_variable
from mcptrace.sensor import translate as translate_module
from mcptrace.sensor.origin import ORIGIN_CATEGORIES, mark_library_origin
from mcptrace.sensor.translate import (
    COUNTED_TRANSLATORS,
    MAIN_STARTS,
    TRANSLATORS,
    add_source_hash,
    compile_unhashed,
    interesting_events,
)

TYPE_CHECKING = False  # not typing's: the hook is installed as the interpreter starts
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from mcptrace.record.decide import Decider

    # returns what the C hook may remember (step 3 of _fasthook.c): for a plain open the
    # policy allowed and would allow again, the file's (st_dev, st_ino); else None
    AuditHook = Callable[[str, tuple[Any, ...]], tuple[int, int] | None]


class Sensor:
    """Everything the hook reads, in one object."""

    def __init__(
        self, categories: Iterable[str], span_events_per_category: int = 32, native: bool = True
    ) -> None:
        self.native = native  # install the C hook (sensor/_fasthook.c) if it was built
        self.categories = frozenset(categories) | {ev.TAMPER}
        self.interesting = interesting_events(self.categories)
        self.registry = SpanRegistry()
        self.recorder = Recorder(span_events_per_category)
        self.active = True
        self.bootstrapping = False  # off until __main__ starts (set by the lifecycle)
        self.errors = 0
        self.tampered = 0  # switches flipped by someone else and put back (policy locked)
        self.on_exec: Callable[[], None] | None = None  # flush before the image is replaced
        # what mcptrace itself last set ``active`` to, and whether a policy is locked in:
        # kept in the hook's closure (make_hook), not as attributes anyone can flip
        self.set_active: Callable[[bool], bool] = self._set_active_before_install
        self.policy_locked: Callable[[], bool] = lambda: False
        self.pin: Callable[[Decider], None] = lambda decider: None
        # (audit event, argument) the interpreter's reading of its program is expected as,
        # right after main starts (make_hook fills it; the C hook's step 4 waits for it)
        self.main_input: list[tuple[str, str]] = []

    def _set_active_before_install(self, value: bool) -> bool:
        self.active = value
        return True


SWITCH_ACTIVE, SWITCH_PAUSE, SWITCH_POLICY = "sensor.active", "sensor.pause", "policy.slot"


def translate(event: str, args: tuple[Any, ...]) -> Observation | None:
    """Step 3 alone (for tests and tools); the hook calls the translator directly."""
    return TRANSLATORS[event].translate(event, args)


def make_hook(sensor: Sensor) -> AuditHook:
    # Everything the hook touches is captured here: local lookups only on the hot path.
    interesting = sensor.interesting  # immutable: the first test is one set lookup
    categories = sensor.categories
    paused = _guard.PAUSED
    get_ident = _get_ident
    is_finalizing = sys.is_finalizing
    registry = sensor.registry
    attribute_without_span = registry.attribute_without_span
    by_span = registry.by_span
    context_how = ev.CONTEXT
    recorder = sensor.recorder  # its lock is read per use: after a fork it is a new one
    record = recorder.record
    first_lookup = sensor.recorder.first_lookup
    only_counts = sensor.recorder.only_counts
    judged_only = sensor.recorder.judged_only
    code_category = ev.CODE
    suspect = _suspect
    saturated_at = sensor.recorder.log_cap
    translators = {name: entry.translate for name, entry in TRANSLATORS.items()}
    only_category = {name: entry.only_category for name, entry in TRANSLATORS.items()}
    counted_translators = COUNTED_TRANSLATORS
    policy = POLICY
    access_mode = os.O_ACCMODE if hasattr(os, "O_ACCMODE") else 3
    main_starts = MAIN_STARTS
    exec_event = ev.PROCESS_EXEC
    symbol_event = ev.NATIVE_SYMBOL
    origin_categories = ORIGIN_CATEGORIES
    network_category = ev.NETWORK
    main_input = sensor.main_input  # (audit event, argument) expected after main
    importer_open = ev.IMPORTER_OPEN
    is_own_pause = _guard.is_own_pause
    # The switches' true state, out of reach of a plain attribute assignment:
    pinned: list[Decider | None] = [None]  # the locked-in policy (pin(), from lock_decider)
    sanctioned = [sensor.active]  # what mcptrace itself set sensor.active to
    switch_problem = _switch_problem

    def switch_recording(value: bool) -> bool:
        """Switch recording on/off; refused (False) while a policy is locked in, or when
        called by anything but mcptrace's own code."""
        if (pinned[0] is not None and not value) or not _guard.called_from_mcptrace():
            return False
        sanctioned[0] = sensor.active = value
        return True

    def pin(decider: Decider) -> None:
        """The policy being locked in (decide.lock_decider): from now on the hook uses it
        whatever the slot holds, and the C hook's shortcuts defer to it."""
        if pinned[0] is None:
            pinned[0] = decider
            translate_module.track_open_dir_fd()
            if sensor.native:
                from mcptrace.sensor import _fasthook

                try:
                    _fasthook.pin(decider)
                except TypeError:  # an accelerator built before step 3: pin() alone
                    _fasthook.pin()

    sensor.set_active = switch_recording
    sensor.policy_locked = lambda: pinned[0] is not None
    sensor.pin = pin
    busy: set[int] = set()  # threads inside this hook (their PAUSED mark is the hook's own)

    def mcptrace_audit_hook(event: str, args: tuple[Any, ...]) -> tuple[int, int] | None:
        if event not in interesting:  # 1. reject
            return None
        if (  # 1b. the importer reading a module's bytecode
            event == "open"
            and len(args) == 3
            and type(path := args[0]) is str
            and path[-4:] == ".pyc"
            and type(flags := args[2]) is int
            and not flags & access_mode
            and pinned[0] is None
        ):
            return None
        thread_id = get_ident()  # 2. guard
        switched: str | None = None
        if thread_id in paused or not sensor.active or is_finalizing():
            if sensor.bootstrapping and event in main_starts:
                sensor.bootstrapping = False
                sanctioned[0] = sensor.active = True
                main_input[:] = _main_input(event, args)
                return None
            if pinned[0] is None or is_finalizing():
                return None
            switched = switch_problem(thread_id, sensor, sanctioned[0], is_own_pause, busy)
            if switched is None:
                return None  # mcptrace's own work, or the sensor switched off by mcptrace
            if switched == SWITCH_PAUSE:
                set.discard(paused, thread_id)
            else:
                sensor.active = True
        if event in main_starts:
            main_input[:] = _main_input(event, args)
            return None
        try:
            # 3. attribute (SpanRegistry.attribute, its common case inlined)
            # read per event: the registry is linked to OTel's context only once it loads.
            # OTel's suppress-instrumentation flag is not consulted (see the docstring).
            context = registry.current_context()
            span_key = registry.keys[1]
            span = context.get(span_key)
            state = by_span.get(span) if span is not None else None
            how = context_how
            if state is None:
                state, how = attribute_without_span(span)
            category = only_category[event]
            if (  # a span past its log cap for this category only counts: skip translation
                category is not None
                and state.kept.get(category, 0) >= saturated_at
                and policy[0] is None
                and pinned[0] is None
                and (not recorder.judge_past_cap or cleared_open(event, args))
            ):
                root = state.root  # counted (and dropped), nothing more; the C hook too
                with recorder.lock:
                    root.counts[category] += 1
                    root.dropped += 1
                return None
        except Exception:  # nothing above calls out: no re-entrancy guard needed yet
            sensor.errors += 1
            return None
        set.add(paused, thread_id)  # from here on, our own activity is not recorded
        guarded = pinned[0] is not None
        if guarded:  # the hook's own mark: not a pause someone else made (_switch_problem)
            busy.add(thread_id)
        try:
            decider = policy[0]  # 5. decide (the policy seam): who decides
            if decider is not pinned[0] and pinned[0] is not None:
                policy[0] = decider = pinned[0]  # the slot was rebound: put the policy back
                switched = switched or SWITCH_POLICY
            if switched is not None:
                sensor.tampered += 1
                attrs: dict[str, Any] = {ev.TAMPER_TARGET: switched}
                tamper = Observation(ev.SENSOR_TAMPER, ev.TAMPER, attrs, switched)
                record(tamper, state, how, thread_id)
                decider(tamper, (state, how))  # type: ignore[misc]
            if main_input and _is_main_input(main_input, event, args):
                return None  # the interpreter reading the program it was given: not the program
            if category == network_category and state.mcp_client and not state.root.is_mcp:
                return None  # 4b (below), known before translating: a connect per HTTP request
            translate = translators[event]  # 4. translate
            unhashed = False
            if decider is None and event in counted_translators and category is not None:
                if only_counts(state, category):
                    translate = counted_translators[event]  # nothing will keep it: less work
                elif category == code_category and judged_only(state, category):
                    # kept for the judges only if suspect: hashed once that is known
                    translate, unhashed = compile_unhashed, True
            observation = translate(event, args)
            if observation is None or observation[1] not in categories:
                return None
            if (  # 4b. an MCP client request's own connection, outside any tool call
                observation[1] == network_category and state.mcp_client and not state.root.is_mcp
            ):
                return None
            if (
                observation[1] in origin_categories
                and observation[3] is not importer_open
                and (decider is not None or not only_counts(state, observation[1]))
            ):
                # library machinery's, or the tool's: marked before the policy sees it (a
                # deny default does not apply to machinery formatting the tool's error).
                # Not for an observation nothing will keep (a start-up import, a code event
                # past the caps and the judges' limit): the recorder only counts it.  For one
                # only the judges may keep, without the responsible library (not judged)
                mark_library_origin(
                    observation, decider is not None or not judged_only(state, observation[1])
                )
            if unhashed and suspect(observation):
                add_source_hash(observation[2], args[0])  # kept: as _compile would say it
            again = None
            if decider is not None:
                again = decider(observation, (state, how))
                if switched is not None:
                    again = None
            if observation[3] is importer_open:
                return None  # the importer reading a module file: judged, never recorded
            name = observation[0]
            if (  # judged, and past its span's log cap: only counted, as without a policy
                category is not None
                and name != exec_event
                and state.kept.get(category, 0) >= saturated_at
                and (not recorder.judge_past_cap or cleared_open(event, args))
            ):
                root = state.root
                with recorder.lock:
                    root.counts[category] = root.counts.get(category, 0) + 1
                    root.dropped += 1
                return again
            if name == symbol_event and not first_lookup(state, observation):
                return None  # the same native symbol again in this span (Recorder.first_lookup)
            record(observation, state, how, thread_id)  # 6b. record
            if name == exec_event and sensor.on_exec is not None:
                sensor.on_exec()  # the image is about to be replaced: flush now
            return again
        except PolicyDenial:
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:
            sensor.errors += 1
        finally:
            if guarded:
                busy.discard(thread_id)
            set.discard(paused, thread_id)
        return None

    return mcptrace_audit_hook


def _main_input(event: str, args: tuple[Any, ...]) -> list[tuple[str, str]]:
    """What the interpreter does with its program right after main starts: compile and run
    the ``-c`` string, open the script file.  Each expected once, in order, not recorded."""
    if event == "cpython.run_command":
        return [("compile", "<string>"), ("exec", "<string>")]
    if event == "cpython.run_file" and args and isinstance(args[0], str):
        return [("open", os.path.abspath(args[0]))]
    return []


def _is_main_input(expected: list[tuple[str, str]], event: str, args: tuple[Any, ...]) -> bool:
    audit_event, value = expected[0]
    if event != audit_event or not args:
        return False
    if event == "compile":
        subject = args[1] if len(args) > 1 else None
    elif event == "exec":
        subject = getattr(args[0], "co_filename", None)
    else:
        subject = os.path.abspath(args[0]) if isinstance(args[0], str) else args[0]
    if subject != value:
        return False
    del expected[0]
    return True


def _switch_problem(
    thread_id: int,
    sensor: Sensor,
    sanctioned: bool,
    is_own_pause: Callable[[int], bool],
    busy: set[int],
) -> str | None:
    """Which switch someone other than mcptrace flipped, if any (slow path only)."""
    if thread_id in busy:
        return None  # the hook's own activity
    if thread_id in _guard.PAUSED and not is_own_pause(thread_id):
        return SWITCH_PAUSE
    if not sensor.active and sanctioned:
        return SWITCH_ACTIVE
    return None


_installed: Sensor | None = None


def install(sensor: Sensor) -> bool:
    """Add the hook for ``sensor``; False if a hook is already installed in this process.

    With ``sensor.native`` and the C accelerator built, the C hook goes in front of the
    Python one (steps 1 and the count-only case of 3, see _fasthook.c); ``sensor.native``
    then stays True, else it becomes False.
    """
    global _installed
    if _installed is not None:
        return False
    translate_module.register_own_files(__file__)
    hook = make_hook(sensor)
    sensor.native = sensor.native and _install_native(sensor, hook)
    if not sensor.native:
        sys.addaudithook(hook)
    if "opentelemetry.context" in sys.modules:  # OTel already loaded: spans from now on
        link_otel(sensor)
    _installed = sensor
    from mcptrace.sensor.environ import watch_environ

    watch_environ()  # whole-environment reads become an audit event too
    # (os.open's dir_fd is tracked only under a policy: a Python wrapper of os.open would
    # make an open at the recursion limit fail, README "Limits")
    set_active(sensor.registry, sensor.recorder)
    decide_module.on_lock(sensor.pin)
    return True


def _install_native(sensor: Sensor, hook: AuditHook) -> bool:
    try:
        from mcptrace.sensor import _fasthook
    except ImportError:  # not built (no compiler at install time): the Python hook alone
        return False
    events = {
        name: None if name in MAIN_STARTS else TRANSLATORS[name].only_category
        for name in sensor.interesting
    }
    try:
        _fasthook.install(
            events,
            hook,
            sensor,
            _guard.PAUSED,
            None,  # no OTel context yet: link_native() hands it over when OTel is set up
            None,
            None,
            sensor.registry.by_span,
            POLICY,
            sensor.recorder.log_cap,
        )
    except Exception:  # e.g. more event names than its table holds: the Python hook alone
        return False
    sensor.recorder.drain = _fasthook.drain
    if ev.CODE in sensor.categories and os.environ.get(NATIVE_CODE_SWITCH, "") != "0":
        _install_native_code_path(sensor, _fasthook)
    forget = getattr(_fasthook, "forget", None)  # an accelerator built before step 3
    if forget is not None:
        decide_module.on_forget(forget)
    return True


# Step 4 of the C hook (library code at start-up, counted): what sends a code event to the
# Python hook whatever made it.  A compiled source holding one of these words (which include
# everything ``translate._imports_module`` looks for, and what decoding, loading or running
# more code would spell), or a code object naming one of these, or importing anything.
SUSPECT_WORDS = (
    b"import",  # __import__, import_module(, importlib, an import statement
    b"exec",
    b"eval",
    b"compile",
    b"marshal",
    b"pickle",
    b"getattr",
    b"builtins",
    b"globals",
    b"b64",
    b"base64",
    b"codecs",
    b"decode",
    b"loads",
    b"open",
    b"system",
    b"subprocess",
    b"spawn",
    b"__subclasses__",
    b"__dict__",
    b"\\",  # an escape in a string literal could spell any of the above
)
SUSPECT_NAMES = frozenset(
    {
        "__import__",
        "import_module",
        "importlib",
        "exec",
        "eval",
        "compile",
        "marshal",
        "pickle",
        "getattr",
        "setattr",
        "builtins",
        "__builtins__",
        "globals",
        "locals",
        "vars",
        "base64",
        "b64decode",
        "codecs",
        "decode",
        "loads",
        "load",
        "open",
        "system",
        "popen",
        "subprocess",
        "os",
        "sys",
        "__subclasses__",
        "__class__",
        "__dict__",
        "__globals__",
        "__code__",
    }
)
# "0" switches step 4 off: every code event then reaches the Python hook (the differential
# test runs the same corpus both ways)
NATIVE_CODE_SWITCH = "MCPTRACE_SENSOR_NATIVE_CODE"


def _install_native_code_path(sensor: Sensor, fasthook: Any) -> None:
    from mcptrace.sensor import origin

    code_path = getattr(fasthook, "code_path", None)  # an accelerator built before step 4
    if code_path is None:
        return
    try:
        code_path(
            sensor.registry,
            sensor.recorder,
            translate_module._last_compile,
            origin._kinds,
            origin.EXECUTORS,
            origin.MACHINERY,
            origin._PACKAGE_DIRECTORY,
            translate_module._OWN_FILES,
            translate_module._IMPORTER_FILES,
            sensor.main_input,
            ev.CODE,
            SUSPECT_WORDS,
            SUSPECT_NAMES,
            sensor.recorder.span_cap,
            ev.IMPORT if ev.IMPORT in sensor.categories else None,
        )
    except Exception:  # the Python hook decides every code event, as before
        pass


def native_code_path(on: bool) -> bool:
    """Switch the C hook's step 4 on or off; False when there is no such step."""
    sensor = _installed
    if sensor is None or not sensor.native:
        return False
    from mcptrace.sensor import _fasthook

    switch = getattr(_fasthook, "code_path_switch", None)
    if switch is None:
        return False
    switch(on)
    return True


def native_code_counted() -> int:
    """Code events the C hook's step 4 answered without calling Python (0 without it)."""
    sensor = _installed
    if sensor is None or not sensor.native:
        return 0
    from mcptrace.sensor import _fasthook

    count = getattr(_fasthook, "fast_code", None)
    return int(count()) if count is not None else 0


def judge_past_cap(sensor: Sensor) -> None:
    """Detections are on: events past the caps are kept for them (``Recorder.judge_past_cap``),
    and the C hook only counts opens the pre-filter clears (``cleared_open``)."""
    sensor.recorder.judge_past_cap = True
    if sensor.native:
        from mcptrace.sensor import _fasthook

        switch = getattr(_fasthook, "judge_past_cap", None)
        if switch is not None:
            switch()
        else:  # an accelerator built before the switch existed: its step 2 would hide them
            _fasthook.pin()


def link_otel(sensor: Sensor) -> None:
    """OpenTelemetry is set up: the hooks attribute events to spans from now on."""
    sensor.registry.link_otel()
    if not sensor.native:
        return
    from mcptrace.sensor import _fasthook

    link = getattr(_fasthook, "link", None)  # an accelerator built before link() existed
    variable = context_variable()
    if link is not None and variable is not None:
        suppress_key, span_key = sensor.registry.keys
        try:
            link(variable, suppress_key, span_key)
        except Exception:  # the Python hook still counts everything itself
            pass


def native_counted() -> int:
    """Events the C hook counted without calling Python (0 without the accelerator)."""
    sensor = _installed
    if sensor is None or not sensor.native:
        return 0
    from mcptrace.sensor import _fasthook

    return int(_fasthook.fast_counted())


def native_allowed() -> int:
    """Opens the C hook answered as allowed repeats without calling Python (step 3; 0 without
    the accelerator)."""
    sensor = _installed
    if sensor is None or not sensor.native:
        return 0
    from mcptrace.sensor import _fasthook

    count = getattr(_fasthook, "fast_allowed", None)
    return int(count()) if count is not None else 0


def installed() -> Sensor | None:
    return _installed
