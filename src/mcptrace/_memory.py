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

from mcptrace._guard import sensor_paused


def give_back_free_memory() -> bool:
    """``malloc_trim(0)``; True when it ran.  Never raises."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        with sensor_paused():  # our own dlopen(NULL) is not the program's activity
            import ctypes

            trim = ctypes.CDLL(None).malloc_trim
            trim.argtypes = [ctypes.c_size_t]
            trim.restype = ctypes.c_int
            trim(0)
        return True
    except Exception:  # not glibc, no ctypes, a hostile environment: keep the memory
        return False
