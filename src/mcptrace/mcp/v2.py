"""mcp 2.x: one span per message, never two; the SDK's public middleware list on the server.

Usage (applied by the instrumentor)::

    register_enricher(SDK_SPAN_ENRICHER)
    for module, name, wrapper in V2_PATCHES:
        wrap_function_wrapper(module, name, wrapper)  # mcptrace.instrumentor

Server side, handled messages: every ``Server`` gets ``TracingMiddleware`` in its public
``middleware`` list, in the place of the SDK's ``OpenTelemetryMiddleware``; it opens the
complete semconv SERVER span itself (session, transport, peer, the ambient span linked, the
sender's baggage attached for the handler, outcome).  On fastmcp servers, which open their
own request span, it hands the attributes to the span enricher instead.

Client side, the SDK opens the CLIENT span of a request and injects its context; mcptrace
enriches it:

* sent requests (``JSONRPCDispatcher.send_raw_request``): SDK CLIENT span ``MCP send {method}
  {target}`` renamed to ``{method} {target}`` at start, session/transport/server attributes
  added, ``tool_error`` set when the response has ``isError`` (read from ``_resolve_pending``
  while the span is still open).
* sent notifications (``JSONRPCDispatcher.notify``): the SDK has no span and injects nothing,
  so a CLIENT span is created here and its context injected into ``_meta``.
* handled on the client (``ClientSession._on_request/_on_notify``: sampling, roots,
  elicitation, progress, log messages): no SDK span, so a SERVER span is created here.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span
from opentelemetry.trace import SpanContext, SpanKind

from mcptrace.activation import report
from mcptrace.export.enrich import Additions
from mcptrace.mcp import patch_tables
from mcptrace.mcp.callers import client_info_attributes, server_info_attributes
from mcptrace.mcp.hooks import after, finally_async, with_argument
from mcptrace.mcp.inventory import wrap_server_run  # noqa: F401  (bound by name: patch_tables)
from mcptrace.mcp.outcome import (
    capture_arguments,
    record_exception,
    record_rpc_error,
    record_tool_result,
)
from mcptrace.mcp.pinning import client_answer
from mcptrace.mcp.propagation import ambient_span, carries_baggage, extract_meta, inject_meta
from mcptrace.mcp.semconv import (
    CLIENT_INFO_META_KEY,
    INVALID_PARAMS,
    SERVER_INFO_META_KEY,
    envelope_version,
    is_stateless_version,
    message_attributes,
    span_name,
    transport_attributes,
)
from mcptrace.mcp.sessions import (
    SessionInfo,
    attach_client_session,
    end_session,
    peer_attributes_from_request,
    with_session,
)
from mcptrace.mcp.span_attributes import set_span_attributes
from mcptrace.mcp.spans import handling_span, run_handler, sending_span
from mcptrace.record.offers import (
    remember_answer,
    remember_instructions,
    remember_listed_tools,
)
from mcptrace.record.vocabulary import (
    FASTMCP_SCOPE,
    INITIALIZE,
    JSONRPC_REQUEST_ID,
    MCP_PROTOCOL_VERSION,
    MCP_SESSION_ID,
    PROMPTS_GET,
    RESOURCES_READ,
    SDK_SCOPE,
    SERVER_DISCOVER,
    TOOLS_CALL,
    TOOLS_LIST,
    TRANSPORT_PIPE,
    TRANSPORT_TCP,
)

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
    # the protocol version of a 2026-07-28 request's per-request envelope (None: handshake era)
    envelope_version: str | None = None

    def span_attributes(self) -> dict[str, Any]:
        attributes = message_attributes(self.method, None, self.params)
        if self.session is not None:
            attributes.update(self.session.span_attributes())
        if self.envelope_version is not None:  # stateless traffic: there is no session
            attributes.pop(MCP_SESSION_ID, None)
            attributes[MCP_PROTOCOL_VERSION] = self.envelope_version
        return attributes


@dataclass
class _Inbound:
    """A message being handled by a server: its span's attributes, computed once."""

    session: SessionInfo | None
    method: str
    params: Mapping[str, Any] | None
    attributes: dict[str, Any]
    meta: Any
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
    """Enriches the SDK's CLIENT spans and fastmcp's SERVER spans at start, while mutable."""

    blind_start = True  # mcptrace's own spans are not its to enrich: their scope says so

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
            set_span_attributes(span, outbound.span_attributes())
            outbound.span = span
            request_id = (span.attributes or {}).get(JSONRPC_REQUEST_ID)
            if request_id is not None:
                outbound.request_id = str(request_id)
                _open_requests[(outbound.dispatcher_key, outbound.request_id)] = outbound
            if outbound.method == TOOLS_CALL and outbound.params:
                capture_arguments(span, outbound.params.get("arguments"))
        elif span.kind is SpanKind.SERVER:
            inbound = _INBOUND.get()  # set by TracingMiddleware on fastmcp servers
            if inbound is None:
                return
            set_span_attributes(span, inbound.attributes)
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
    set_span_attributes(span, outbound.span_attributes())
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
        outbound.envelope_version = envelope_version(params)
        token = _OUTBOUND.set(outbound)
    except Exception:
        return await wrapped(*args, **kwargs)
    session = outbound.session
    try:
        result = await wrapped(*args, **kwargs)
        if outbound.session is not None:
            client_answer(outbound.session, method, result)  # tool pinning (mcp/pinning.py)
    finally:
        _OUTBOUND.reset(token)
        if outbound.request_id is not None:
            _open_requests.pop((outbound.dispatcher_key, outbound.request_id), None)
        if session is not None and outbound.envelope_version is None and not session.announced:
            # announced once the first handshake-era request is answered: HTTP session
            # ids are assigned by then
            session.announce()
    if session is not None and outbound.envelope_version is not None and not session.announced:
        session.go_stateless(outbound.envelope_version)  # a stateless request was answered
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
                elif outbound.method in (INITIALIZE, SERVER_DISCOVER):
                    _record_handshake(outbound, outcome)
        except Exception:
            pass
    return wrapped(*args, **kwargs)


