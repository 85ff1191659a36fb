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
every method.  The dict behind both mappings (``os.environ._data``, bytes to bytes) becomes a
``dict`` subclass that raises the same event when code outside ``os`` iterates it, lists its
items, keys or values, copies or prints it: a tool reading ``_data`` directly to step around
the watched mapping is seen too.  What it cannot see: ``/proc/self/environ`` (a file open,
recorded as such) and ``ctypes`` calls to ``getenv`` (their symbol lookup is recorded).
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


_OS_FILE = getattr(getattr(_Environ.__iter__, "__code__", None), "co_filename", "")
_getframe = sys._getframe


def _announce_data(data: dict[Any, Any]) -> None:
    try:
        caller = _getframe(2).f_code.co_filename
    except ValueError:  # called from C with no Python frame above: not os's own method
        caller = ""
    if caller != _OS_FILE:  # os's own methods announce for it
        _audit(AUDIT_EVENT, len(data))


class WatchedData(dict):  # type: ignore[type-arg]
    """The dict behind ``os.environ``: its whole-environment reads from outside ``os`` raise
    ``mcptrace.environ`` (reading one key, setting and deleting stay the plain dict's)."""

    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        _announce_data(self)
        return dict.__iter__(self)

    def keys(self) -> Any:
        _announce_data(self)
        return dict.keys(self)

    def items(self) -> Any:
        _announce_data(self)
        return dict.items(self)

    def values(self) -> Any:
        _announce_data(self)
        return dict.values(self)

    def copy(self) -> dict[Any, Any]:
        _announce_data(self)
        return dict.copy(self)

    def __repr__(self) -> str:
        _announce_data(self)
        return dict.__repr__(self)

    def __reduce__(self) -> Any:  # pickled as the plain dict it stands for
        return (dict, (dict.copy(self),))


def watch_environ() -> None:
    """Swap the classes of ``os.environ`` and ``os.environb`` and the dict they share;
    never raises."""
    data = getattr(getattr(os, "environ", None), "_data", None)
    watched = WatchedData(data) if type(data) is dict else None
    for name in ("environ", "environb"):
        mapping = getattr(os, name, None)
        if type(mapping) is _Environ:
            try:
                mapping.__class__ = WatchedEnviron
            except TypeError:
                continue
        if watched is not None and getattr(mapping, "_data", None) is data:
            mapping._data = watched  # type: ignore[union-attr]


def unwatch_environ() -> None:
    watched = getattr(getattr(os, "environ", None), "_data", None)
    plain = dict.copy(watched) if type(watched) is WatchedData else None
    for name in ("environ", "environb"):
        mapping = getattr(os, name, None)
        if type(mapping) is WatchedEnviron:
            mapping.__class__ = _Environ
        if plain is not None and getattr(mapping, "_data", None) is watched:
            mapping._data = plain  # type: ignore[union-attr]
