"""The policy in force in this process: its engine, violation records and self-check.

Loaded by ``PolicyInstrumentor`` (``policy/instrumentor.py``) only when a policy file is
configured: a process without a policy never imports the engine.

A policy file that does not load is reported on one line; then

* if it asks for enforcement anywhere (``mode = "enforce"``), mcptrace fails closed: every
  file, network, process, code and native action inside tool calls is blocked, as rule
  ``policy-invalid.<category>``, so the tools fail loudly while the server keeps serving;
* otherwise (an observe-only policy) it fails open: no policy, the program runs as without.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mcptrace.activation import report
from mcptrace.config import Settings
from mcptrace.instrumentor import wrap_function_wrapper
from mcptrace.policy import model as m
from mcptrace.policy.engine import POLICY_TOOL_VARIABLE, NetworkRule, PolicyEngine, tool_name_of
from mcptrace.policy.loader import PolicyFileError, load_policy, looks_enforcing
from mcptrace.policy.record import ViolationRecorder
from mcptrace.policy.tool_errors import surface_violations
from mcptrace.record import decide as decide_module
from mcptrace.record import vocabulary as ev
from mcptrace.record.observation import Observation
from mcptrace.record.recorder import Recorder, active, when_active
from mcptrace.record.state import SpanRegistry

SENSOR_CATEGORY_OF = {
    m.FILE_READ: ev.FILE,
    m.FILE_WRITE: ev.FILE,
    m.NETWORK: ev.NETWORK,
    m.PROCESS: ev.PROCESS,
    m.CODE: ev.CODE,
    m.NATIVE: ev.NATIVE,
}
FAIL_CLOSED_RULE_PREFIX = "policy-invalid"
MCPTRACE_PREFIX = "MCPTRACE_"


def fail_closed_policy(source: str) -> m.Policy:
    return m.Policy(mode=m.ENFORCE, defaults=dict.fromkeys(m.CATEGORIES, m.DENY), source=source)


# variables that switch instrumentation off in a child although the parent had none of them
OPT_OUT_VARIABLES = ("OTEL_SDK_DISABLED", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS")


class ActivePolicy:
    """The locked-in policy of this process: engine, violation records, self-check.

    It has no thread of its own: the record stage's log pump flushes the violations (on
    each wake-up and at exit), runs the self-check on each wake-up, and resets the
    violations in a forked child.
    """

    def __init__(self, engine: PolicyEngine, violations: ViolationRecorder) -> None:
        self.engine = engine
        self.decider = engine.decider()
        self.violations = violations
        self.refusals = 0  # set_decider attempts (reported on stderr once, each as an event)

    def start(self) -> None:
        decide_module.lock_decider(self.decider, self.on_refused)
        when_active(self._attach)

    def _attach(self, registry: SpanRegistry, recorder: Recorder) -> None:
        pump = recorder.pump
        pump.sources.append(self.violations.flush)
        pump.on_tick.append(self.check)
        pump.after_fork.append(self.violations.reset_after_fork)

    def on_refused(self) -> None:
        """Someone called set_decider() while the policy is locked in: tamper event."""
        if not self.refusals:
            report("mcptrace: refused to replace or remove the locked-in policy (set_decider)")
        self.refusals += 1
        self._tamper("set_decider")

    def verify(self) -> None:
        """Restore the policy if the seam's slots were rebound behind its back."""
        if decide_module.current_decider() == (self.decider, self.on_refused):
            return
        decide_module.restore_decider(self.decider, self.on_refused)
        report("mcptrace: the policy was switched off behind its back; it is back in force")
        self._tamper("decider_rebound")

    def _tamper(self, what: str) -> None:
        """Record a tamper event where it happened; a switch flipped from a tool's thread
        (``set_decider``) also costs that tool its permissions (``PolicyEngine._taint``)."""
        current = active()
        if current is None:
            return
        registry, recorder = current
        attribution = registry.attribute()
        if attribution is None:
            return
        observation = Observation(ev.SENSOR_TAMPER, ev.TAMPER, {ev.TAMPER_TARGET: what}, what)
        recorder.record(observation, attribution[0], attribution[1], threading.get_ident())
        self.decider(observation, attribution)

    def child_environment(
        self, env: Mapping[str, str], ours: Mapping[str, str]
    ) -> dict[str, str] | None:
        """Under enforcement: ``env`` with this process's instrumentation settings (``ours``,
        as they were at start-up: mcptrace/children.py) restored over whatever the caller
        changed, and the current tool named for the child."""
        if not self.engine.enforcing:
            return None
        armed = {
            key: value
            for key, value in env.items()
            if not key.startswith(MCPTRACE_PREFIX) and key not in OPT_OUT_VARIABLES
        }
        for key, value in ours.items():
            if key == "PYTHONPATH":
                theirs = [p for p in env.get(key, "").split(os.pathsep) if p]
                armed[key] = os.pathsep.join(
                    [p for p in value.split(os.pathsep) if p not in theirs] + theirs
                )
            else:
                armed[key] = value
        tool = self.current_tool()
        if tool is not None:
            armed[POLICY_TOOL_VARIABLE] = tool
        elif self.engine.inherited_tool is not None:
            armed[POLICY_TOOL_VARIABLE] = self.engine.inherited_tool
        return armed

    def current_tool(self) -> str | None:
        """The tool the calling thread works for, as the policy names it."""
        current = active()
        attribution = current[0].attribute() if current is not None else None
        return tool_name_of(attribution[0]) if attribution is not None else None

    def check(self) -> None:
        """The self-check, on the log pump's thread: never let an error out."""
        try:
            self.verify()
        except Exception:
            pass