def _record_handshake(outbound: _Outbound, outcome: Mapping[str, Any]) -> None:
    """What the answer to initialize (or server/discover) tells about the session: the
    negotiated version, the server's identity and, over HTTP, the session id."""
    assert outbound.span is not None
    session = outbound.session
    span = outbound.span
    if outbound.method == INITIALIZE:
        server_info = outcome.get("serverInfo")
        version = outcome.get("protocolVersion")
        if isinstance(version, str):
            span.set_attribute(MCP_PROTOCOL_VERSION, version)
            if session is not None:
                session.set_protocol_version(version)
        if session is not None and (session_id := session.current_session_id()):
            span.set_attribute(MCP_SESSION_ID, session_id)
    else:
        meta = outcome.get("_meta")
        server_info = meta.get(SERVER_INFO_META_KEY) if isinstance(meta, Mapping) else None
    peer = server_info_attributes(server_info)
    if peer:
        span.set_attributes(peer)
        if session is not None:
            session.set_peer(peer)


async def wrap_notify(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        method: str = args[0] if args else kwargs["method"]
        params = args[1] if len(args) > 1 else kwargs.get("params")
        attributes = with_session(
            message_attributes(method, None, params), _session_for_dispatcher(instance)
        )
    except Exception:
        return await wrapped(*args, **kwargs)
    with sending_span(method, attributes):
        try:
            out = dict(params) if params else {}
            meta = dict(out.get("_meta") or {})
            inject_meta(meta)
            out["_meta"] = meta
            args, kwargs = with_argument(args, kwargs, 1, "params", out)
        except Exception:
            pass
        return await wrapped(*args, **kwargs)


# ---------------------------------------------------------------- server side
def _attach_connection_session(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], connection: Any
) -> None:
    session_id = getattr(connection, "session_id", None)
    setattr(connection, _SESSION_ATTRIBUTE, SessionInfo(client_side=False, session_id=session_id))


wrap_connection_for_loop = after(_attach_connection_session)


