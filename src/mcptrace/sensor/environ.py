"""Reads of the whole environment (``dict(os.environ)``, ``os.environ.copy()``, iterating it,
``repr(os.environ)``): an audit event the hook records like any other.

Usage (the sensor does this as it installs its hook)::

    watch_environ()
    dict(os.environ)    # -> sys.audit("mcptrace.environ", count, origin)

CPython raises no audit event when code reads ``os.environ``: it is a mapping filled at
start-up.  A tool dumping it (every API key and token the server was given) and sending it
away was invisible.  ``os.environ`` (and ``os.environb``) get a subclass of ``os._Environ``
whose iteration and ``repr`` raise ``mcptrace.environ`` with the number of variables; the
translator (``translate.py``) finds who asked, past ``os`` and ``collections.abc``: mcptrace
itself (not recorded), the tool's code, or library machinery reading the environment for its
own job (``urllib`` looking for proxies, ``subprocess`` passing an ``env``: marked library,
``sensor/origin.py``).  Reading one variable (``os.environ["X"]``, ``os.getenv``) is not an
event: every library does it all the time.  Only a count is recorded, never a value.

The class swap keeps ``isinstance(os.environ, os._Environ)``, pickling, ``putenv`` and
every method; what it cannot see: ``os.environ._data`` read directly, ``/proc/self/environ``
(a file open, recorded as such) and ``ctypes`` calls to ``getenv``.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # imported as the interpreter starts: no typing
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

AUDIT_EVENT = "mcptrace.environ"
_audit = sys.audit


def _announce(environ: Any) -> None:
    _audit(AUDIT_EVENT, len(environ._data))  # who asked: the translator walks the frames


_Environ: Any = getattr(os, "_Environ", type(os.environ))


class WatchedEnviron(_Environ):  # type: ignore[misc]
    """``os._Environ`` whose whole-environment reads raise ``mcptrace.environ``."""

    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        _announce(self)
        return _Environ.__iter__(self)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        _announce(self)
        return _Environ.__repr__(self)  # type: ignore[no-any-return]


def watch_environ() -> None:
    """Swap the classes of ``os.environ`` and ``os.environb``; never raises."""
    for name in ("environ", "environb"):
        mapping = getattr(os, name, None)
        if type(mapping) is _Environ:
            try:
                mapping.__class__ = WatchedEnviron
            except TypeError:
                pass


def unwatch_environ() -> None:
    for name in ("environ", "environb"):
        mapping = getattr(os, name, None)
        if type(mapping) is WatchedEnviron:
            mapping.__class__ = _Environ
