"""The program's other threads held at their next audited action while mcptrace's exit runs.

Usage (first thing in mcptrace's exit, ``activation.on_exit_begin``, with the sensor on)::

    exit_hold.start()   # from now on, another program thread's audited action waits

By the time mcptrace's exit runs (the last atexit handler: it registers first), the
program's own exit is done: its non-daemon threads were joined, its atexit handlers ran.
What is left are daemon threads, which a plain interpreter would stop within milliseconds.
mcptrace's exit takes longer (the last records written, the spool closed, the shipper's
small budget, an activation at exit first if nothing activated yet), and the sensor stops
recording once its last records are out: a daemon thread waking then (a tool that steals
0.3 s after its call, past a short session's end) acted unseen, or was only counted, in
time mcptrace gave it.  So from the start of mcptrace's exit, such a thread is held at
the audit event of its next action (a file opened, a connect, a spawn, an import),
before the action happens, until the process ends: what it would do then does not happen,
as without mcptrace, and everything it did before is written.

Not held: the exiting thread (atexit handlers registered before mcptrace's still run in
it), a thread that ends the process once the flush is done (``os._exit``, a SIGTERM's
handler: the flush runs in a helper meanwhile), mcptrace's own threads (paused), and
threads running mcptrace's or OpenTelemetry's code (the SDK's exporter workers, joined
while the providers shut down).  A held thread
waits at most ``HOLD_SECONDS``: something that joins a daemon thread after mcptrace's exit
(an atexit handler registered before it) is delayed, never hung.
"""

from __future__ import annotations

import _thread
import os
import sys

from mcptrace import _guard

HOLD_SECONDS = 15.0  # past mcptrace's longest exit (each flush bounded by 5 s)

_MCPTRACE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# frames a thread's function runs under without being it
_PASSING = (
    os.sep + "threading.py",
    os.sep + os.path.join("mcptrace", "threads.py"),
    os.sep + os.path.join("instrumentation", "threading", "__init__.py"),
    os.sep + os.path.join("wrapt", "wrappers.py"),
    os.sep + os.path.join("wrapt", "patches.py"),
)
_release = _thread.allocate_lock()
_release.acquire()
_exiting_thread: list[int] = []
_inside: set[int] = set()  # threads in _hold right now
_requesters: set[int] | frozenset[int] = frozenset()


def start(requesters: set[int] | frozenset[int] = frozenset()) -> None:
    """Hold the program's other threads from now on (once per process); ``requesters``
    (a live set) are threads that end the process once the exit's flush is done (os._exit,
    a SIGTERM: the flush runs in a helper while they wait): never held either."""
    global _requesters
    if _exiting_thread:
        return
    _requesters = requesters
    _exiting_thread.append(_thread.get_ident())
    try:
        sys.addaudithook(_hold)
    except Exception:
        pass


def _hold(event: str, args: tuple[object, ...]) -> None:
    ident = _thread.get_ident()
    if ident in _inside or ident in _exiting_thread or ident in _guard.PAUSED:
        return  # _inside: reading a frame's attributes raises audit events of its own
    if ident in _requesters:
        return
    _inside.add(ident)
    try:
        if not _runs_own_code(sys._getframe(1)):
            _release.acquire(timeout=HOLD_SECONDS)  # never released: the process ends first
    except Exception:  # never the program's error
        pass
    finally:
        _inside.discard(ident)


def _runs_own_code(frame: object) -> bool:
    """True when the thread's own function is mcptrace's or OpenTelemetry's code: its
    outermost frame past threading's bootstrap and the wrappers that carry context into
    threads (mcptrace's, OpenTelemetry's threading instrumentation, wrapt)."""
    files = []
    while frame is not None:
        files.append(frame.f_code.co_filename)  # type: ignore[attr-defined]
        frame = frame.f_back  # type: ignore[attr-defined]
    for name in reversed(files):  # outermost first
        if not name.endswith(_PASSING):
            return str(name).startswith(_own_code())
    return False


def _own_code() -> tuple[str, ...]:
    """mcptrace's directory, and OpenTelemetry's once loaded (an activation at exit loads
    it, and starts the SDK's exporter threads)."""
    otel = sys.modules.get("opentelemetry")
    paths = getattr(otel, "__path__", None) or ()
    return (_MCPTRACE, *(os.path.abspath(path) + os.sep for path in paths))
