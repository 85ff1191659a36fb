"""fastmcp (the standalone package, 4.x on mcp 2.x): one CLIENT span per request, enriched.

Usage (applied by the instrumentor when ``fastmcp`` is imported)::

    for module, name, wrapper in FASTMCP_PATCHES:
        wrap_function_wrapper(module, name, wrapper)  # mcptrace.instrumentor

fastmcp 4's ``Client`` opens its own CLIENT span (``tools/call add``) and the SDK's dispatcher
then opens a nested CLIENT span for the same request: two CLIENT spans per call.  mcptrace
keeps fastmcp's (outer, already semconv-named, with ``mcp.resource.uri``) and stops the SDK
from opening the nested one while it is current: the SDK's span helper is given the fastmcp
span back, so the SDK injects *its* context into ``_meta`` (the server's span becomes its
child) and writes the request id and JSON-RPC errors onto it.  A request fastmcp sends on
its own (e.g. the ``tools/list`` it issues to validate a call) keeps the SDK's span.
Server side, fastmcp removes the SDK middleware and opens one SERVER span per request
itself; mcptrace enriches it like the SDK's (see ``v2``).

Inventory: when a server starts (``run_async``) mcptrace logs ``server.start`` and one
``component.registered`` record per tool, resource, template and prompt registered on it
(its ``LocalProvider``); a component added to a started server (``add_tool`` and the
decorators all go through ``LocalProvider._add_component``) is logged when it is added.  Each
tool's description is remembered for the detections, as the SDK servers' are (tool poisoning
is flagged on the calls of a tool whose description hides instructions).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from weakref import WeakKeyDictionary

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from mcptrace.mcp import patch_tables, v2
from mcptrace.mcp.inventory import (
    announce_components,
    announce_server_start,
    fastmcp_component_attributes,
    fastmcp_server_components,
    server_identity,
)
from mcptrace.record.offers import remember_tool
from mcptrace.record.vocabulary import FASTMCP_SCOPE, JSONRPC_REQUEST_ID, MCP_METHOD_NAME

_announced: set[int] = set()
# LocalProvider of a started server -> that server's name (later additions are logged)
_started_providers: WeakKeyDictionary[Any, str | None] = WeakKeyDictionary()
_SDK_SPAN_HELPER = "otel_span"  # the dispatcher's module-level span helper


def _fastmcp_client_span(method: str) -> Span | None:
    span = trace.get_current_span()
    if not span.is_recording():
        return None
    scope = getattr(span, "instrumentation_scope", None)
    if getattr(scope, "name", None) != FASTMCP_SCOPE or getattr(span, "kind", None) is not (
        SpanKind.CLIENT
    ):
        return None
    attributes = getattr(span, "attributes", None) or {}
    return span if attributes.get(MCP_METHOD_NAME) == method else None


def make_otel_span_shim(sdk_otel_span: Callable[..., Any]) -> Callable[..., Any]:
    """The SDK dispatcher's ``otel_span``, reusing a current fastmcp CLIENT span."""

    @contextmanager
    def otel_span(name: str, **options: Any) -> Iterator[Any]:
        attributes = options.get("attributes") or {}
        reuse = None
        if options.get("kind") is SpanKind.CLIENT:
            reuse = _fastmcp_client_span(str(attributes.get(MCP_METHOD_NAME)))
        if reuse is None:
            with sdk_otel_span(name, **options) as span:
                yield span
            return
        try:
            request_id = attributes.get(JSONRPC_REQUEST_ID)
            if request_id is not None:
                reuse.set_attribute(JSONRPC_REQUEST_ID, request_id)
            v2.adopt_client_span(reuse, request_id)
        except Exception:
            pass
        yield reuse

    otel_span._mcptrace_original = sdk_otel_span  # type: ignore[attr-defined]
    return otel_span


_original_otel_span: Callable[..., Any] | None = None


def install_dedupe() -> None:
    global _original_otel_span
    import mcp.shared.jsonrpc_dispatcher as dispatcher

    current = getattr(dispatcher, _SDK_SPAN_HELPER)
    if getattr(current, "_mcptrace_original", None) is not None:
        return
    _original_otel_span = current
    setattr(dispatcher, _SDK_SPAN_HELPER, make_otel_span_shim(current))


def uninstall_dedupe() -> None:
    global _original_otel_span
    if _original_otel_span is None:
        return
    import mcp.shared.jsonrpc_dispatcher as dispatcher

    setattr(dispatcher, _SDK_SPAN_HELPER, _original_otel_span)
    _original_otel_span = None


def _announce_fastmcp_server(server: Any) -> None:
    if id(server) in _announced:
        return
    _announced.add(id(server))
    name, version, instructions = server_identity(server)
    components = fastmcp_server_components(server, name)
    announce_server_start(name, version, instructions, len(components))
    announce_components(components)
    provider = getattr(server, "_local_provider", None)
    if provider is not None:
        _started_providers[provider] = name
        stored = getattr(provider, "_components", None)
        for component in list(stored.values()) if isinstance(stored, dict) else []:
            _remember_if_tool(component)


def _remember_if_tool(component: Any) -> None:
    """A tool's own description, whole, for the detections (tool poisoning) on its calls."""
    key = getattr(component, "key", None)
    if isinstance(key, str) and key.startswith("tool:"):
        name, description = (
            str(getattr(component, "name", "")),
            getattr(component, "description", None),
        )
        remember_tool(name, description, getattr(component, "parameters", None))


async def wrap_fastmcp_run_async(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        _announce_fastmcp_server(instance)
    except Exception:
        pass
    return await wrapped(*args, **kwargs)


def wrap_local_provider_add_component(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    added = wrapped(*args, **kwargs)
    try:
        if instance in _started_providers:
            component = args[0] if args else kwargs.get("component")
            if added is component:  # not an existing one kept (on_duplicate="ignore")
                _remember_if_tool(added)
                attributes = fastmcp_component_attributes(added, _started_providers[instance])
                if attributes is not None:
                    announce_components([attributes])
    except Exception:
        pass
    return added


FASTMCP_PATCHES = patch_tables.bind(patch_tables.FASTMCP, globals())