def _end_connection_session(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    connection = args[0] if args else kwargs.get("connection")
    end_session(getattr(connection, _SESSION_ATTRIBUTE, None), ())


wrap_aclose_shielded = finally_async(_end_connection_session)


def _server_session(ctx: Any, http_request: Any) -> SessionInfo | None:
    """The session of the connection a message arrived on; None where the protocol has none
    (2026-07-28: each request is its own connection, or a stateless stream)."""
    # The lowlevel context exposes the connection only through its session object.
    connection = getattr(ctx.session, "_connection", None)
    info: SessionInfo | None = getattr(connection, _SESSION_ATTRIBUTE, None)
    if info is None:
        return None
    version = ctx.protocol_version
    if is_stateless_version(version):
        info.stateless = True
        return None
    if not info.announced:
        info.transport = TRANSPORT_TCP if http_request is not None else TRANSPORT_PIPE
        info.set_session_id(getattr(connection, "session_id", None))
        if ctx.method != INITIALIZE:  # before the handshake the version is only a hint
            info.set_protocol_version(version)
        info.announce()
    elif ctx.method != INITIALIZE:
        info.set_protocol_version(version)
    return info


def _inbound(ctx: Any) -> _Inbound:
    method, params = ctx.method, ctx.params
    attributes = message_attributes(method, ctx.request_id, params)
    http_request = ctx.request
    meta = params.get("_meta") if params else None
    info = _server_session(ctx, http_request)
    if info is not None:
        if method == INITIALIZE and params:  # who called: named once per session
            info.set_peer(client_info_attributes(params.get("clientInfo")))
        attributes.update(info.span_attributes())
    else:
        attributes.update(transport_attributes(TRANSPORT_TCP if http_request else TRANSPORT_PIPE))
        if method != INITIALIZE:
            attributes[MCP_PROTOCOL_VERSION] = ctx.protocol_version
        if isinstance(meta, Mapping):  # who called: named on every 2026-07-28 request
            attributes.update(client_info_attributes(meta.get(CLIENT_INFO_META_KEY)))
    if http_request is not None:
        attributes.update(peer_attributes_from_request(http_request))
    return _Inbound(info, method, params, attributes, meta, ambient_span())


def _is_validation_error(error: BaseException) -> bool:
    # pydantic is not imported for this check: it only matters once mcp is loaded
    kind = type(error)
    return kind.__name__ == "ValidationError" and kind.__module__.startswith("pydantic")


def _record_result(span: Any, inbound: _Inbound, result: Any) -> None:
    if inbound.method == TOOLS_CALL:
        record_tool_result(span, result)
        remember_answer(span.get_span_context().span_id, result)
    elif inbound.method in (RESOURCES_READ, PROMPTS_GET):  # judged for instructions too
        remember_answer(span.get_span_context().span_id, result)
    elif inbound.method == TOOLS_LIST:
        remember_listed_tools(result)
    elif inbound.method == INITIALIZE:
        remember_instructions(result)
        if isinstance(result, Mapping):
            version = result.get("protocolVersion")
        else:
            version = getattr(result, "protocol_version", None)
        if isinstance(version, str):
            span.set_attribute(MCP_PROTOCOL_VERSION, version)
            if inbound.session is not None:
                inbound.session.set_protocol_version(version)


class TracingMiddleware:
    """mcptrace's entry in the SDK's public ``Server.middleware`` list, in place of the SDK's
    ``OpenTelemetryMiddleware``: one complete SERVER span per inbound message.

    ``opens_request_spans`` is False on fastmcp servers: fastmcp opens each request's SERVER
    span itself (and drops the SDK middleware), so there the request's attributes are handed
    to the span enricher instead, and only notifications get a span of ours.
    """

    def __init__(
        self, opens_request_spans: bool = True, server: dict[str, Any] | None = None
    ) -> None:
        self.opens_request_spans = opens_request_spans
        self.server = server or {}  # the server's own name and version, on its spans

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        try:
            inbound = _inbound(ctx)
            inbound.attributes.update(self.server)
        except Exception:
            return await call_next(ctx)
        if not self.opens_request_spans and ctx.request_id is not None:
            return await _enrich_their_span(inbound, ctx, call_next)
        name = span_name(inbound.method, inbound.params)
        with handling_span(name, inbound.attributes, inbound.meta, inbound.ambient) as span:
            if inbound.method == TOOLS_CALL and inbound.params:
                capture_arguments(span, inbound.params.get("arguments"))
            try:
                result = await call_next(ctx)
            except Exception as error:
                if _is_validation_error(error):  # the wire answer hides pydantic's message
                    record_rpc_error(span, INVALID_PARAMS, "Invalid request parameters")
                else:
                    record_exception(span, error)
                raise
            try:
                _record_result(span, inbound, result)
            except Exception:
                pass
            return result


async def _enrich_their_span(
    inbound: _Inbound, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]
) -> Any:
    # fastmcp parents its span to the context in _meta itself; it does not attach the
    # baggage, so the extracted context is attached when there is baggage to carry.
    parent = extract_meta(inbound.meta) if carries_baggage(inbound.meta) else None
    token = _INBOUND.set(inbound)
    attached = otel_context.attach(parent) if parent is not None else None
    try:
        return await call_next(ctx)
    finally:
        if attached is not None:
            otel_context.detach(attached)
        _INBOUND.reset(token)


