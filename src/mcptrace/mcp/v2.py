"""mcp 2.x: the SDK creates the request spans and injects the context; mcptrace enriches them
and fills the gaps, never creating a second span for a message.

Usage (applied by the instrumentor)::

    register_enricher(SDK_SPAN_ENRICHER)
    for module, name, wrapper in V2_PATCHES:
        wrapt.wrap_function_wrapper(module, name, wrapper)

What the SDK does and what is added here:

* sent requests (``JSONRPCDispatcher.send_raw_request``): SDK CLIENT span ``MCP send {method}
  {target}``.  Renamed to ``{method} {target}`` at start, session/transport/server attributes
  added, ``tool_error`` set when the response has ``isError`` (read from ``_resolve_pending``
  while the span is still open).
* sent notifications (``JSONRPCDispatcher.notify``): the SDK has no span and injects nothing,
  so a CLIENT span is created here and its context injected into ``_meta``.
* handled on the server (``ServerRunner._on_request/_on_notify``): the SDK middleware's SERVER
  span gets session id, transport, peer address, a link to the ambient (HTTP) span; the
  extracted context is attached so baggage reaches the handler.
* handled on the client (``ClientSession._on_request/_on_notify``: sampling, roots,
  elicitation, progress, log messages): no SDK span, so a SERVER span is created here.

Per-message state travels in context variables read by the span processor's ``on_start``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span
from opentelemetry.trace import Link, SpanContext, SpanKind

from mcptrace.export.enrich import Additions
from mcptrace.mcp.inventory import announce_server
from mcptrace.mcp.outcome import capture_arguments, record_exception, record_tool_result
from mcptrace.mcp.propagation import ambient_span, carries_baggage, extract_meta, inject_meta
from mcptrace.mcp.semconv import SCOPE_VERSION, message_attributes, span_name, transport_attributes
from mcptrace.mcp.sessions import SessionInfo, client_session, peer_attributes_from_request
from mcptrace.record.vocabulary import (
    FASTMCP_SCOPE,
    INITIALIZE,
    JSONRPC_REQUEST_ID,
    MCP_METHOD_NAME,
    MCP_PROTOCOL_VERSION,
    MCPTRACE_SCOPE,
    SDK_SCOPE,
    TOOLS_CALL,
    TRANSPORT_PIPE,
    TRANSPORT_TCP,
)

_tracer = trace.get_tracer(MCPTRACE_SCOPE, SCOPE_VERSION)
_SESSION_ATTRIBUTE = "_mcptrace_session"
_SDK_CLIENT_PREFIX = "MCP send "


@dataclass
class _Outbound:
    """A request being sent: what on_start needs to enrich the SDK's CLIENT span."""

    dispatcher_key: int
    method: str
    params: Mapping[str, Any] | None
    session: SessionInfo | None
    span: Span | None = None
    request_id: str | None = None


@dataclass
class _Inbound:
    """A message being handled by a server: what on_start needs for the SDK's SERVER span."""

    session: SessionInfo | None
    method: str
    params: Mapping[str, Any] | None
    peer: dict[str, Any] | None
    ambient: SpanContext | None


_OUTBOUND: contextvars.ContextVar[_Outbound | None] = contextvars.ContextVar(
    "mcptrace_outbound", default=None
)
_INBOUND: contextvars.ContextVar[_Inbound | None] = contextvars.ContextVar(
    "mcptrace_inbound", default=None
)
# id(dispatcher) -> client session using it
_client_sessions: dict[int, SessionInfo] = {}
# (id(dispatcher), request id) -> outbound request whose SDK span is open
_open_requests: dict[tuple[int, str], _Outbound] = {}


def _session_for_dispatcher(dispatcher: Any) -> SessionInfo | None:
    info = _client_sessions.get(id(dispatcher))
    if info is not None:
        return info
    inbound = _INBOUND.get()  # a server sending from inside a handler
    return inbound.session if inbound is not None else None


