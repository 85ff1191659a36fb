"""The policy seam of the sensor pipeline.

The hook calls ``decide(observation, attribution)`` after translation and attribution and
before recording.  Until a policy is installed it does nothing.  A policy raises a subclass
of ``PolicyDenial`` to block the audited operation: that is the only exception the hook
lets out into the program (the operation fails with a PermissionError inside the tool)::

    class PolicyViolation(PolicyDenial): ...

    def my_policy(observation, attribution):
        if observation.name == "mcptrace.network.connect" and ...:
            raise PolicyViolation("egress to 203.0.113.7 denied")

    set_decider(my_policy)
"""

from __future__ import annotations

from collections.abc import Callable

from mcptrace.sensor.attribution import Attribution
from mcptrace.sensor.events import Observation


class PolicyDenial(PermissionError):
    """A deliberate denial; the hook re-raises it, and only it."""


Decider = Callable[[Observation, Attribution], None]

_decider: Decider | None = None


def set_decider(decider: Decider | None) -> None:
    global _decider
    _decider = decider


def decide(observation: Observation, attribution: Attribution) -> None:
    if _decider is not None:
        _decider(observation, attribution)
