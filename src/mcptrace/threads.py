"""The OpenTelemetry context follows work into threads (entry point ``mcptrace_threads``).

Usage::

    from mcptrace.threads import ThreadContextInstrumentor
    ThreadContextInstrumentor().instrument()  # mcptrace run, opentelemetry-instrument do this
    # a tool's threading.Thread, Timer, ThreadPoolExecutor.submit (so loop.run_in_executor),
    # and _thread.start_new_thread now run in the tool call's context; so do the atexit
    # handlers and signal handlers a tool call registers, whenever they run

What OpenTelemetry's ``opentelemetry-instrumentation-threading`` does, with three differences:

* the context is attached in ``Thread._bootstrap_inner``, not ``Thread.run``, so a subclass
  that overrides ``run`` without calling ``super().run()`` (the usual way to write one) gets
  it too; ``_thread.start_new_thread`` called directly is covered as well;
* no ``BaseInstrumentor`` (and nothing wrapt-proxied on the hot path): nothing more to
  import at every interpreter start, and ``mcptrace run`` keeps its fast start-up path;
* ``multiprocessing.pool.ThreadPool`` work carries its submitter's context too (its
  workers are started once and fed through a queue), patched only if the program imports it;
* it is part of mcptrace, so it does not pin ``opentelemetry-instrumentation`` to its own
  release the way every contrib package does.

Work a tool defers past its own end without a thread: a function given to
``atexit.register`` (run as the server shuts down), a ``signal.signal`` handler (run in the
main thread when the signal lands: a ``setitimer`` alarm, a ``kill`` of itself) and a
``weakref.finalize`` callback (run when its object dies, or as the server exits) that the
tool's own code registers while a tool call is current run in that call's context too;
``atexit.unregister``, ``signal.getsignal``, the handler ``signal.signal`` returns and
``finalize.peek``/``detach`` see the function the program registered, never the wrapper.
Those registered outside a call or by library code (the SDK's, weakref's own exit hook,
the program's start-up) are left as they are.

Both may be installed together: each attaches the same context.  ``anyio.to_thread`` and
``asyncio.to_thread`` copy the whole contextvars context themselves already.

The sensor relies on this to put a thread's events on the tool call that started it, even
after the call returned (``record/state.py``, rule 1b); without it such events fall
back to inference.
"""

from __future__ import annotations

import _thread
import sys
import threading
from collections.abc import Callable, Collection
from concurrent import futures
from typing import Any

from opentelemetry import context as otel_context

from mcptrace import importwatch
from mcptrace.instrumentor import Instrumentor

_CONTEXT_ATTRIBUTE = "_mcptrace_otel_context"

Setter = Callable[[otel_context.Context], Callable[[], None]]


def _context_setter() -> Setter:
    """Make a context current in this thread; returns how to undo it.

    A ContextVar set/reset when OpenTelemetry uses its default runtime context (no detach
    warnings, no token objects to keep), ``attach``/``detach`` otherwise.
    """
    from mcptrace.record.state import context_variable

    variable = context_variable()
    if variable is not None:

        def set_variable(context: otel_context.Context) -> Callable[[], None]:
            token = variable.set(context)
            return lambda: variable.reset(token)

        return set_variable

    def attach(context: otel_context.Context) -> Callable[[], None]:
        token = otel_context.attach(context)
        return lambda: otel_context.detach(token)

    return attach


def in_context(
    function: Callable[..., Any], context: otel_context.Context, make_current: Setter
) -> Callable[..., Any]:
    """``function`` run with ``context`` current (restored after: pool workers are reused)."""

    def run_in_context(*args: Any, **kwargs: Any) -> Any:
        undo = make_current(context)
        try:
            return function(*args, **kwargs)
        finally:
            undo()

    return run_in_context


# start_new is the old alias (<= 3.12); start_joinable_thread is what threading uses (3.13)
_LOW_LEVEL_STARTERS = ("start_new_thread", "start_new", "start_joinable_thread")


