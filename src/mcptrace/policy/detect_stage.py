"""Where detections run: when a span ends, over the records the sensor kept for it.

Usage (``PolicyInstrumentor`` does this when the sensor is on and detections are enabled)::

    install(sensor, policy_path)      # the recorder now calls DetectionStage at span end

A tool call's records are judged together, once, when its request span (the root) ends:
records of child spans (an HTTP client span inside the tool) wait on the root until then,
so a rule can relate an action to an earlier one anywhere in the call.  Each finding becomes
a ``mcptrace.detection`` span event on the root and a log record in the root's context (the
sensor's log thread emits it).  Nothing here runs inside the audit hook, and the rules are
loaded on first use (or by the log thread once the process serves its first MCP request),
never at import: a process with nothing to judge never loads them.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import Event
from opentelemetry.trace import SpanContext

from mcptrace.activation import report
from mcptrace.policy.resources import ResourceWatch, limits_from_environment
from mcptrace.record import offers
from mcptrace.record import vocabulary as ev
from mcptrace.record.observation import Observation
from mcptrace.record.offers import take_answer, tool_offer
from mcptrace.record.recorder import (
    HOW,
    OBSERVATION,
    PROCESS,
    QUEUE_LIMIT,
    THREAD,
    TIME,
    Record,
    Recorder,
    record_attributes,
)
from mcptrace.record.state import SpanRegistry, SpanState

if TYPE_CHECKING:
    from mcptrace.policy.detect import Action, Detector, Finding

STASH_LIMIT = 1024  # child spans' records waiting for a root that has not ended yet
ENDED_KEPT = 1024  # ended MCP calls whose late records can still be judged
LATE_REPORTED_KEPT = 4096  # (call, rule, subject) already reported late: said once
ACTIONS_PER_ROOT = 4096
TOOL_NAME = ev.GEN_AI_TOOL_NAME
_SPAN_NAME_TOOL_PREFIX = "tools/call "


class DetectionStage:
    """The recorder's ``detector``: actions of a finished call in, detection events out."""

    def __init__(self, recorder: Recorder, policy: Path | None) -> None:
        self.recorder = recorder
        self.policy = policy
        self._detector: Detector | None = None
        self._failed = False
        self._lock = threading.Lock()
        self._waiting: dict[int, list[tuple[Action, str, int]]] = {}
        # span id of an ended child span of an MCP call -> span id of the call's root; root
        # span id -> (its span context, its tool): where a late record's detection goes
        # (OrderedDicts: FIFOs of the last ENDED_KEPT, evicted oldest first in O(1); a plain
        # dict's ``pop(next(iter(d)))`` walks over every slot earlier evictions freed)
        self._root_of: OrderedDict[int, int] = OrderedDict()
        self._calls: OrderedDict[int, tuple[SpanContext, str | None]] = OrderedDict()
        self._late_reported: dict[tuple[int, str, str], None] = {}
        # in a forked child: the tool call that forked it (a copy of the server acting for
        # that call, which no span of this process will ever end)
        self._forked_call: tuple[SpanContext, str | None] | None = None
        self.resources = ResourceWatch(limits_from_environment())
        self.errors = 0

    def reset_after_fork(self) -> None:
        """In a forked child: the log thread may have held these locks, loading or compiling
        rules, when another thread forked; it does not exist here to release them."""
        self._lock = threading.Lock()
        if self._detector is not None:
            self._detector.reset_after_fork()
        self.resources.reset()
        self._forked_call = _current_tool_call()

    def detector(self) -> Detector | None:
        if self._detector is None and not self._failed:
            with self._lock:
                if self._detector is None and not self._failed:
                    self._detector = self._load()
        return self._detector

    def _load(self) -> Detector | None:
        from mcptrace.policy.detect import DetectionRuleError, Detector, load_detection_rules

        try:
            return Detector(load_detection_rules(self.policy), lazy=True)
        except DetectionRuleError as exc:
            report(f"mcptrace: detections: {exc.problems[0]}; built-in detections only")
        except Exception as exc:  # never take the program down for a rule file
            report(f"mcptrace: detections could not load ({exc}); built-in detections only")
        try:
            return Detector(load_detection_rules(None), lazy=True)
        except Exception as exc:
            report(f"mcptrace: detections are off: {exc}")
            self._failed = True
            return None

    @staticmethod
    def judges(state: SpanState) -> bool:
        """Whether a call for ``state`` can judge anything: False returns [] at once."""
        root = state.root
        return root.is_mcp or (root.label == PROCESS and root is state)

    def __call__(
        self, state: SpanState, records: list[Record], span_attributes: Mapping[str, Any] | None
    ) -> list[Event]:
        root = state.root
        if root.label == PROCESS and root is state:  # a child a call started, as it exits
            return self._judge_child(state, records)
        if not root.is_mcp:  # detections judge MCP requests (tool calls), like the policy
            return []  # (``judges`` says so before: keep the two in step)
        tool = _tool_name(span_attributes)
        self._remember(state, tool)
        actions: list[tuple[Action, str, int]] = []
        if records:
            from mcptrace.policy.detect import Action

            actions = [
                (
                    Action(record[TIME], record[OBSERVATION].name, record_attributes(record)),
                    record[HOW],
                    record[THREAD],
                )
                for record in records
                if record[OBSERVATION].category != ev.DETECTION_CATEGORY
            ]
        if root is not state and root.key is not None:  # the root is live: judge with it
            if actions:
                waiting = self._waiting.setdefault(id(root), [])
                if len(waiting) < ACTIONS_PER_ROOT:
                    waiting.extend(actions)
                if len(self._waiting) > STASH_LIMIT:
                    self._waiting.pop(next(iter(self._waiting)))
            return []
        if self._waiting:
            actions.extend(self._waiting.pop(id(root), ()))
        offer = tool_offer(tool)
        context = root.span_context
        answer = take_answer(context.span_id if context is not None else None)
        if not actions and offer is None and answer is None:
            return []
        detector = self.detector()
        if detector is None:
            return []
        from mcptrace.policy.detect import Action

        first = min(action.time_ns for action, _, _ in actions) if actions else 0
        if offer:  # the tool's own offer is judged too (tool poisoning)
            offered = {
                ev.MCPTRACE_COMPONENT_DESCRIPTION: offer[0],
                ev.MCPTRACE_COMPONENT_SCHEMA_TEXT: offer[1],
            }
            offered_action = Action(first, ev.TOOL_OFFERED, offered)
            # a call that recorded nothing judges its offer first: an offer matching no
            # rule (remembered per exact text) changes nothing the answer is judged with
            if actions or not detector.quiet_offer(offered_action, tool):
                actions.append((offered_action, ev.CONTEXT, 0))
        if answer:  # and what it told the model (instructions in a result)
            answered = {ev.MCPTRACE_COMPONENT_DESCRIPTION: answer}
            answer_action = Action(first, ev.TOOL_ANSWERED, answered)
            # an answer alone (nothing recorded, a quiet offer): judged by its own rules'
            # checks, without evaluate's walk, when none of them matches (most calls)
            if not actions and detector.quiet_answer(answer_action, tool):
                return []
            actions.append((answer_action, ev.CONTEXT, 0))
        findings = detector.evaluate((action for action, _, _ in actions), tool)
        if not findings:
            return []
        context_of = {id(action.attributes): (how, thread) for action, how, thread in actions}
        events = []
        for finding in findings:
            attributes = finding.as_attributes(tool)
            how, thread = context_of.get(id(finding.attributes), (ev.CONTEXT, 0))
            audit_event = str(finding.attributes.get(ev.AUDIT_EVENT, ""))
            observation = Observation(ev.DETECTION, ev.DETECTION_CATEGORY, attributes, audit_event)
            record: Record = [finding.time_ns, observation, how, thread, 0, True]
            events.append(Event(ev.DETECTION, record_attributes(record), finding.time_ns))
            if len(self.recorder.pending) < QUEUE_LIMIT:
                self.recorder.pending.append((record, root.span_context))
        return events

    def _judge_child(self, state: SpanState, records: list[Record]) -> list[Event]:
        """The process span of a child started inside a span of its parent's (``TRACEPARENT``):
        a ``python -c`` child or a process-pool worker of a tool call doing the theft.  Its
        actions are judged together when it ends, named for the tool that started it
        (``MCPTRACE_PARENT_TOOL``); a spawn only warning rules match is not reported, as
        outside any call (a server started by an instrumented client is such a child)."""
        from mcptrace.policy.detect import Action

        actions = [
            Action(record[TIME], record[OBSERVATION].name, record_attributes(record))
            for record in records
            if record[OBSERVATION].category != ev.DETECTION_CATEGORY
        ]
        detector = self.detector() if actions else None
        if detector is None:
            return []
        tool = os.environ.get(ev.PARENT_TOOL_VARIABLE) or None
        forked = self._forked_call
        if tool is None and forked is not None:  # a forked copy of the server, in a call
            tool = forked[1]
        findings = detector.evaluate(actions, tool)
        launched = _launches_a_server if forked is None else _never
        reported = {id(f.attributes) for f in findings if not launched(f)}
        dropped = {id(f.attributes) for f in findings if launched(f)} - reported
        if dropped:  # an unreported spawn (pip asking `uname`) sets up no later rule
            actions = [action for action in actions if id(action.attributes) not in dropped]
            findings = detector.evaluate(actions, tool)
        events = []
        for finding in findings:
            if launched(finding):
                continue
            attributes = finding.as_attributes(tool)
            attributes[ev.ATTRIBUTION] = finding.attributes.get(ev.ATTRIBUTION, ev.CONTEXT)
            audit_event = str(finding.attributes.get(ev.AUDIT_EVENT, ""))
            observation = Observation(ev.DETECTION, ev.DETECTION_CATEGORY, attributes, audit_event)
            record: Record = [finding.time_ns, observation, ev.CONTEXT, 0, 0, True]
            events.append(Event(ev.DETECTION, record_attributes(record), finding.time_ns))
            if len(self.recorder.pending) < QUEUE_LIMIT:
                self.recorder.pending.append((record, state.span_context))
        return events

    def _remember(self, state: SpanState, tool: str | None) -> None:
        """Where a record arriving after ``state``'s span ended will be judged (``tool``: the
        span's tool name, if it names one)."""
        context, root = state.span_context, state.root
        if context is None or root.span_context is None:
            return
        root_id = root.span_context.span_id
        if root is state:  # a root is its own: found in _calls, not mapped (≈0.2 MB kept)
            self._calls[root_id] = (context, tool)
            if len(self._calls) > ENDED_KEPT:
                self._calls.popitem(last=False)
            return
        self._root_of[context.span_id] = root_id
        if len(self._root_of) > ENDED_KEPT:
            self._root_of.popitem(last=False)

    def late(
        self, batch: list[tuple[Record, SpanContext | None]]
    ) -> list[tuple[Record, SpanContext | None]]:
        """Judge records no span end will judge; detection records to emit (log thread).

        A thread or timer a tool started can do its work after the call returned: its
        records are log records linked to the ended call (``mcptrace.span.ended``), and
        their detections are too, named for that call's tool.  Records of no call (import
        time, server start-up, a thread started outside any call) are judged on their own
        and their detections are linked to nothing.  Each (call, rule, subject) is said once.
        """
        from mcptrace.policy.detect import Action

        groups: dict[int, list[Action]] = {}
        contexts: dict[int, SpanContext | None] = {0: None}
        tools: dict[int, str | None] = {0: None}
        forked = self._forked_call
        for record, span_context in batch:
            key = 0
            if span_context is None and forked is not None:  # a forked copy, in its call
                key = forked[0].span_id
                contexts[key], tools[key] = forked
            elif span_context is not None:
                root_id = self._root_of.get(span_context.span_id, span_context.span_id)
                call = self._calls.get(root_id)
                if call is None and forked is not None and forked[0] == span_context:
                    root_id, call = span_context.span_id, forked
                if call is None:
                    continue  # not an MCP call's (or forgotten): nothing to judge it with
                key = root_id or 0
                contexts[key], tools[key] = call
            groups.setdefault(key, []).append(
                Action(record[TIME], record[OBSERVATION].name, record_attributes(record))
            )
        if not groups:
            return []
        detector = self.detector()
        if detector is None:
            return []
        out: list[tuple[Record, SpanContext | None]] = []
        for key, actions in groups.items():
            tool = tools[key]
            for finding in detector.evaluate(actions, tool):
                if not key and _launches_a_server(finding):
                    continue
                said = (key, finding.rule.id, finding.subject)
                if said in self._late_reported:
                    continue
                self._late_reported[said] = None
                if len(self._late_reported) > LATE_REPORTED_KEPT:
                    self._late_reported.pop(next(iter(self._late_reported)))
                attributes = finding.as_attributes(tool)
                if key and self._forked_call is None:
                    attributes[ev.SPAN_ENDED] = True
                attributes[ev.ATTRIBUTION] = finding.attributes.get(ev.ATTRIBUTION, ev.NONE)
                audit_event = str(finding.attributes.get(ev.AUDIT_EVENT, ""))
                observation = Observation(
                    ev.DETECTION, ev.DETECTION_CATEGORY, attributes, audit_event
                )
                thread = finding.attributes.get(ev.THREAD_ID, 0)
                how = str(attributes[ev.ATTRIBUTION])
                out.append(([finding.time_ns, observation, how, thread, 0, True], contexts[key]))
        return out

    def watch_resources(self, registry: SpanRegistry) -> None:
        """Each tick of the log thread: a tool call in flight that exhausts the server (a
        CPU loop, a fork or thread bomb) is judged while it runs, since it may never end."""
        from mcptrace.policy.detect import Action

        if not registry.requests_seen:  # a client, a child, a script: no calls to watch
            return
        try:
            found = self.resources.tick(list(registry.in_flight.values()))
            detector = self.detector() if found else None
            if detector is None:
                return
            for exhaustion in found:
                call = exhaustion.call
                tool = _tool_name(getattr(call.key, "attributes", None))
                used = {ev.RESOURCE_KIND: exhaustion.kind, ev.RESOURCE_USAGE: exhaustion.what}
                action = Action(time.time_ns(), ev.RESOURCE_EXHAUSTED, used)
                for finding in detector.evaluate([action], tool):
                    attributes = finding.as_attributes(tool)
                    observation = Observation(ev.DETECTION, ev.DETECTION_CATEGORY, attributes, "")
                    record: Record = [finding.time_ns, observation, ev.CONTEXT, 0, 0, True]
                    with self.recorder.lock:
                        if not call.ended:  # a span event too, if the call ever ends
                            call.events.append(record)
                    if len(self.recorder.pending) < QUEUE_LIMIT:
                        self.recorder.pending.append((record, call.span_context))
        except Exception:
            self.errors += 1

    def warm_up(self) -> None:
        """Load and compile the rules on the log thread, so tool calls do not pay for it."""
        try:
            detector = self.detector()
            if detector is not None:
                detector.compile_all()
        except Exception:
            self.errors += 1