def _is_sdk_tracing_middleware(middleware: Any) -> bool:
    kind = type(middleware)
    return kind.__name__ == "OpenTelemetryMiddleware" and kind.__module__.startswith("mcp.")


# server -> the middleware list entry ours replaced (None: ours was added), for uninstrument
_installed: WeakKeyDictionary[Any, Any] = WeakKeyDictionary()


def install_middleware(server: Any) -> None:
    """Put ``TracingMiddleware`` where the SDK's tracing middleware is (outermost)."""
    chain: list[Any] = server.middleware
    if any(isinstance(entry, TracingMiddleware) for entry in chain):
        return
    ours = TracingMiddleware(
        opens_request_spans=not type(server).__module__.startswith("fastmcp"),
        server=server_info_attributes(server),
    )
    for index, entry in enumerate(chain):
        if _is_sdk_tracing_middleware(entry):
            chain[index] = ours
            _installed[server] = entry
            return
    chain.insert(0, ours)
    _installed[server] = None


def remove_middleware() -> None:
    """Uninstrument: every server instrumented so far gets its original list back."""
    for server, original in list(_installed.items()):
        chain: list[Any] = server.middleware
        for index, entry in enumerate(chain):
            if isinstance(entry, TracingMiddleware):
                if original is None:
                    del chain[index]
                else:
                    chain[index] = original
                break
    _installed.clear()


def wrap_server_init(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    result = wrapped(*args, **kwargs)
    try:
        install_middleware(instance)
    except Exception as exc:
        report(f"mcptrace: could not add its tracing middleware to an MCP server ({exc!r})")
    return result


# ---------------------------------------------------------------- client side
def _attach_client_session(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
) -> None:
    read_stream = args[0] if args else kwargs.get("read_stream")
    if read_stream is None:  # mcp.Client hands the session a dispatcher over the streams
        read_stream = getattr(kwargs.get("dispatcher"), "_read_stream", None)
    _client_sessions[id(instance._dispatcher)] = attach_client_session(instance, read_stream)


wrap_client_session_init = after(_attach_client_session)


def _end_client_session(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    end_session(getattr(instance, _SESSION_ATTRIBUTE, None), args)
    _client_sessions.pop(id(getattr(instance, "_dispatcher", None)), None)


wrap_client_session_aexit = finally_async(_end_client_session)


async def wrap_client_handles(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``ClientSession._on_request/_on_notify(dctx, method, params)``: a SERVER span for a
    message the client handles (the SDK makes none there)."""
    try:
        dctx, method, params = args[0], args[1], args[2]
        attributes = with_session(
            message_attributes(method, getattr(dctx, "request_id", None), params),
            getattr(instance, _SESSION_ATTRIBUTE, None),
        )
        handling = handling_span(
            span_name(method, params), attributes, params.get("_meta") if params else None
        )
        span = handling.__enter__()
    except Exception:
        return await wrapped(*args, **kwargs)
    return await run_handler(handling, span, wrapped(*args, **kwargs))


def wrap_client_intercept_notification(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``ClientSession._intercept_notification(method, params)``: frames a 2026-07-28
    ``subscriptions/listen`` stream consumes here (its acknowledgement, its events) never
    reach ``_on_notify``; each gets its handling span all the same."""
    consumed = wrapped(*args, **kwargs)
    if consumed is True:
        try:
            method, params = args[0], args[1]
            attributes = with_session(
                message_attributes(method, None, params),
                getattr(instance, _SESSION_ATTRIBUTE, None),
            )
            with handling_span(method, attributes, params.get("_meta") if params else None):
                pass
        except Exception:
            pass
    return consumed


V2_PATCHES = patch_tables.bind(patch_tables.V2, globals())
