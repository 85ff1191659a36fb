"""The ``os`` functions as they were when mcptrace started.

Usage::

    from mcptrace import _pristine
    _pristine.write(fd, data)      # os.write, even if tool code has replaced os.write since
    with _pristine.restored():     # mcptrace's own work at exit, on the original functions
        ...

Tool code may replace ``os.open``, ``os.write`` and the like after start-up — to hide its
actions from the telemetry, or by accident (a test double, a sandboxing shim).  The audit
hook still sees what the program does (its events come from the C functions); the spool is
written through the functions bound here, and the exit sequence (which may load the SDK,
read settings, make the spool directory) runs with ``os`` and ``builtins.open`` put back as
they were, and the program's replacements restored after it.  Imported at interpreter
start (activation.py): ``os`` and ``builtins`` only.
"""

from __future__ import annotations

import builtins
import os

TYPE_CHECKING = False  # not typing's: imported at interpreter start
if TYPE_CHECKING:
    from types import TracebackType

open = os.open
close = os.close
write = os.write
fstat = os.fstat
fchmod = os.fchmod
ftruncate = os.ftruncate
fdatasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync
mkdir = os.mkdir
chmod = os.chmod

_OS = {name: value for name, value in vars(os).items() if callable(value)}
_OPEN = builtins.open


class restored:  # lower case: used as a function, ``with restored():``
    """``os``'s functions and ``builtins.open`` as at start, for the length of the block."""

    def __enter__(self) -> None:
        current = vars(os)
        self.replaced = {n: current[n] for n, v in _OS.items() if current.get(n, v) is not v}
        self.open = builtins.open
        for name in self.replaced:
            setattr(os, name, _OS[name])
        builtins.open = _OPEN

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for name, replacement in self.replaced.items():
            setattr(os, name, replacement)
        builtins.open = self.open