_active: ActivePolicy | None = None


def active_policy() -> ActivePolicy | None:
    return _active


def _remember_addresses(engine: PolicyEngine) -> Callable[..., Any]:
    def getaddrinfo(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        results = wrapped(*args, **kwargs)
        try:
            host = args[0] if args else kwargs.get("host")
            if isinstance(host, bytes):
                host = host.decode("idna")
            if isinstance(host, str):
                engine.remember_resolution(host, [str(item[4][0]) for item in results])
        except Exception:
            pass
        return results

    return getaddrinfo


def build_engine(path: Path, span_cap: int) -> tuple[PolicyEngine, ViolationRecorder] | None:
    """The engine for the policy at ``path``, fail-closed or None (fail-open) if it is bad."""
    violations = ViolationRecorder(span_cap)
    try:
        policy = load_policy(path)
        return PolicyEngine(policy, violations.record), violations
    except PolicyFileError as exc:
        first = exc.problems[0]
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        if looks_enforcing(path):
            report(
                f"mcptrace: MCPTRACE_POLICY: {first}{more}; the policy asks for enforcement, so "
                "every file, network, process, code and native action inside tool calls is "
                f"blocked until it is fixed (check it with: mcptrace policy check {path})"
            )
            engine = PolicyEngine(
                fail_closed_policy(str(path)), violations.record, FAIL_CLOSED_RULE_PREFIX
            )
            return engine, violations
        report(f"mcptrace: MCPTRACE_POLICY: {first}{more}; running without the policy")
        return None


def install(path: Path, settings: Settings) -> None:
    """Load the policy at ``path`` and lock it in for the life of the process."""
    global _active
    if _active is not None:
        return
    built = build_engine(path, settings.max_events_per_span)
    if built is None:
        return
    engine, violations = built
    unseen = sorted(
        category
        for category in engine.active
        if SENSOR_CATEGORY_OF[category] not in settings.sensor
    )
    if unseen:
        report(
            f"mcptrace: policy rules for {', '.join(unseen)} cannot apply: MCPTRACE_SENSOR "
            "does not watch those categories"
        )
    _active = ActivePolicy(engine, violations)
    _active.start()
    surface_violations()
    if any(isinstance(rule, NetworkRule) and rule.hosts for rule in engine.rules[m.NETWORK]):
        wrap_function_wrapper(socket, "getaddrinfo", _remember_addresses(engine))