def _never(finding: Finding) -> bool:
    return False


def _current_tool_call() -> tuple[SpanContext, str | None] | None:
    """The MCP tool call span current in this thread, if it is one (read in a forked child:
    the thread that forked is the one left, still in the call's context)."""
    from opentelemetry.trace import get_current_span

    span = get_current_span()
    name = getattr(span, "name", "")
    if not isinstance(name, str) or not name.startswith(_SPAN_NAME_TOOL_PREFIX):
        return None
    return span.get_span_context(), _tool_name(getattr(span, "attributes", None))


def _launches_a_server(finding: Finding) -> bool:
    """Outside any call, an ordinary spawn is what an MCP client does to start a server.

    A stdio client starts ``python server.py``, ``npx``, ``uvx`` or a shell: a spawn that
    only the warning-level spawn rules match is not judged outside a call (in a call it
    is).  Spawns a critical rule matches (reverse shells, inline code, download-and-run)
    still are.
    """
    return finding.event.startswith(_SPAWN_EVENTS) and finding.rule.severity != "critical"


_SPAWN_EVENTS = ("mcptrace.process.",)


def _tool_name(span_attributes: Mapping[str, Any] | None) -> str | None:
    if not span_attributes:
        return None
    name = span_attributes.get(TOOL_NAME)
    return name if isinstance(name, str) else None


