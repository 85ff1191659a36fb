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

``lock_decider(policy, on_refused)`` installs a policy for the rest of the process: a later
``set_decider`` (say, from tool code trying ``set_decider(None)``) raises ``DeciderLocked``
and calls ``on_refused`` so the attempt is reported.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: imported as the interpreter starts
if TYPE_CHECKING:  # the seam itself loads nothing: ``mcptrace.PolicyViolation`` derives from it
    from collections.abc import Callable

    from mcptrace.record.observation import Observation
    from mcptrace.record.state import Attribution

    # None, or for a plain open the policy allowed and would allow again while the path
    # leads to the same file: that file's (st_dev, st_ino) (the C hook's step 3 keeps it)
    Decider = Callable[[Observation, Attribution], tuple[int, int] | None]


class PolicyDenial(PermissionError):
    """A deliberate denial; the hook re-raises it, and only it."""


class DeciderLocked(PolicyDenial):
    """``set_decider`` was called after a policy was locked in."""


# One slot the hook reads directly: no call at all while no policy is installed.
POLICY: list[Decider | None] = [None]


_on_refused: list[Callable[[], None] | None] = [None]  # set once a policy is locked in
_lock_listeners: list[Callable[[Decider], None]] = []  # the hook pins the locked policy


def on_lock(listener: Callable[[Decider], None]) -> None:
    """Call ``listener(decider)`` when a policy is locked in (at once if it already is)."""
    _lock_listeners.append(listener)
    decider = POLICY[0]
    if _on_refused[0] is not None and decider is not None:
        listener(decider)


_forget_listeners: list[Callable[[], None]] = []  # the C hook's remembered verdicts


def on_forget(listener: Callable[[], None]) -> None:
    """Call ``listener()`` whenever the policy takes back what it allowed before."""
    _forget_listeners.append(listener)


def forget_allowed() -> None:
    """The policy's earlier "allowed again" answers no longer hold (a violation, a tool
    tainted, the policy restored): whoever remembers them must ask again."""
    for listener in _forget_listeners:
        listener()


def set_decider(decider: Decider | None) -> None:
    on_refused = _on_refused[0]
    if on_refused is not None:
        on_refused()
        raise DeciderLocked("mcptrace: the policy is locked in for this process")
    POLICY[0] = decider


def lock_decider(decider: Decider, on_refused: Callable[[], None]) -> None:
    """Install ``decider`` for good; later ``set_decider`` calls are refused and reported.

    Only the lock holder (the same ``on_refused``) may lock again: that is how the policy
    restores itself if someone rebinds ``POLICY[0]`` behind its back.
    """
    holder = _on_refused[0]
    if holder is not None and holder is not on_refused:
        raise DeciderLocked("mcptrace: a policy is already locked in for this process")
    POLICY[0], _on_refused[0] = decider, on_refused
    for listener in _lock_listeners:
        listener(decider)


def restore_decider(decider: Decider, on_refused: Callable[[], None]) -> None:
    """The lock holder putting its policy back after both slots were rebound behind its
    back (a tool may have installed its own ``on_refused`` too, so ``lock_decider`` would
    refuse); the policy's self-check is the one caller."""
    POLICY[0], _on_refused[0] = decider, on_refused
    forget_allowed()


def current_decider() -> tuple[Decider | None, Callable[[], None] | None]:
    """(the installed decider, the lock holder's callback) as the hook sees them."""
    return POLICY[0], _on_refused[0]


def decide(observation: Observation, attribution: Attribution) -> None:
    decider = POLICY[0]
    if decider is not None:
        decider(observation, attribution)
