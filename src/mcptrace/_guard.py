"""Threads doing mcptrace's own work (export, spool writes, hashing), which the sensor ignores.

The audit hook checks ``threading.get_ident() in PAUSED`` before recording anything, so the
exporter's sockets, spool files and the sensor's own reads are never the tool's activity.

Usage::

    with sensor_paused():
        ...  # nothing this thread does here is recorded

Imported at interpreter start: plain ``_thread``, no contextlib.

Only mcptrace's own code may pause the sensor.  ``PAUSED.add`` (and ``sensor_paused()``)
called from anywhere else still marks the thread, but the mark is not vouched for: with a
policy in force the hook sees a paused thread that ``is_own_pause`` does not know, reports a
``mcptrace.sensor.tamper`` event and judges the thread's actions anyway.  The same holds for a
thread id put into the set behind its methods' back (``set.add(PAUSED, ident)``).
"""

from __future__ import annotations

import os
import sys
from _thread import get_ident

TYPE_CHECKING = False  # not typing's: imported at interpreter start
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_PLUMBING = (__file__, os.path.abspath(__file__), _PACKAGE_DIR + "_guard.py")


def called_from_mcptrace(depth: int = 2) -> bool:
    """True when the first frame outside this module is mcptrace's own code."""
    frame = sys._getframe(depth)
    while frame is not None and frame.f_code.co_filename in _PLUMBING:
        frame = frame.f_back  # type: ignore[assignment]
    return frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR)


def _paused_threads() -> tuple[set[int], Callable[[int], bool]]:
    vouched: set[int] = set()  # held only by these closures: not a module attribute

    class PausedThreads(set[int]):
        """The set the hook reads; what mcptrace itself adds is vouched for on the side."""

        def add(self, ident: int) -> None:
            if called_from_mcptrace():
                vouched.add(ident)
            set.add(self, ident)

        def discard(self, ident: object) -> None:
            vouched.discard(ident)
            set.discard(self, ident)

        def remove(self, ident: int) -> None:
            vouched.discard(ident)
            set.remove(self, ident)

        def intersection_update(self, *others: Iterable[object]) -> None:
            vouched.intersection_update(*others)
            set.intersection_update(self, *others)

    def is_own_pause(ident: int) -> bool:
        return ident in vouched

    return PausedThreads(), is_own_pause


PAUSED, is_own_pause = _paused_threads()


class sensor_paused:
    """Pause the sensor for this thread; nested uses leave it to the outermost."""

    __slots__ = ("ident", "owner")

    def __enter__(self) -> None:
        self.ident = ident = get_ident()
        self.owner = ident not in PAUSED  # nested: the outer block owns the flag
        PAUSED.add(ident)

    def __exit__(self, *exc_info: object) -> None:
        if self.owner:
            PAUSED.discard(self.ident)
