"""Give the C allocator's free memory back to the system, once start-up work is done.

A server's start-up work on mcptrace's threads (the module inventory's walks, the detection
rules' compilation, the first exports) allocates and frees a few MiB through glibc's
``malloc``; each of those threads has its own arena, and an arena keeps what was freed in it
(≈2 MiB of a server's resident memory, measured with ``malloc_stats``) for later requests of
that thread only.  ``malloc_trim(0)`` returns free pages of every arena to the system: it frees
nothing in use and changes no allocation of the program's, so it is safe to call at any time;
it is called once, on the log thread, when start-up has settled.

glibc only: elsewhere (musl, macOS) there is no ``malloc_trim`` and this does nothing.
"""

from __future__ import annotations

import sys
from typing import Any

from mcptrace._guard import sensor_paused


def give_back_free_memory() -> bool:
    """``malloc_trim(0)``; True when it ran.  Never raises.

    The call runs with the sensor paused (our own symbol lookup is not the program's
    activity), so it runs only through the standard library's own ctypes: a program that
    replaced any part of it gets no call from a paused thread, where its code would go
    unrecorded.  (``malloc_trim``'s argument is only how much to keep: no ``argtypes``.)"""
    if not sys.platform.startswith("linux"):
        return False
    try:
        with sensor_paused():  # our own dlopen(NULL) and dlsym are not the program's activity
            import ctypes

            if not _genuine(ctypes):
                return False
            ctypes.CDLL(None).malloc_trim(0)
        return True
    except Exception:  # not glibc, no ctypes, a hostile environment: keep the memory
        return False


def _genuine(ctypes: Any) -> bool:
    """ctypes as the standard library ships it: the module file, CDLL's methods and the C
    functions its call goes through are the originals."""
    import _ctypes
    import os

    module_file = os.path.join(os.path.dirname(os.__file__), "ctypes", "__init__.py")
    if getattr(ctypes, "__file__", None) != module_file:
        return False
    cdll = ctypes.CDLL
    for name in ("__init__", "__getattr__", "__getitem__"):
        code = getattr(vars(cdll).get(name), "__code__", None)
        if code is None or code.co_filename != module_file:
            return False
    return (
        type(cdll) is type
        and cdll.__module__ == "ctypes"
        and ctypes._dlopen is _ctypes.dlopen
        and type(_ctypes.dlopen).__name__ == "builtin_function_or_method"
        and ctypes._CFuncPtr is _ctypes.CFuncPtr
        and ctypes.CDLL._func_restype_ is ctypes.c_int
        and type(ctypes.c_int).__module__ == "_ctypes"
    )
