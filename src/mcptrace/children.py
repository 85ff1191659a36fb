"""Keep child processes instrumented and inside the trace.

Usage::

    ChildProcessInstrumentor().instrument()

For every process spawned through ``subprocess.Popen`` (which asyncio, anyio and mcp's
``stdio_client`` use) or ``os.posix_spawn[p]``:

* while a span is current, the child gets ``TRACEPARENT``/``TRACESTATE`` of that span, so an
  instrumented child continues the trace;
* when the caller passes an explicit environment (mcp's ``stdio_client`` passes only HOME,
  PATH, USER, ...), the instrumentation settings (``OTEL_*``, ``MCPTRACE_*`` and the
  start-up hook's ``PYTHONPATH`` entry) are added to it, so a Python child is instrumented
  like its parent.  Values the caller set explicitly win;
* except under an enforcing policy: then the parent's settings as they were when the policy
  was locked in win over anything the caller (or tool code editing ``os.environ``) set, a
  ``MCPTRACE_*`` or opt-out variable the parent did not have is dropped, and the child is
  told which tool started it (``MCPTRACE_POLICY_TOOL``), so the same policy holds in it
  (``policy/active.py``, ``ActivePolicy.child_environment``).

The patches are plain function wrappers (no wrapt, no OpenTelemetry): they go in at
interpreter start.  Before OpenTelemetry is loaded the only span a child can belong to is
this process's own (or its parent's, when the sensor is off), read from the environment.
"""

from __future__ import annotations

import _thread
import os
import sys

from mcptrace import activation, importwatch
from mcptrace.instrumentor import Instrumentor
from mcptrace.record.vocabulary import GEN_AI_TOOL_NAME, PARENT_TOOL_VARIABLE

TYPE_CHECKING = False  # not typing's: this module is imported at every interpreter start
if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping
    from types import ModuleType
    from typing import Any

_FORWARDED_PREFIXES = ("OTEL_", "MCPTRACE_")
# PYTHONPATH entries whose sitecustomize starts instrumentation (ours, opentelemetry-instrument's)
_BOOTSTRAP_SUFFIXES = (
    os.path.join("mcptrace", "_bootstrap"),
    os.path.join("opentelemetry", "instrumentation", "auto_instrumentation"),
)
_POPEN_ENV_INDEX = 10  # Popen(args, bufsize, executable, stdin, stdout, stderr, preexec_fn,
# close_fds, shell, cwd, env, ...)


def instrumentation_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables a child needs to run instrumented like this process."""
    source = os.environ if environ is None else environ
    forwarded = {key: value for key, value in source.items() if key.startswith(_FORWARDED_PREFIXES)}
    bootstrap = [
        entry
        for entry in source.get("PYTHONPATH", "").split(os.pathsep)
        if entry.rstrip(os.sep).endswith(_BOOTSTRAP_SUFFIXES)
    ]
    if bootstrap:
        forwarded["PYTHONPATH"] = os.pathsep.join(bootstrap)
    return forwarded


def _early_trace_environment() -> dict[str, str]:
    """Before OpenTelemetry is set up: this process's span (a child of an instrumented
    parent), else the parent's context passed on unchanged."""
    from mcptrace.sensor.instrumentor import current_lifecycle

    lifecycle = current_lifecycle()
    early = lifecycle.early if lifecycle is not None else None
    if early is not None:
        extra = {"TRACEPARENT": early.traceparent()}
        if early.trace_state:
            extra["TRACESTATE"] = early.trace_state
        return extra
    return {key: os.environ[key] for key in ("TRACEPARENT", "TRACESTATE") if key in os.environ}


def trace_environment() -> dict[str, str]:
    """``TRACEPARENT``/``TRACESTATE`` of the current span, empty when there is none; in a
    tool call, ``MCPTRACE_PARENT_TOOL`` names the tool (the child's detections carry it)."""
    if not activation.is_active():
        return _early_trace_environment()
    from opentelemetry import trace
    from opentelemetry.propagate import inject

    span = trace.get_current_span()
    if not span.get_span_context().is_valid:
        return {}
    carrier: dict[str, str] = {}
    inject(carrier)
    extra = {
        key.upper(): value for key, value in carrier.items() if key in ("traceparent", "tracestate")
    }
    tool = _calling_tool(span)
    if tool:
        extra[PARENT_TOOL_VARIABLE] = tool
    return extra


def _calling_tool(span: Any) -> str | None:
    """The tool of the MCP call ``span`` belongs to, from the sensor's span registry."""
    hook = sys.modules.get("mcptrace.sensor.hook")
    sensor = getattr(hook, "_installed", None)
    registry = getattr(sensor, "registry", None)
    state = registry.by_span.get(span) if registry is not None else None
    root = getattr(getattr(state, "root", None), "key", None)
    name = (getattr(root, "attributes", None) or {}).get(GEN_AI_TOOL_NAME)
    return name if isinstance(name, str) else None


# the instrumentation settings as they were when this process started, before any tool ran
_AT_START: dict[str, str] | None = None


def _enforcing_policy_environment(env: Mapping[str, str]) -> dict[str, str] | None:
    """``env`` re-armed by the policy in force, if it enforces (None without one)."""
    active = sys.modules.get("mcptrace.policy.active")
    policy = active.active_policy() if active is not None else None
    if policy is None:
        return None
    ours = _AT_START if _AT_START is not None else instrumentation_environment()
    armed: dict[str, str] | None = policy.child_environment(env, ours)
    return armed