# ---------------------------------------------------------------- the span enricher
class SdkSpanEnricher:
    """Enriches mcp 2.x's (and fastmcp's) MCP spans at start, while they are mutable."""

    def on_start(self, span: Span, parent_context: Context | None) -> None:
        scope = span.instrumentation_scope
        if scope is None or scope.name not in (SDK_SCOPE, FASTMCP_SCOPE):
            return
        if span.kind is SpanKind.CLIENT:
            outbound = _OUTBOUND.get()
            if outbound is None or outbound.span is not None:
                return
            if span.name.startswith(_SDK_CLIENT_PREFIX):
                span.update_name(span.name[len(_SDK_CLIENT_PREFIX) :])
            attributes = message_attributes(outbound.method, None, outbound.params)
            if outbound.session is not None:
                attributes.update(outbound.session.span_attributes())
            span.set_attributes(attributes)
            outbound.span = span
            request_id = (span.attributes or {}).get(JSONRPC_REQUEST_ID)
            if request_id is not None:
                outbound.request_id = str(request_id)
                _open_requests[(outbound.dispatcher_key, outbound.request_id)] = outbound
            if outbound.method == TOOLS_CALL and outbound.params:
                capture_arguments(span, outbound.params.get("arguments"))
        elif span.kind is SpanKind.SERVER:
            inbound = _INBOUND.get()
            if inbound is None:
                return
            attributes = message_attributes(inbound.method, None, inbound.params)
            if inbound.session is not None:
                attributes.update(inbound.session.span_attributes())
            if inbound.peer:
                attributes.update(inbound.peer)
            span.set_attributes(attributes)
            if inbound.ambient is not None:
                parent = span.parent
                if parent is None or parent.span_id != inbound.ambient.span_id:
                    span.add_link(inbound.ambient)
            if inbound.method == TOOLS_CALL and inbound.params:
                capture_arguments(span, inbound.params.get("arguments"))

    def on_end(self, span: ReadableSpan) -> Additions | None:
        return None


SDK_SPAN_ENRICHER = SdkSpanEnricher()


def adopt_client_span(span: Any, request_id: Any) -> None:
    """An existing CLIENT span (fastmcp's) stands for the request being sent: enrich it as
    the SDK's would be, and watch its response."""
    outbound = _OUTBOUND.get()
    if outbound is None or outbound.span is not None:
        return
    attributes = message_attributes(outbound.method, None, outbound.params)
    if outbound.session is not None:
        attributes.update(outbound.session.span_attributes())
    span.set_attributes(attributes)
    outbound.span = span
    if request_id is not None:
        outbound.request_id = str(request_id)
        _open_requests[(outbound.dispatcher_key, outbound.request_id)] = outbound


