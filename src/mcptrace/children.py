"""Keep child processes instrumented and inside the trace.

Usage::

    ChildProcessInstrumentor().instrument()

* Every process spawned while a span is current gets ``TRACEPARENT``/``TRACESTATE`` of that
  span in its environment (``subprocess.Popen`` and ``os.posix_spawn[p]``), so an
  instrumented child continues the trace.
* mcp's ``stdio_client`` gives the server it spawns only HOME, PATH, USER, ...; the
  environment it builds is extended with ``PYTHONPATH``, ``OTEL_*`` and ``MCPTRACE_*`` so
  the server is instrumented too (mcp 1.x and 2.x).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Collection, Mapping
from typing import Any

import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.propagate import inject

_FORWARDED_PREFIXES = ("OTEL_", "MCPTRACE_")
_FORWARDED_NAMES = ("PYTHONPATH",)
_POPEN_ENV_INDEX = 10  # Popen(args, bufsize, executable, stdin, stdout, stderr, preexec_fn,
# close_fds, shell, cwd, env, ...)


def instrumentation_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables a child needs to run instrumented like this process."""
    source = os.environ if environ is None else environ
    return {
        key: value
        for key, value in source.items()
        if key in _FORWARDED_NAMES or key.startswith(_FORWARDED_PREFIXES)
    }


def trace_environment() -> dict[str, str]:
    """``TRACEPARENT``/``TRACESTATE`` of the current span, empty when there is none."""
    if not trace.get_current_span().get_span_context().is_valid:
        return {}
    carrier: dict[str, str] = {}
    inject(carrier)
    return {
        key.upper(): value for key, value in carrier.items() if key in ("traceparent", "tracestate")
    }


def _with_trace(env: Mapping[str, str] | None) -> dict[str, str] | None:
    extra = trace_environment()
    if not extra:
        return None
    merged = dict(os.environ if env is None else env)
    merged.update(extra)
    return merged


def _popen_init(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        if len(args) > _POPEN_ENV_INDEX:
            env = _with_trace(args[_POPEN_ENV_INDEX])
            if env is not None:
                args = (*args[:_POPEN_ENV_INDEX], env, *args[_POPEN_ENV_INDEX + 1 :])
        else:
            env = _with_trace(kwargs.get("env"))
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
            env = _with_trace(args[2])
            if env is not None:
                args = (args[0], args[1], env, *args[3:])
        elif "env" in kwargs:
            env = _with_trace(kwargs["env"])
            if env is not None:
                kwargs["env"] = env
    except Exception:
        pass
    return wrapped(*args, **kwargs)


def _default_environment(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    env = wrapped(*args, **kwargs)
    try:
        return {**env, **instrumentation_environment()}
    except Exception:
        return env


def _patch_mcp_stdio(module: Any) -> None:
    current = getattr(module, "get_default_environment", None)
    if current is not None and not isinstance(current, wrapt.FunctionWrapper):
        wrapt.wrap_function_wrapper(module, "get_default_environment", _default_environment)


def _on_mcp_stdio_import(module: Any) -> None:
    if ChildProcessInstrumentor._active:
        _patch_mcp_stdio(module)


class ChildProcessInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Trace context into every child; instrumentation settings into MCP stdio servers."""

    _mcp_hook_registered = False
    _active = False

    def instrumentation_dependencies(self) -> Collection[str]:
        return []

    def _instrument(self, **kwargs: Any) -> None:
        ChildProcessInstrumentor._active = True
        wrapt.wrap_function_wrapper(subprocess, "Popen.__init__", _popen_init)
        for name in ("posix_spawn", "posix_spawnp"):
            if hasattr(os, name):
                wrapt.wrap_function_wrapper(os, name, _posix_spawn)
        # Lazily: a program that never imports mcp's stdio client pays nothing for it.
        if not ChildProcessInstrumentor._mcp_hook_registered:
            ChildProcessInstrumentor._mcp_hook_registered = True
            wrapt.register_post_import_hook(_on_mcp_stdio_import, "mcp.client.stdio")
        elif "mcp.client.stdio" in sys.modules:
            _patch_mcp_stdio(sys.modules["mcp.client.stdio"])

    def _uninstrument(self, **kwargs: Any) -> None:
        ChildProcessInstrumentor._active = False
        unwrap(subprocess.Popen, "__init__")
        for name in ("posix_spawn", "posix_spawnp"):
            if hasattr(os, name):
                unwrap(os, name)
        stdio = sys.modules.get("mcp.client.stdio")
        if stdio is not None:
            unwrap(stdio, "get_default_environment")