def child_environment(env: Mapping[str, str] | None) -> dict[str, str] | None:
    """The environment to give a child instead of ``env``; None to leave it unchanged."""
    extra = trace_environment()
    armed = _enforcing_policy_environment(os.environ if env is None else env)
    if armed is not None:
        armed.update(extra)
        return armed
    if env is None:
        return {**os.environ, **extra} if extra else None
    merged = dict(env)
    for key, value in instrumentation_environment().items():
        if key == "PYTHONPATH":
            theirs = [p for p in merged.get(key, "").split(os.pathsep) if p]
            ours = [p for p in value.split(os.pathsep) if p not in theirs]
            merged[key] = os.pathsep.join(ours + theirs)
        else:
            merged.setdefault(key, value)
    merged.update(extra)
    return merged


def _wraps(wrapper: Callable[..., Any], wrapped: Callable[..., Any]) -> Callable[..., Any]:
    """functools.wraps without importing functools at start-up."""
    for name in ("__module__", "__name__", "__qualname__", "__doc__"):
        try:
            setattr(wrapper, name, getattr(wrapped, name))
        except AttributeError:
            pass
    wrapper.__wrapped__ = wrapped  # type: ignore[attr-defined]
    wrapper.__mcptrace_wrapper__ = True  # type: ignore[attr-defined]
    return wrapper


def _popen_init(wrapped: Callable[..., Any]) -> Callable[..., Any]:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            if len(args) > _POPEN_ENV_INDEX:
                env = child_environment(args[_POPEN_ENV_INDEX])
                if env is not None:
                    args = (*args[:_POPEN_ENV_INDEX], env, *args[_POPEN_ENV_INDEX + 1 :])
            else:
                env = child_environment(kwargs.get("env"))
                if env is not None:
                    kwargs["env"] = env
        except Exception:  # never stop the program from spawning
            pass
        wrapped(self, *args, **kwargs)

    return _wraps(__init__, wrapped)


def _posix_spawn(wrapped: Callable[..., Any]) -> Callable[..., Any]:
    def spawn(*args: Any, **kwargs: Any) -> Any:
        try:
            if len(args) >= 3:
                env = child_environment(args[2])
                if env is not None:
                    args = (args[0], args[1], env, *args[3:])
            elif "env" in kwargs:
                env = child_environment(kwargs["env"])
                if env is not None:
                    kwargs["env"] = env
        except Exception:
            pass
        return wrapped(*args, **kwargs)

    return _wraps(spawn, wrapped)


_ENVIRON_SWAP = _thread.allocate_lock()


def _new_swap_lock_in_child() -> None:
    global _ENVIRON_SWAP
    _ENVIRON_SWAP = _thread.allocate_lock()  # a thread spawning at the fork may have held it


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_swap_lock_in_child)


def _set_environ(target: Mapping[str, str]) -> None:
    for key in [key for key in os.environ if key not in target]:
        del os.environ[key]
    for key, value in target.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _spawnv_passfds(wrapped: Callable[..., Any]) -> Callable[..., Any]:
    """multiprocessing's spawn and forkserver start their Python children through
    ``_posixsubprocess.fork_exec`` with no environment of their own: the child inherits
    ``os.environ`` as tool code left it, and nobody tells it which tool started it.  Under an
    enforcing policy the process environment is the armed one (``child_environment``) for the
    instant of the start, so the child judges its actions as that tool's; in a span, it also
    carries ``TRACEPARENT`` (and the tool's name), so a pool worker's actions are judged and
    reported as the call's that started it."""

    def spawnv_passfds(path: Any, args: Any, passfds: Any) -> Any:
        try:
            armed = _enforcing_policy_environment(os.environ)
            extra = trace_environment()
            if armed is not None:
                armed.update(extra)
            elif extra:
                armed = {**os.environ, **extra}
        except Exception:  # never stop the program from spawning
            armed = None
        if armed is None:
            return wrapped(path, args, passfds)
        from mcptrace._guard import sensor_paused

        with _ENVIRON_SWAP:
            saved = dict(os.environ)
            try:
                with sensor_paused():  # mcptrace's own putenv calls, not the tool's
                    _set_environ(armed)
                return wrapped(path, args, passfds)
            finally:
                with sensor_paused():
                    _set_environ(saved)

    return _wraps(spawnv_passfds, wrapped)


def _patch_multiprocessing(util: ModuleType) -> None:
    _patch(util, "spawnv_passfds", _spawnv_passfds)


def _patch(owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    current = getattr(owner, name)
    if getattr(current, "__mcptrace_wrapper__", False):
        return  # already ours
    setattr(owner, name, make(current))


def _patch_popen(subprocess: ModuleType) -> None:
    _patch(subprocess.Popen, "__init__", _popen_init)


def _restore(owner: Any, name: str) -> None:
    current = getattr(owner, name, None)
    if getattr(current, "__mcptrace_wrapper__", False):
        setattr(owner, name, current.__wrapped__)  # type: ignore[union-attr]


class ChildProcessInstrumentor(Instrumentor):
    """Trace context and instrumentation settings into every child process."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return []

    def _instrument(self, **kwargs: Any) -> None:
        global _AT_START
        if _AT_START is None:
            _AT_START = instrumentation_environment()
        importwatch.after("subprocess", _patch_popen)  # when (if) the program imports it
        importwatch.after("multiprocessing.util", _patch_multiprocessing)
        for name in ("posix_spawn", "posix_spawnp"):
            if hasattr(os, name):
                _patch(os, name, _posix_spawn)

    def _uninstrument(self, **kwargs: Any) -> None:
        import sys

        importwatch.forget("subprocess")
        importwatch.forget("multiprocessing.util")
        util = sys.modules.get("multiprocessing.util")
        if util is not None:
            _restore(util, "spawnv_passfds")
        subprocess = sys.modules.get("subprocess")
        if subprocess is not None:
            _restore(subprocess.Popen, "__init__")
        for name in ("posix_spawn", "posix_spawnp"):
            if hasattr(os, name):
                _restore(os, name)
