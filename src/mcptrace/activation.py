"""Turn mcptrace on inside the current process, once, without ever taking the program down.

Usage (done for you by ``mcptrace run`` and by ``opentelemetry-instrument`` through the
``mcptrace`` configurator)::

    from mcptrace.activation import activate, current_settings, when_active
    activate()                     # providers and exporters, now
    when_active(callback)          # run callback once they exist (at once if they do)
    current_settings().sensor      # what the instrumentors read

``mcptrace run`` starts lazily (``_bootstrap/start.py``): the audit hook and the spawn
patches go in at start, and ``activate`` runs only when something needs OpenTelemetry —
the first call into mcp or fastmcp (``mcp/lazy.py``: a session, server or transport), the
program's own use of the OpenTelemetry API, the sensor's first record (1 s later), or the
process exiting with something to write (``at_exit``).  Importing mcp alone does not.  A
process that needs none of it never loads the SDK.

Bad settings are reported as one line each on stderr and switch off only the part they
belong to.  ``TRACEPARENT``/``TRACESTATE`` inherited from an instrumented parent become this
process's ambient context, so a child's telemetry continues the parent's trace.

This module is imported at interpreter start: it imports nothing beyond ``os``, ``sys``
and ``_thread`` until ``activate`` runs.
"""

from __future__ import annotations

import _thread
import atexit
import os
import sys

from mcptrace import _pristine
from mcptrace._stderr import say

TYPE_CHECKING = False  # not typing's: importing typing costs every process start-up
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

    from opentelemetry.context import Context

    from mcptrace.config import Settings
    from mcptrace.export.providers import Telemetry

_lock = _thread.RLock()
_REPORTED_SPOOL = "MCPTRACE_SPOOL_PROBLEM_REPORTED"  # inherited by children: said once
_settings: Settings | None = None
_telemetry: Telemetry | None = None
_parent_context: Context | None = None
_activated = False  # activate() ran (successfully or not): it never runs twice
_activating_thread: int | None = None
_on_active: list[Callable[[], None]] = []
_on_exit: list[Callable[[], None]] = []  # run last-registered first, before the SDK shuts down
_exit_needs: list[Callable[[], bool]] = []  # "is there something to write at exit?"
_exit_begins: list[Callable[[], None]] = []  # run first at exit, before anything is written
# threads that asked for the exit flush and end the process after it (os._exit, SIGTERM):
# the flush runs in a helper, they wait for it, then end the process themselves
EXIT_REQUESTERS: set[int] = set()
_exit_registered = False
_exited = False
_sigterm_installed = False
_retry_at_exit = False  # an activation the exit overtook: at_exit activates again
_in_background = False  # activate_in_background() is running: a failure is retried at exit
_exit_flushing = _thread.allocate_lock()  # held while at_exit runs
_exit_thread: int | None = None  # the thread running at_exit
_real_os_exit: Callable[[int], None] | None = None  # os._exit before install_exit_flush
_context_loaded_before = True  # OTel's context was in use before activate() ran
_context_by_library = False  # ... loaded by a library's import (mcp's), not used yet
_ambient: tuple[object, dict[str, object]] | None = None  # (our context variable, its default)


def report(message: str) -> None:
    """The single way mcptrace tells the user something at runtime: one line on stderr."""
    say(message)


def current_settings() -> Settings:
    """The settings of this process (loaded leniently on first use)."""
    global _settings
    if _settings is None:
        from mcptrace.config import load_settings_lenient
        from mcptrace.record.redact import configure as configure_redaction

        settings, errors = load_settings_lenient()
        for error in errors:
            report(str(error))
        configure_redaction(settings.redact_keys, settings.redact_patterns)
        _settings = settings
    return _settings


def context_loaded_by_library() -> None:
    """OTel's context is being loaded by a library's import (mcp 2.x's) with nothing
    activating: nobody holds a context of their own yet, so activation may still give every
    thread the parent's trace as their default (``set_ambient_context``)."""
    global _context_by_library
    _context_by_library = "opentelemetry.context" not in sys.modules


def parent_context() -> Context | None:
    """The context an instrumented parent process passed in TRACEPARENT, if any."""
    return _parent_context


def telemetry() -> Telemetry | None:
    return _telemetry


def is_active() -> bool:
    """True once the providers are set up."""
    return _telemetry is not None