_installed: DetectionStage | None = None


def install(
    recorder: Recorder, policy: Path | None, registry: SpanRegistry | None = None
) -> DetectionStage:
    """Make ``recorder`` judge every finished span; the rules load when first needed.

    That is the first span or late record with something to judge, or (on the log thread,
    so a tool call does not pay for it) soon after ``registry`` saw its first MCP request.
    A process that never serves a request and records nothing to judge (a client, a child a
    tool starts, a script importing mcp) never parses or compiles them.
    """
    global _installed
    stage = DetectionStage(recorder, policy)
    offers.judging = True  # the answers a server sends are worth keeping for the rules
    recorder.detector = stage
    recorder.judges = stage.judges
    recorder.late_detector = stage.late
    recorder.pump.after_fork.append(stage.reset_after_fork)
    recorder.judge_past_cap = True  # a flood past the per-span caps hides nothing from it
    hook = sys.modules.get("mcptrace.sensor.hook")  # the sensor's C hook must not hide them
    sensor = getattr(hook, "_installed", None)
    if sensor is not None and sensor.recorder is recorder:
        hook.judge_past_cap(sensor)  # type: ignore[union-attr]
    _installed = stage

    if registry is not None:
        warmed = False

        def warm_up_once() -> None:  # once, even if a late record loaded some rules before
            nonlocal warmed
            if not warmed and registry.requests_seen:
                warmed = True
                stage.warm_up()

        recorder.pump.on_tick.append(warm_up_once)
        recorder.pump.on_tick.append(lambda: stage.watch_resources(registry))
    return stage