# ---------------------------------------------------------------- sending side
async def wrap_send_raw_request(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        method = args[0] if args else kwargs["method"]
        params = args[1] if len(args) > 1 else kwargs.get("params")
        outbound = _Outbound(id(instance), method, params, _session_for_dispatcher(instance))
        token = _OUTBOUND.set(outbound)
    except Exception:
        return await wrapped(*args, **kwargs)
    try:
        result = await wrapped(*args, **kwargs)
    finally:
        _OUTBOUND.reset(token)
        if outbound.request_id is not None:
            _open_requests.pop((outbound.dispatcher_key, outbound.request_id), None)
        if outbound.session is not None and not outbound.session.announced:
            # announced once the first request (initialize, or server/discover on
            # 2026-07-28) is answered: HTTP session ids are assigned by then
            outbound.session.announce()
    return result


def wrap_resolve_pending(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``_resolve_pending(id, outcome)``: the response arrives while the CLIENT span is open."""
    if _open_requests:
        try:
            outbound = _open_requests.get((id(instance), str(args[0])))
            if outbound is not None and outbound.span is not None:
                outcome = args[1]
                if not isinstance(outcome, dict):
                    pass
                elif outbound.method == TOOLS_CALL:
                    record_tool_result(outbound.span, outcome)
                elif outbound.method == INITIALIZE:
                    version = outcome.get("protocolVersion")
                    if isinstance(version, str):
                        outbound.span.set_attribute(MCP_PROTOCOL_VERSION, version)
                        if outbound.session is not None:
                            outbound.session.set_protocol_version(version)
        except Exception:
            pass
    return wrapped(*args, **kwargs)


async def wrap_notify(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        method: str = args[0] if args else kwargs["method"]
        params = args[1] if len(args) > 1 else kwargs.get("params")
        attributes = message_attributes(method, None, params)
        info = _session_for_dispatcher(instance)
        if info is not None:
            attributes.update(info.span_attributes())
    except Exception:
        return await wrapped(*args, **kwargs)
    with _tracer.start_as_current_span(method, kind=SpanKind.CLIENT, attributes=attributes):
        try:
            out = dict(params) if params else {}
            meta = dict(out.get("_meta") or {})
            inject_meta(meta)
            out["_meta"] = meta
            if len(args) > 1:
                args = (args[0], out, *args[2:])
            else:
                kwargs["params"] = out
        except Exception:
            pass
        return await wrapped(*args, **kwargs)


# ---------------------------------------------------------------- server side
def wrap_connection_for_loop(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    connection = wrapped(*args, **kwargs)
    try:
        setattr(
            connection,
            _SESSION_ATTRIBUTE,
            SessionInfo(client_side=False, session_id=getattr(connection, "session_id", None)),
        )
    except Exception:
        pass
    return connection


async def wrap_aclose_shielded(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        return await wrapped(*args, **kwargs)
    finally:
        connection = args[0] if args else kwargs.get("connection")
        info: SessionInfo | None = getattr(connection, _SESSION_ATTRIBUTE, None)
        if info is not None and info.announced:
            info.end()


def _inbound(runner: Any, dctx: Any, method: str, params: Any) -> _Inbound:
    connection = runner.connection
    info: SessionInfo | None = getattr(connection, _SESSION_ATTRIBUTE, None)
    request = getattr(getattr(dctx, "message_metadata", None), "request_context", None)
    peer = peer_attributes_from_request(request) if request is not None else None
    if info is not None:
        if not info.announced:
            info.transport = TRANSPORT_TCP if request is not None else TRANSPORT_PIPE
            info.set_session_id(getattr(connection, "session_id", None))
            info.set_protocol_version(getattr(connection, "protocol_version", None))
            info.announce()
        elif info.protocol_version != getattr(connection, "protocol_version", None):
            info.set_protocol_version(getattr(connection, "protocol_version", None))
    if info is None:  # no loop session (2026-07-28 per-request connections): transport only
        peer = {
            **(peer or {}),
            **transport_attributes(TRANSPORT_TCP if request else TRANSPORT_PIPE),
        }
    return _Inbound(info, method, params, peer, ambient_span())


async def _handle_server_message(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        dctx, method, params = args[0], args[1], args[2]
        inbound = _inbound(instance, dctx, method, params)
        # The SDK parents its span to the context in _meta itself; it does not attach the
        # baggage, so the extracted context is attached when there is baggage to carry.
        meta = params.get("_meta") if params else None
        parent = extract_meta(meta) if carries_baggage(meta) else None
        token = _INBOUND.set(inbound)
        attached = otel_context.attach(parent) if parent is not None else None
    except Exception:
        return await wrapped(*args, **kwargs)
    try:
        return await wrapped(*args, **kwargs)
    finally:
        if attached is not None:
            otel_context.detach(attached)
        _INBOUND.reset(token)
        if method == INITIALIZE and inbound.session is not None:
            inbound.session.set_protocol_version(
                getattr(instance.connection, "protocol_version", None)
            )


async def wrap_runner_on_request(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    return await _handle_server_message(wrapped, instance, args, kwargs)


async def wrap_runner_on_notify(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    return await _handle_server_message(wrapped, instance, args, kwargs)


def wrap_runner_serialize(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``_serialize(method, version, result)`` runs inside the SERVER span: tool outcome."""
    result = wrapped(*args, **kwargs)
    try:
        if args and args[0] == TOOLS_CALL:
            span = trace.get_current_span()
            if span.is_recording():
                record_tool_result(span, result)
    except Exception:
        pass
    return result


# ---------------------------------------------------------------- client side
def wrap_client_session_init(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    result = wrapped(*args, **kwargs)
    try:
        info = client_session(args[0] if args else kwargs.get("read_stream"))
        setattr(instance, _SESSION_ATTRIBUTE, info)
        _client_sessions[id(instance._dispatcher)] = info
    except Exception:
        pass
    return result


async def wrap_client_session_aexit(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        return await wrapped(*args, **kwargs)
    finally:
        info: SessionInfo | None = getattr(instance, _SESSION_ATTRIBUTE, None)
        if info is not None:
            error = args[1] if len(args) > 1 and isinstance(args[1], Exception) else None
            info.end(error)
            _client_sessions.pop(id(getattr(instance, "_dispatcher", None)), None)


async def _client_handles(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """A SERVER span for a message the client handles (the SDK makes none there)."""
    try:
        dctx, method, params = args[0], args[1], args[2]
        attributes = message_attributes(method, getattr(dctx, "request_id", None), params)
        info: SessionInfo | None = getattr(instance, _SESSION_ATTRIBUTE, None)
        if info is not None:
            attributes.update(info.span_attributes())
        parent = extract_meta((params or {}).get("_meta")) if params else None
        ambient = ambient_span()
        links = [Link(ambient)] if parent is not None and ambient is not None else None
        attached = otel_context.attach(parent) if parent is not None else None
    except Exception:
        return await wrapped(*args, **kwargs)
    try:
        with _tracer.start_as_current_span(
            span_name(method, params),
            kind=SpanKind.SERVER,
            attributes=attributes,
            links=links,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                return await wrapped(*args, **kwargs)
            except Exception as error:
                record_exception(span, error)
                raise
    finally:
        if attached is not None:
            otel_context.detach(attached)


async def wrap_client_on_request(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    return await _client_handles(wrapped, instance, args, kwargs)


async def wrap_client_on_notify(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    return await _client_handles(wrapped, instance, args, kwargs)


async def wrap_server_run(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    announce_server(instance)
    return await wrapped(*args, **kwargs)


def is_sdk_request_span(span: ReadableSpan) -> bool:
    scope = span.instrumentation_scope
    return (
        scope is not None and scope.name == SDK_SCOPE and MCP_METHOD_NAME in (span.attributes or {})
    )


V2_PATCHES: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    ("mcp.shared.jsonrpc_dispatcher", "JSONRPCDispatcher.send_raw_request", wrap_send_raw_request),
    ("mcp.shared.jsonrpc_dispatcher", "JSONRPCDispatcher._resolve_pending", wrap_resolve_pending),
    ("mcp.shared.jsonrpc_dispatcher", "JSONRPCDispatcher.notify", wrap_notify),
    ("mcp.server.connection", "Connection.for_loop", wrap_connection_for_loop),
    ("mcp.server.runner", "aclose_shielded", wrap_aclose_shielded),
    ("mcp.server.runner", "ServerRunner._on_request", wrap_runner_on_request),
    ("mcp.server.runner", "ServerRunner._on_notify", wrap_runner_on_notify),
    ("mcp.server.runner", "ServerRunner._serialize", wrap_runner_serialize),
    ("mcp.client.session", "ClientSession.__init__", wrap_client_session_init),
    ("mcp.client.session", "ClientSession.__aexit__", wrap_client_session_aexit),
    ("mcp.client.session", "ClientSession._on_request", wrap_client_on_request),
    ("mcp.client.session", "ClientSession._on_notify", wrap_client_on_notify),
    ("mcp.server.mcpserver.server", "MCPServer.run_stdio_async", wrap_server_run),
    ("mcp.server.mcpserver.server", "MCPServer.run_streamable_http_async", wrap_server_run),
    ("mcp.server.mcpserver.server", "MCPServer.run_sse_async", wrap_server_run),
)