def default_service_name(argv: list[str] | None = None, orig_argv: list[str] | None = None) -> str:
    """The script, module or console-script name; at start-up ``sys.argv`` is still raw
    (``sys.argv`` as it was when this module was imported, before runpy rewrote it)."""
    args = _start_argv if argv is None else argv
    original = getattr(sys, "orig_argv", []) if orig_argv is None else orig_argv
    if args and args[0] == "-m":
        # during sitecustomize, argv is ['-m', ...]; the module name is only in orig_argv
        if "-m" in original[1:-1]:
            return str(original[original.index("-m", 1) + 1])
        return "python"
    if not args or not args[0] or args[0] == "-c":
        return "python"
    name = os.path.basename(args[0])
    return name.removesuffix(".py") or "python"


# --- what runs when the providers exist, and at exit


def when_active(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the providers exist: now if they do, else right after
    ``activate`` sets them up (in the thread that activates)."""
    with _lock:
        if _telemetry is None:
            _on_active.append(callback)
            return
    _run(callback)


def on_exit(callback: Callable[[], None], needs: Callable[[], bool] | None = None) -> None:
    """Run ``callback`` at exit, before the providers flush and shut down (last registered
    runs first, as atexit does).  ``needs`` says whether the part has something to write:
    a process that never activated activates at exit only if one of them says so."""
    global _exit_registered
    with _lock:
        _on_exit.append(callback)
        if needs is not None:
            _exit_needs.append(needs)
        if not _exit_registered:
            _exit_registered = True
            atexit.register(at_exit)


def on_exit_begin(callback: Callable[[], None]) -> None:
    """Run ``callback`` first at exit: before an activation at exit and every part's flush
    (registered with ``on_exit``, which registers mcptrace's atexit handler)."""
    with _lock:
        _exit_begins.append(callback)


def something_to_write() -> bool:
    """A part has something to write (what ``at_exit`` asks before activating)."""
    try:
        return any(needs() for needs in list(_exit_needs))
    except Exception:
        return True


def _run(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception as exc:  # one part failing must not stop the others
        report(f"mcptrace: could not start {getattr(callback, '__qualname__', callback)} ({exc!r})")


def at_exit() -> None:
    """Flush every part, then the providers; activates first if a part has something to
    write and nothing did so yet."""
    global _exited, _exit_thread
    me = _thread.get_ident()
    if _exited or not _exit_flushing.acquire(False):
        # the flush is done or under way.  Under way in another thread (os._exit's helper
        # when a SIGTERM comes — a pool terminating a worker that is ending): wait for it,
        # a bounded while, so the signal's default ending does not cut it short; in this
        # thread it is below us on the stack: go on
        if _exit_thread != me and _exit_flushing.acquire(timeout=_EXIT_FLUSH_SECONDS):
            _exit_flushing.release()
        return
    _exit_thread = me
    _exited = True
    from mcptrace._guard import PAUSED

    paused_here = me not in PAUSED
    PAUSED.add(me)  # what follows is mcptrace's own work, not the program's
    try:
        with _pristine.restored():  # the program may have replaced os.open, os.write, ...
            _exit_sequence()
    finally:
        if paused_here:
            PAUSED.discard(me)
        _exit_flushing.release()


def _exit_sequence() -> None:
    global _activated, _retry_at_exit
    for begin in list(_exit_begins):
        try:
            begin()
        except Exception:
            pass
    # an activation under way in another thread: wait for it to end; one in mcptrace's
    # background thread, for all of it: the callbacks it runs after setting ``_telemetry``
    # too (the process span starts in one; flushing before it started lost the span)
    if (
        _activated
        and (_telemetry is None or _in_background)
        and _lock.acquire(timeout=_EXIT_FLUSH_SECONDS)
    ):
        _lock.release()
        if _telemetry is None and _retry_at_exit:  # it failed because the process is ending:
            _retry_at_exit = False  # once more, as an activation at exit (no threads)
            _activated = False
    if _telemetry is None and not _activated:
        try:
            wanted = any(needs() for needs in list(_exit_needs))
        except Exception:
            wanted = True
        if wanted:
            activate()
    for callback in reversed(list(_on_exit)):
        try:
            callback()
        except Exception:
            pass
    active = _telemetry
    if active is not None:
        try:
            active.shutdown()
        except Exception:
            pass


# --- activation


def exiting() -> bool:
    """True once the exit sequence has begun."""
    return _exited


def is_settled() -> bool:
    """True once activate() has run to its end (whatever came of it)."""
    return _activated and _activating_thread is None


def activating_elsewhere() -> bool:
    """True while another thread runs ``activate``."""
    thread = _activating_thread
    return thread is not None and thread != _thread.get_ident()


def activating_here() -> bool:
    """True in the thread that is running ``activate`` right now."""
    return _activating_thread == _thread.get_ident()


def _spool_in_use(settings: Settings) -> bool:
    from mcptrace.config import SIGNALS, SPOOL_EXPORTER

    return any(
        name in (SPOOL_EXPORTER, "otlp")
        for signal in SIGNALS
        for name in settings.exporter_for(signal)
    )


def install_exit_flush() -> None:
    """What was recorded is written however the process ends, where Python lets it run:
    ``os._exit`` (how multiprocessing's fork workers, daemonizing servers and many forked
    children end) flushes first, and so does a SIGTERM left at its default."""
    _flush_before_os_exit()
    install_sigterm_flush()


_EXIT_FLUSH_SECONDS = 5.0  # a flush stuck on a lock held at the exit must not keep the exit


def _flush_before_os_exit() -> None:
    """Wrap ``os._exit`` once: flush (as at a normal exit) in a helper thread, waiting for
    it at most ``_EXIT_FLUSH_SECONDS``, then exit with the program's status.  A helper, not
    this thread: ``os._exit`` may be called from a signal handler, or in a forked child,
    while a lock the flush needs is held by the code it interrupted."""
    global _real_os_exit
    if _real_os_exit is not None:
        return
    import _operator

    real_exit = _real_os_exit = os._exit

    def _exit(status: int, /) -> None:
        try:
            _operator.index(status)  # os._exit("x") raises TypeError: nothing ends, nothing flushed
        except TypeError:
            real_exit(status)
        _flush_within(_EXIT_FLUSH_SECONDS)
        real_exit(status)

    _exit.__doc__ = real_exit.__doc__
    _exit.__wrapped__ = real_exit  # type: ignore[attr-defined]
    os._exit = _exit  # type: ignore[assignment]


def _flush_within(seconds: float) -> None:
    if _exited:
        # a flush under way in another thread (os._exit's, while a SIGTERM arrives — a
        # multiprocessing pool terminating its workers): let it end first, as long as it
        # has ``seconds``; in this very thread it is below us on the stack: go on
        if _exit_thread != _thread.get_ident() and _exit_flushing.acquire(timeout=seconds):
            _exit_flushing.release()
        return
    done = _thread.allocate_lock()
    done.acquire()
    EXIT_REQUESTERS.add(_thread.get_ident())

    def flush() -> None:
        try:
            at_exit()
        except BaseException:
            pass
        finally:
            done.release()

    try:
        _thread.start_new_thread(flush, ())
    except RuntimeError:  # no thread can be started (interpreter shutting down): exit as asked
        return
    done.acquire(timeout=seconds)


def install_sigterm_flush() -> None:
    """On SIGTERM, flush like a normal exit, then die of SIGTERM as the parent expects.

    Only from the main thread, only over the default disposition (a program or runtime
    handling SIGTERM itself keeps its handler; atexit still flushes, and so does os._exit).
    ``_signal``, not ``signal``: this runs at interpreter start, and ``signal`` imports
    enum."""
    import _signal  # type: ignore[import-not-found]

    global _sigterm_installed
    if _sigterm_installed or _thread.get_ident() != _main_thread_ident:
        return
    try:
        if _signal.getsignal(_signal.SIGTERM) != _signal.SIG_DFL:
            return
    except (ValueError, OSError):
        return

    real_signal, real_getsignal = _signal.signal, _signal.getsignal
    sigterm, default = _signal.SIGTERM, _signal.SIG_DFL

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        try:
            # in a helper, bounded: the interrupted code may hold a lock the flush needs
            # (a spool write on this thread), and a handler waiting for it never returns
            _flush_within(_EXIT_FLUSH_SECONDS)
        finally:
            real_signal(sigterm, default)
            os.kill(os.getpid(), sigterm)

    # The program sees SIGTERM at its default: getsignal says SIG_DFL, and setting SIG_DFL
    # back (asyncio's remove_signal_handler, a handler re-raising the signal, as uvicorn's
    # does) keeps the flush in front of the default ending.
    def signal(signalnum: int, handler: object, /) -> object:
        main = _thread.get_ident() == _main_thread_ident
        chosen = on_sigterm if signalnum == sigterm and handler == default and main else handler
        previous = real_signal(signalnum, chosen)
        return default if previous is on_sigterm else previous

    def getsignal(signalnum: int, /) -> object:
        current = real_getsignal(signalnum)
        return default if current is on_sigterm else current

    try:
        real_signal(sigterm, on_sigterm)
        _sigterm_installed = True
    except (ValueError, OSError):
        return
    signal.__doc__, getsignal.__doc__ = real_signal.__doc__, real_getsignal.__doc__
    _signal.signal, _signal.getsignal = signal, getsignal


def _pin_locations_for_children(settings: Settings) -> None:
    """Children (e.g. a stdio server given only HOME/PATH/...) write to the same spool and
    cache even when they would resolve a different default (no XDG_STATE_HOME there)."""
    os.environ.setdefault("MCPTRACE_SPOOL_DIR", str(settings.spool_dir))
    os.environ.setdefault("MCPTRACE_HASH_CACHE", str(settings.hash_cache_path()))


def set_ambient_context(context: Context) -> None:
    """Make ``context`` current for the whole program, whichever thread activates.

    Activation may run in any thread (the first to import mcp, say).  When nothing in the
    program had loaded OTel's context before, no thread holds a context of its own yet:
    OTel's context variable is replaced, once, by one whose default is a context of ours, so
    every thread, the main one included, starts from it; later calls update that default
    in place (the hook may have linked to the variable meanwhile).  Otherwise ``context`` is
    attached in this thread, as an eager start would have done.
    """
    global _ambient
    from contextvars import ContextVar

    from opentelemetry import context as otel_context
    from opentelemetry.context import Context
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    if _ambient is not None and variable is _ambient[0]:
        dict.clear(_ambient[1])  # Context forbids item assignment; it is ours to refill
        dict.update(_ambient[1], context)
        return
    if (
        _context_loaded_before
        or not isinstance(runtime, ContextVarsRuntimeContext)
        or not isinstance(variable, ContextVar)
    ):
        otel_context.attach(context)
        return
    default = Context(context)
    replacement: ContextVar[Context] = ContextVar(variable.name, default=default)
    runtime._current_context = replacement
    _ambient = (replacement, default)


def _adopt_parent_context() -> None:
    global _parent_context
    carrier = {
        key.lower(): os.environ[key] for key in ("TRACEPARENT", "TRACESTATE") if key in os.environ
    }
    if "traceparent" not in carrier:
        return
    from opentelemetry.propagate import extract

    _parent_context = extract(carrier)
    set_ambient_context(_parent_context)


def activate_in_background() -> None:
    """Activate from a thread of mcptrace's while the program runs (sensor/lifecycle.py).
    A failure is not reported now but retried at exit, where it runs on the original ``os``
    functions (the program may have replaced them) and reports if it fails again."""
    global _in_background
    if not _lock.acquire(False):
        return
    try:
        _in_background = True
        _activate_locked()
    finally:
        _in_background = False
        _lock.release()


def activate(blocking: bool = True) -> Telemetry | None:
    """Configure providers and exporters from the settings; idempotent, never raises.

    ``blocking=False`` returns at once when another thread is activating (an import hook
    that holds a module lock activation may need must not wait for it)."""
    if not _lock.acquire(blocking):
        return _telemetry
    try:
        return _activate_locked()
    finally:
        _lock.release()


def _activate_locked() -> Telemetry | None:
    global _telemetry, _activated, _activating_thread, _context_loaded_before
    if _activated:
        return _telemetry
    from mcptrace._guard import PAUSED

    _activated = True
    _activating_thread = me = _thread.get_ident()
    _context_loaded_before = "opentelemetry.context" in sys.modules and not _context_by_library
    paused_here = me not in PAUSED
    PAUSED.add(me)  # the modules activation imports and the files it opens are not the program's
    try:
        _telemetry = _build()
        callbacks = list(_on_active) if _telemetry is not None else []
        if _telemetry is not None:  # kept for a retry at exit (_retry_at_exit)
            _on_active.clear()
        for callback in callbacks:
            _run(callback)
    finally:
        _activating_thread = None
        if paused_here:
            PAUSED.discard(me)
    return _telemetry


def _import_sdk_without_detectors() -> None:
    """Import the SDK without its resource-detector machinery.  At import, the logs SDK
    calls ``Resource.create``, which scans every installed distribution's entry points for
    detectors (≈50 ms) and runs them on a thread pool: at exit Python refuses to register
    the pool (3.11) or start its threads (3.12).  With only the default detector (no
    ``OTEL_EXPERIMENTAL_RESOURCE_DETECTORS``), or at exit, ``Resource.create`` merges the
    environment's attributes itself until the SDK is in, as the default detector does."""
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource

    original = Resource.__dict__["create"]

    def create(
        attributes: dict[str, object] | None = None, schema_url: str | None = None
    ) -> Resource:
        detected = OTELResourceDetector().detect()
        return detected.merge(Resource(attributes or {}, schema_url))  # type: ignore[arg-type]

    Resource.create = staticmethod(create)  # type: ignore[method-assign,assignment]
    try:
        import opentelemetry.sdk._logs
        import opentelemetry.sdk.trace  # noqa: F401
    finally:
        Resource.create = original  # type: ignore[method-assign]


def _shutting_down() -> bool:
    """The interpreter is ending: threading's shutdown has begun (before atexit runs)."""
    threading = sys.modules.get("threading")
    return bool(getattr(threading, "_SHUTTING_DOWN", False)) or sys.is_finalizing()


def _build() -> Telemetry | None:
    global _exit_registered, _retry_at_exit
    begun_before_exit = not _exited
    try:
        settings = current_settings()
        if not settings.part_enabled("all"):
            return None
        from mcptrace.config import Settings, check_spool_writable

        if _exited or not os.environ.get("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS"):
            _import_sdk_without_detectors()
        if not _exited:
            # before the providers: its at-fork reinit of its lock must run before theirs,
            # which submit to a thread pool in a forked child (MeterProvider._handle_fork)
            import concurrent.futures.thread  # noqa: F401
        from mcptrace.export.providers import ExporterError, build_telemetry

        spool_usable = True
        if settings.part_enabled("export") and _spool_in_use(settings):
            try:
                check_spool_writable(settings.spool_dir)
            except ValueError as exc:
                from mcptrace.export.spool import spool_reported

                spool_usable = False
                # once per spool for a process and its children (a client and its stdio
                # servers share one stderr): the first to find it tells its children
                if os.environ.get(_REPORTED_SPOOL) != str(settings.spool_dir):
                    report(f"{exc} (telemetry that needs the spool is dropped and counted)")
                    os.environ[_REPORTED_SPOOL] = str(settings.spool_dir)
                spool_reported(settings.spool_dir)
        from mcptrace.record.redact import redact_resource

        try:
            active = build_telemetry(
                settings,
                default_service_name(),
                spool_usable,
                at_exit=_exited,
                scrub_resource=redact_resource,
            )
        except ExporterError as exc:
            report(str(exc))
            active = build_telemetry(
                Settings(**{**settings.__dict__, "disabled_parts": {"export"}}),
                default_service_name(),
                at_exit=_exited,
                scrub_resource=redact_resource,
            )
        active.install()
        _pin_locations_for_children(settings)
        _adopt_parent_context()
        if not _exit_registered:  # the providers flush from at_exit, after every part
            _exit_registered = True
            atexit.register(at_exit)
        if not _exited:
            install_exit_flush()
        return active
    except Exception as exc:  # never take the program down
        if begun_before_exit and (_exited or _shutting_down() or _in_background):
            # begun in a thread before the exit, the exit overtook it (no atexit or thread
            # can be registered now): at_exit activates again, for the exit
            _retry_at_exit = True
            return None
        report(f"mcptrace: telemetry disabled, setup failed ({exc!r})")
        return None


_held_for_fork = False


def _before_fork() -> None:
    """A fork waits (a bounded while) for an activation under way in another thread: the
    child would inherit the import locks of the modules it was loading, held for ever."""
    global _held_for_fork
    _held_for_fork = _lock.acquire(timeout=_EXIT_FLUSH_SECONDS)


def _after_fork_in_parent() -> None:
    global _held_for_fork
    if _held_for_fork:
        _held_for_fork = False
        _lock.release()


def _after_fork_in_child() -> None:
    global _lock, _held_for_fork, _exit_flushing
    _held_for_fork = False
    _lock = _thread.RLock()  # another thread may have held it at the fork
    _exit_flushing = _thread.allocate_lock()


_main_thread_ident = _thread.get_ident()  # imported at start-up, in the main thread
_start_argv: list[str] = list(getattr(sys, "argv", []))
if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )
