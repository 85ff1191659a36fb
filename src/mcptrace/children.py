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
  like its parent.  Values the caller set explicitly win.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Collection, Mapping
from typing import Any

import wrapt
from opentelemetry import trace
from opentelemetry.propagate import inject

from mcptrace.instrumentor import Instrumentor, unwrap

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


def trace_environment() -> dict[str, str]:
    """``TRACEPARENT``/``TRACESTATE`` of the current span, empty when there is none."""
    if not trace.get_current_span().get_span_context().is_valid:
        return {}
    carrier: dict[str, str] = {}
    inject(carrier)
    return {
        key.upper(): value for key, value in carrier.items() if key in ("traceparent", "tracestate")
    }


def child_environment(env: Mapping[str, str] | None) -> dict[str, str] | None:
    """The environment to give a child instead of ``env``; None to leave it unchanged."""
    extra = trace_environment()
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


def _popen_init(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
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
    return wrapped(*args, **kwargs)


def _posix_spawn(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
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


class ChildProcessInstrumentor(Instrumentor):
    """Trace context and instrumentation settings into every child process."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return []

    def _instrument(self, **kwargs: Any) -> None:
        wrapt.wrap_function_wrapper(subprocess, "Popen.__init__", _popen_init)
        for name in ("posix_spawn", "posix_spawnp"):
            if hasattr(os, name):
                wrapt.wrap_function_wrapper(os, name, _posix_spawn)

    def _uninstrument(self, **kwargs: Any) -> None:
        unwrap(subprocess.Popen, "__init__")
        for name in ("posix_spawn", "posix_spawnp"):
            if hasattr(os, name):
                unwrap(os, name)
