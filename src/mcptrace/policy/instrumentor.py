"""OpenTelemetry instrumentor for the policy (entry point ``mcptrace_policy``).

Usage::

    from mcptrace.policy.instrumentor import PolicyInstrumentor
    PolicyInstrumentor().instrument()    # `mcptrace run --policy FILE` / MCPTRACE_POLICY do this

The policy file comes from ``MCPTRACE_POLICY`` (keyword ``policy_path`` overrides it).  Once
installed the policy is locked for the life of the process: ``uninstrument()`` and
``set_decider()`` cannot remove it (a refused attempt is a ``mcptrace.sensor.tamper`` event).

A policy file that does not load is reported on one line, then fails closed (a policy
asking for enforcement) or open (observe only): see ``policy/active.py``, which is imported
only when a policy is configured.

``mcptrace run --policy FILE`` checks the file first and refuses to start with a broken one.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from mcptrace.activation import current_settings, report
from mcptrace.instrumentor import Instrumentor


def _install_detections(policy: Path | None) -> None:
    """Detections judge each finished span (observe only; rules load when first needed)."""
    from mcptrace.record.recorder import Recorder, when_active
    from mcptrace.record.state import SpanRegistry

    def attach(registry: SpanRegistry, recorder: Recorder) -> None:
        if recorder.detector is None:
            from mcptrace.policy import detect_stage

            detect_stage.install(recorder, policy, registry)

    when_active(attach)


class PolicyInstrumentor(Instrumentor):
    """Allow/deny rules over the sensor's observations; observe or enforce."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return []

    def _instrument(self, **kwargs: Any) -> None:
        settings = current_settings()
        path = kwargs.get("policy_path", settings.policy)
        if settings.detections and settings.part_enabled("sensor"):
            _install_detections(Path(path) if path is not None else None)
        if path is None or not settings.part_enabled("policy"):
            return
        if not settings.part_enabled("sensor") or not settings.sensor:
            report("mcptrace: MCPTRACE_POLICY is set but the sensor is off; no policy applies")
            return
        from mcptrace.policy import active

        active.install(Path(path), settings)

    def _uninstrument(self, **kwargs: Any) -> None:
        # Deliberately not a mirror of _instrument: a locked-in policy stays in force, so
        # nothing inside the program can switch it off through this API.
        import sys

        active = sys.modules.get("mcptrace.policy.active")
        if active is not None and active.active_policy() is not None:
            report("mcptrace: the policy is locked in for this process; uninstrument ignored")