def _low_level_starter(
    original: Callable[..., Any],
    get_current: Callable[[], otel_context.Context],
    make_current: Setter,
) -> Callable[..., Any]:
    def start_in_context(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return original(in_context(function, get_current(), make_current), *args, **kwargs)

    start_in_context.__wrapped__ = original  # type: ignore[attr-defined]
    start_in_context.__doc__ = original.__doc__
    return start_in_context


# multiprocessing.pool.ThreadPool: its workers are started once and fed through a queue, so
# the context each piece of work carries must come with the work (methods taking ``func``)
_POOL_METHODS = ("apply_async", "_map_async", "imap", "imap_unordered")


def _pool_method(
    original: Callable[..., Any],
    thread_pool: type,
    get_current: Callable[[], otel_context.Context],
    make_current: Setter,
) -> Callable[..., Any]:
    def method_in_context(self: Any, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if isinstance(self, thread_pool):  # a process pool's func must stay picklable
            func = in_context(func, get_current(), make_current)
        return original(self, func, *args, **kwargs)

    method_in_context.__wrapped__ = original  # type: ignore[attr-defined]
    method_in_context.__doc__ = original.__doc__
    return method_in_context


_DEFERRED = "_mcptrace_deferred"  # on a wrapper: the function the program registered


def _in_call(context: otel_context.Context) -> bool:
    from opentelemetry import trace

    return trace.get_current_span(context).get_span_context().is_valid


def _tools_own(frame: Any) -> bool:
    """The registering frame is the tool's code, not the standard library's (weakref's
    finalizers, asyncio's child watcher) nor the MCP machinery's."""
    from mcptrace.sensor.origin import classify, is_library

    if frame is None:
        return False
    kind, top = classify(frame.f_code.co_filename)
    return not is_library(kind, top, frame)


def _deferred(
    function: Any, get_current: Callable[[], otel_context.Context], make_current: Setter
) -> Any:
    """``function`` run in the current tool call's context if the tool's own code registers
    it in a call; else itself."""
    if not callable(function) or getattr(function, _DEFERRED, None) is not None:
        return function
    context = get_current()
    if not _in_call(context):
        return function
    try:
        registering = sys._getframe(2)
    except ValueError:  # registered from C with no Python caller: not the tool's own code
        return function
    if not _tools_own(registering):
        return function
    wrapper = in_context(function, context, make_current)
    setattr(wrapper, _DEFERRED, function)
    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper


def _registered(handler: Any) -> Any:
    """The function the program registered, for one of our wrappers."""
    original = getattr(handler, _DEFERRED, None) if callable(handler) else None
    return handler if original is None else original


class ThreadContextInstrumentor(Instrumentor):
    """Propagates the current OpenTelemetry context to threads and thread-pool work."""

    _originals: dict[str, Any]

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        make_current = _context_setter()
        get_current = otel_context.get_current
        thread_start = threading.Thread.start
        bootstrap_inner = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]
        submit = futures.ThreadPoolExecutor.submit
        self._originals = {
            "start": thread_start,
            "_bootstrap_inner": bootstrap_inner,
            "submit": submit,
        }

        def start(self: threading.Thread) -> None:
            setattr(self, _CONTEXT_ATTRIBUTE, get_current())
            thread_start(self)

        def _bootstrap_inner(self: threading.Thread) -> None:
            context = self.__dict__.pop(_CONTEXT_ATTRIBUTE, None)
            if context is not None:
                make_current(context)  # a new thread: nothing to restore at its end
            bootstrap_inner(self)

        def submit_in_context(
            self: futures.ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kw: Any
        ) -> futures.Future[Any]:
            return submit(self, in_context(fn, get_current(), make_current), *args, **kw)

        replacements: list[tuple[Any, Any]] = [
            (start, thread_start),
            (_bootstrap_inner, bootstrap_inner),
            (submit_in_context, submit),
        ]
        for function, original in replacements:
            function.__wrapped__ = original
            function.__doc__ = original.__doc__
        threading.Thread.start = start  # type: ignore[method-assign]
        threading.Thread._bootstrap_inner = _bootstrap_inner  # type: ignore[attr-defined]
        futures.ThreadPoolExecutor.submit = submit_in_context  # type: ignore[method-assign,assignment]
        # the low-level starters, called directly (threading keeps its own references)
        for name in _LOW_LEVEL_STARTERS:
            original = getattr(_thread, name, None)
            if original is not None:
                self._originals[name] = original
                setattr(_thread, name, _low_level_starter(original, get_current, make_current))
        self._patch_deferred(get_current, make_current)
        self._pool_patch = (get_current, make_current)
        self._pool_active = True
        # multiprocessing.pool is heavy: patched when the program imports it, if ever
        importwatch.after("multiprocessing.pool", self._patch_pool)

    def _patch_deferred(
        self, get_current: Callable[[], otel_context.Context], make_current: Setter
    ) -> None:
        import atexit
        import signal
        import weakref

        register, unregister = atexit.register, atexit.unregister
        set_handler, get_handler = signal.signal, signal.getsignal
        wrappers: dict[int, list[Any]] = {}  # id(function) -> its atexit wrappers

        def register_in_context(function: Any, /, *args: Any, **kwargs: Any) -> Any:
            wrapper = _deferred(function, get_current, make_current)
            if wrapper is not function:
                wrappers.setdefault(id(function), []).append(wrapper)
            register(wrapper, *args, **kwargs)
            return function

        def unregister_wrapped(function: Any, /) -> None:
            unregister(function)
            for wrapper in wrappers.pop(id(function), ()):
                unregister(wrapper)

        def signal_in_context(signalnum: Any, handler: Any, /) -> Any:
            return _registered(
                set_handler(signalnum, _deferred(handler, get_current, make_current))
            )

        def getsignal(signalnum: Any, /) -> Any:
            return _registered(get_handler(signalnum))

        finalize = weakref.finalize
        finalize_init, peek, detach = finalize.__init__, finalize.peek, finalize.detach

        def finalize_in_context(self: Any, obj: Any, func: Any, /, *args: Any, **kw: Any) -> None:
            finalize_init(self, obj, _deferred(func, get_current, make_current), *args, **kw)

        def unwrapped(method: Callable[[Any], Any]) -> Callable[[Any], Any]:
            def method_unwrapped(self: Any) -> Any:
                found = method(self)
                if found is None:
                    return None
                obj, func, args, kwargs = found
                return (obj, _registered(func), args, kwargs)

            return method_unwrapped

        patched = [
            (atexit, "register", register_in_context, register),
            (atexit, "unregister", unregister_wrapped, unregister),
            (signal, "signal", signal_in_context, set_handler),
            (signal, "getsignal", getsignal, get_handler),
            (finalize, "__init__", finalize_in_context, finalize_init),
            (finalize, "peek", unwrapped(peek), peek),
            (finalize, "detach", unwrapped(detach), detach),
        ]
        for module, name, function, original in patched:
            function.__wrapped__ = original  # type: ignore[attr-defined]
            function.__doc__ = original.__doc__
            setattr(module, name, function)
        self._deferred_originals = [
            (module, name, original) for module, name, _, original in patched
        ]

    def _patch_pool(self, module: Any) -> None:
        if not self.__dict__.get("_pool_active") or "_pool_originals" in self.__dict__:
            return
        get_current, make_current = self._pool_patch
        pool_class = module.Pool
        originals = {name: pool_class.__dict__[name] for name in _POOL_METHODS}
        for name, original in originals.items():
            patched = _pool_method(original, module.ThreadPool, get_current, make_current)
            setattr(pool_class, name, patched)
        self._pool_originals = {"pool": (pool_class, originals)}

    def _uninstrument(self, **kwargs: Any) -> None:
        originals = self._originals
        threading.Thread.start = originals["start"]  # type: ignore[method-assign]
        threading.Thread._bootstrap_inner = originals["_bootstrap_inner"]  # type: ignore[attr-defined]
        futures.ThreadPoolExecutor.submit = originals["submit"]  # type: ignore[method-assign]
        for name in _LOW_LEVEL_STARTERS:
            if name in originals:
                setattr(_thread, name, originals[name])
        self._pool_active = False
        for module, name, original in self.__dict__.pop("_deferred_originals", ()):
            setattr(module, name, original)
        pool_class, pool_originals = self.__dict__.pop("_pool_originals", {}).get(
            "pool", (None, {})
        )
        for name, original in pool_originals.items():
            setattr(pool_class, name, original)
