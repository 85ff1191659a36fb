"""Violations as ``mcptrace.policy.violation`` span events and WARN log records.

Usage::

    violations = ViolationRecorder(span_events_per_category=32)
    violations.record(observation, verdict, blocked, state, how)   # in the hook: tuples only
    violations.flush()      # on the sensor's log thread (each tick) and at exit

The span event goes through the sensor's own path: the record is appended to the span
state's events, which become span events when the span ends (``Recorder.span_additions``),
and the violation is counted in ``mcptrace.events.policy.count`` on the request span.  The
log record (WARN, in the span's context) is emitted off the hot path, like the sensor's.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from opentelemetry import trace
from opentelemetry._logs import Logger, SeverityNumber, get_logger
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext
from opentelemetry.util.types import AttributeValue

from mcptrace import _guard
from mcptrace.policy import model as m
from mcptrace.policy.engine import Verdict, tool_name_of
from mcptrace.record import vocabulary as ev
from mcptrace.record.observation import Observation
from mcptrace.record.recorder import (
    LOG_RECORDS_FACTOR,
    QUEUE_LIMIT,
    TIME,
    Record,
    active,
    record_attributes,
)
from mcptrace.record.state import SpanState

_time_ns = time.time_ns


def violation_observation(
    observation: Observation, verdict: Verdict, blocked: bool, tool: str | None = None
) -> Observation:
    attributes: dict[str, AttributeValue] = dict(observation.attributes)
    if tool is not None:
        attributes[ev.GEN_AI_TOOL_NAME] = tool
    attributes[ev.POLICY_RULE] = verdict.rule
    attributes[ev.POLICY_ACTION] = ev.BLOCKED if blocked and verdict.enforce else ev.OBSERVED
    attributes[ev.POLICY_MODE] = m.ENFORCE if verdict.enforce else m.OBSERVE
    attributes[ev.POLICY_CATEGORY] = verdict.category
    attributes[ev.POLICY_EVENT] = observation.name
    attributes[ev.POLICY_SUBJECT] = verdict.subject
    return Observation(
        ev.POLICY_VIOLATION, ev.POLICY_CATEGORY_NAME, attributes, observation.audit_event
    )


_FALLBACK_LOCK = threading.RLock()  # no sensor installed (unit tests of the recorder alone)


class ViolationRecorder:
    def __init__(self, span_events_per_category: int = 32) -> None:
        self.span_cap = span_events_per_category
        self.log_cap = span_events_per_category * LOG_RECORDS_FACTOR
        self.pending: deque[tuple[Record, SpanContext | None]] = deque()
        self.lock = threading.Lock()  # one flush at a time
        self._logger: Logger | None = None
        self.errors = 0

    @staticmethod
    def _counts_lock() -> threading.RLock:
        """The sensor recorder's lock: a span's counters are shared with it (``dropped``) and
        between threads sharing the span, and a count is a read then a write."""
        current = active()
        return current[1].lock if current is not None else _FALLBACK_LOCK

    # --- hot path (inside the hook): plain lists and counters

    def record(
        self, observation: Observation, verdict: Verdict, blocked: bool, state: SpanState, how: str
    ) -> None:
        category = ev.POLICY_CATEGORY_NAME
        root = state.root
        with self._counts_lock():
            if not root.ended:  # an ended call's counters are final: late records are logs
                root.counts[category] = root.counts.get(category, 0) + 1
            seen = state.kept.get(category, 0) + 1
            state.kept[category] = seen
            if seen > self.log_cap or len(self.pending) >= QUEUE_LIMIT:
                root.dropped += 1
                return
        violation = violation_observation(observation, verdict, blocked, tool_name_of(state))
        if state.ended:  # a thread the tool started, after the call returned: a log record only
            violation.attributes[ev.SPAN_ENDED] = True
        # sealed from the start: each violation is its own record (none is coalesced)
        record: Record = [_time_ns(), violation, how, threading.get_ident(), 0, True]
        if seen <= self.span_cap and state.span_context is not None and not state.ended:
            state.events.append(record)
        self.pending.append((record, state.span_context))

    # --- off the hot path

    def flush(self) -> None:
        with self.lock, _guard.sensor_paused():
            while self.pending:
                try:
                    record, span_context = self.pending.popleft()
                except IndexError:
                    break
                try:
                    self._emit(record, span_context)
                except Exception:
                    self.errors += 1

    def reset_after_fork(self) -> None:
        self.pending = deque()
        self.lock = threading.Lock()

    def _emit(self, record: Record, span_context: SpanContext | None) -> None:
        if self._logger is None:
            self._logger = get_logger(ev.POLICY_SCOPE)
        context = Context()
        if span_context is not None:
            context = trace.set_span_in_context(NonRecordingSpan(span_context), Context())
        self._logger.emit(
            timestamp=record[TIME],
            observed_timestamp=_time_ns(),
            context=context,
            severity_number=SeverityNumber.WARN,
            severity_text="WARN",
            attributes=record_attributes(record),
            event_name=ev.POLICY_VIOLATION,
        )
