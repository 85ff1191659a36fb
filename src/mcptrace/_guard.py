"""Threads doing mcptrace's own work (export, spool writes, hashing), which the sensor ignores.

The audit hook checks ``threading.get_ident() in PAUSED`` before recording anything, so the
exporter's sockets, spool files and the sensor's own reads are never the tool's activity.

Usage::

    with sensor_paused():
        ...  # nothing this thread does here is recorded

Imported at interpreter start: plain ``_thread``, no contextlib.
"""

from __future__ import annotations

from _thread import get_ident

PAUSED: set[int] = set()


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
