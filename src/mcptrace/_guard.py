"""Threads doing mcptrace's own work (export, spool writes, hashing), which the sensor ignores.

The audit hook checks ``threading.get_ident() in PAUSED`` before recording anything, so the
exporter's sockets, spool files and the sensor's own reads are never the tool's activity.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

PAUSED: set[int] = set()


@contextmanager
def sensor_paused() -> Iterator[None]:
    ident = threading.get_ident()
    if ident in PAUSED:  # nested: the outer block owns the flag
        yield
        return
    PAUSED.add(ident)
    try:
        yield
    finally:
        PAUSED.discard(ident)
