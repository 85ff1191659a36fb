"""OpenTelemetry instrumentor for the MCP Python SDK (1.x and 2.x) and fastmcp.

Usage::

    from mcptrace.mcp.instrumentor import McpInstrumentor
    McpInstrumentor().instrument()      # patches apply when mcp / fastmcp get imported
    McpInstrumentor().uninstrument()    # every wrapper removed, enrichers unregistered

Registered as the ``mcptrace_mcp`` entry point, so ``mcptrace run`` and
``opentelemetry-instrument`` load it.  On mcp 1.x mcptrace creates the spans (``v1``); on 2.x
it enriches the SDK's own (``v2``).  Nothing is imported or patched until the program imports
the module concerned; an unsupported mcp version is declined with one line on stderr.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Collection
from functools import partial
from importlib import metadata
from types import ModuleType
from typing import Any

from mcptrace import importwatch
from mcptrace.activation import report
from mcptrace.export.enrich import (
    register_enricher,
    register_finisher,
    register_sink,
    unregister_enricher,
    unregister_finisher,
    unregister_sink,
)
from mcptrace.instrumentor import Instrumentor, unwrap, wrap_function_wrapper, wrapped_by
from mcptrace.mcp.lazy import take_back
from mcptrace.record.span_redaction import redact_span

Patch = tuple[str, str, Callable[..., Any]]
_SUPPORTED = "mcp >= 1.20, < 3"


def mcp_major() -> int | None:
    """The installed mcp major version, without importing mcp; None if not installed."""
    try:
        version = metadata.version("mcp")
    except metadata.PackageNotFoundError:
        return None
    try:
        return int(version.split(".", 1)[0])
    except ValueError:
        return None


def _resolve_owner(module: ModuleType, dotted: str) -> tuple[Any, str]:
    owner: Any = module
    *path, attribute = dotted.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attribute


class McpInstrumentor(Instrumentor):
    """Spans, context propagation, metrics, sessions and inventory for MCP."""

    def __init__(self) -> None:
        if getattr(self, "_initialised", False):  # Instrumentor is a singleton
            return
        self._initialised = True
        self._active = False
        self._applied: list[tuple[Any, str]] = []
        self._enrichers: list[Any] = []
        self._metrics_sink: Any = None
        self._hooked: set[str] = set()

    def instrumentation_dependencies(self) -> Collection[str]:
        return (_SUPPORTED,)

    # -- patching ------------------------------------------------------------------------
    def _apply(self, module: ModuleType, patches: list[Patch]) -> None:
        if not self._active:
            return
        for _, dotted, wrapper in patches:
            try:
                owner, attribute = _resolve_owner(module, dotted)
                if wrapped_by(owner, attribute, wrapper):
                    continue  # already ours (instrumented twice)
                take_back(owner, attribute)  # the thin wrapper from before activation
                wrap_function_wrapper(owner, attribute, wrapper)
                self._applied.append((owner, attribute))
            except AttributeError:
                pass  # this SDK version has no such function: that hook is not needed
            except Exception as exc:
                report(f"mcptrace: could not instrument {module.__name__}.{dotted} ({exc!r})")

    def _hook(self, patches: list[Patch]) -> None:
        by_module: dict[str, list[Patch]] = {}
        for patch in patches:
            by_module.setdefault(patch[0], []).append(patch)
        for module_name, module_patches in by_module.items():
            self._hook_module(module_name, partial(self._apply, patches=module_patches))

    def _hook_module(self, module_name: str, callback: Callable[[ModuleType], None]) -> None:
        def guarded(module: ModuleType) -> None:
            try:
                callback(module)
            except Exception as exc:  # never break the import that triggered us
                report(f"mcptrace: instrumenting {module_name} failed ({exc!r})")

        if module_name in sys.modules:
            guarded(sys.modules[module_name])
        else:
            importwatch.after(module_name, guarded)

    # -- Instrumentor --------------------------------------------------------------------
    def _instrument(self, **kwargs: Any) -> None:
        major = mcp_major()
        if major not in (1, 2):
            report(f"mcptrace: mcp {major} is not supported ({_SUPPORTED}); MCP spans are off")
            return
        self._active = True
        from mcptrace.mcp.metrics import operation_metrics_sink
        from mcptrace.mcp.transports import CLIENT_TRANSPORT_PATCHES

        if self._metrics_sink is None:
            self._metrics_sink = operation_metrics_sink()
        register_sink(self._metrics_sink)
        self._enrichers = []
        patches: list[Patch] = list(CLIENT_TRANSPORT_PATCHES)
        if major == 1:
            from mcptrace.mcp.v1 import V1_PATCHES

            patches += V1_PATCHES
        else:
            from mcptrace.mcp.v2 import SDK_SPAN_ENRICHER, V2_PATCHES

            patches += V2_PATCHES
            self._enrichers.append(SDK_SPAN_ENRICHER)
        for enricher in self._enrichers:
            register_enricher(enricher)
        register_finisher(redact_span)  # the SDK's own spans carry peer error messages
        self._hook(patches)
        self._hook_module("fastmcp", self._instrument_fastmcp)

    def _instrument_fastmcp(self, module: ModuleType) -> None:
        if not self._active:
            return
        fastmcp = importlib.import_module("mcptrace.mcp.fastmcp")
        self._hook(list(fastmcp.FASTMCP_PATCHES))
        if mcp_major() == 2:
            fastmcp.install_dedupe()
            self._fastmcp_dedupe = True

    def _uninstrument(self, **kwargs: Any) -> None:
        self._active = False
        for owner, attribute in reversed(self._applied):
            try:
                unwrap(owner, attribute)
            except Exception:
                pass
        self._applied.clear()
        if mcp_major() == 2 and "mcptrace.mcp.v2" in sys.modules:
            sys.modules["mcptrace.mcp.v2"].remove_middleware()
        if getattr(self, "_fastmcp_dedupe", False):
            importlib.import_module("mcptrace.mcp.fastmcp").uninstall_dedupe()
            self._fastmcp_dedupe = False
        unregister_finisher(redact_span)
        for enricher in self._enrichers:
            unregister_enricher(enricher)
        self._enrichers.clear()
        if self._metrics_sink is not None:
            unregister_sink(self._metrics_sink)
