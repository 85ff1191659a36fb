"""mcp 1.x: mcptrace creates the spans and carries the context in ``params._meta``.

Usage (the instrumentor applies these lazily, when ``mcp`` is imported)::

    for module, name, wrapper in V1_PATCHES:
        wrap_function_wrapper(module, name, wrapper)  # mcptrace.instrumentor

Sending side (``BaseSession.send_request`` / ``send_notification``, both directions): a
CLIENT span, its context injected into a copy of the request's ``_meta``.  Handling side: a
SERVER span parented to the extracted context, current while the handler runs (the sensor
attributes the tool's file and network activity to it), the ambient span linked.
Outcomes (error responses, ``isError`` results) are read where the response is sent.
"""

from __future__ import annotations

import contextvars
import typing
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry.trace import Span

from mcptrace.mcp import patch_tables
from mcptrace.mcp.callers import client_info_attributes, server_info_attributes
from mcptrace.mcp.hooks import after, after_async, finally_async, with_argument
from mcptrace.mcp.inventory import wrap_server_run  # noqa: F401  (bound by name: patch_tables)
from mcptrace.mcp.outcome import (
    capture_arguments,
    record_exception,
    record_rpc_error,
    record_tool_result,
)
from mcptrace.mcp.pinning import client_answer
from mcptrace.mcp.propagation import inject_meta
from mcptrace.mcp.semconv import message_attributes, span_name
from mcptrace.mcp.sessions import (
    SessionInfo,
    attach_client_session,
    end_session,
    http_session_id_from_request,
    peer_attributes_from_request,
    with_session,
)
from mcptrace.mcp.spans import handling_span, run_handler, sending_span
from mcptrace.record.offers import (
    remember_answer,
    remember_instructions,
    remember_listed_tools,
)
from mcptrace.record.vocabulary import (
    INITIALIZE,
    MCP_PROTOCOL_VERSION,
    MCP_SESSION_ID,
    PROMPTS_GET,
    RESOURCES_READ,
    TOOLS_CALL,
    TOOLS_LIST,
    TRANSPORT_TCP,
)

_SESSION_ATTRIBUTE = "_mcptrace_session"
_ANSWERS_WITH_TEXT = (RESOURCES_READ, PROMPTS_GET)  # judged for instructions to the model
_SPAN_ATTRIBUTE = "_mcptrace_span"
# The streamable-HTTP session id of the ServerSession about to be created in this task.
_HTTP_SESSION_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mcptrace_http_session_id", default=None
)


def session_of(session: Any) -> SessionInfo | None:
    return getattr(session, _SESSION_ATTRIBUTE, None)


def _target_params(params: Any) -> dict[str, Any] | None:
    """The few params fields the attributes need, without dumping the model."""
    if params is None:
        return None
    found: dict[str, Any] = {}
    name = getattr(params, "name", None)
    if name is not None:
        found["name"] = name
    uri = getattr(params, "uri", None)
    if uri is not None:
        found["uri"] = uri
    return found


def _params_class(model_class: type[Any]) -> type[Any] | None:
    annotation = model_class.model_fields["params"].annotation
    for candidate in typing.get_args(annotation) or (annotation,):
        if isinstance(candidate, type) and hasattr(candidate, "model_fields"):
            return candidate
    return None


def _meta_class(params_class: type[Any]) -> type[Any] | None:
    annotation = params_class.model_fields["meta"].annotation
    for candidate in typing.get_args(annotation) or (annotation,):
        if isinstance(candidate, type) and hasattr(candidate, "model_fields"):
            return candidate
    return None


def with_trace_meta(message: Any) -> Any:
    """A copy of a ClientRequest/ServerRequest/...Notification carrying the current context
    in ``params._meta`` (the caller's object is left untouched)."""
    carrier: dict[str, Any] = {}
    inject_meta(carrier)
    if not carrier:
        return message
    inner = message.root
    params = inner.params
    if params is None:
        params_class = _params_class(type(inner))
        if params_class is None:
            return message
        new_params = params_class.model_validate({"_meta": carrier})
    else:
        meta = params.meta
        existing = meta.model_dump(by_alias=True, exclude_none=True) if meta is not None else {}
        meta_class = _meta_class(type(params))
        if meta_class is None:
            return message
        new_params = params.model_copy(update={"meta": meta_class(**{**existing, **carrier})})
    return type(message)(inner.model_copy(update={"params": new_params}))


# ---------------------------------------------------------------- sessions
def _attach_client_session(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
) -> None:
    attach_client_session(instance, args[0] if args else kwargs.get("read_stream"))


wrap_client_session_init = after(_attach_client_session)


def _attach_server_session(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
) -> None:
    http_id = _HTTP_SESSION_ID.get()
    info = SessionInfo(client_side=False, session_id=http_id)
    if http_id:
        info.transport = TRANSPORT_TCP
    setattr(instance, _SESSION_ATTRIBUTE, info)


wrap_server_session_init = after(_attach_server_session)


def _announce_stdio_server(
    instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
) -> None:
    info = session_of(instance)
    if info is not None and not info.client_side and info.transport != TRANSPORT_TCP:
        # stdio servers know their transport at once; HTTP ones announce on the first message
        info.announce()


wrap_session_aenter = after_async(_announce_stdio_server)


wrap_session_aexit = finally_async(
    lambda instance, args, kwargs: end_session(session_of(instance), args)
)


def wrap_http_transport_connect(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        _HTTP_SESSION_ID.set(getattr(instance, "mcp_session_id", None))
    except Exception:
        pass
    return wrapped(*args, **kwargs)


def _note_transport(info: SessionInfo, metadata: Any) -> dict[str, Any] | None:
    """Per-message peer attributes of an HTTP request; switches the session to tcp."""
    request = getattr(metadata, "request_context", None)
    if request is None:
        return None
    if info.transport != TRANSPORT_TCP:
        info.transport = TRANSPORT_TCP
        info.set_session_id(http_session_id_from_request(request))
        info._attributes = None
    elif info.session_id is None:
        info.set_session_id(http_session_id_from_request(request))
    if not info.announced:
        info.announce()
    return peer_attributes_from_request(request)


# ---------------------------------------------------------------- sending side
async def wrap_send_request(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        request = args[0] if args else kwargs["request"]
        inner = request.root
        method: str = inner.method
        params = _target_params(inner.params)
        info = session_of(instance)
        request_id = getattr(instance, "_request_id", None)
        attributes = with_session(message_attributes(method, request_id, params), info)
    except Exception:
        return await wrapped(*args, **kwargs)
    with sending_span(span_name(method, params), attributes) as span:
        try:
            if method == TOOLS_CALL:
                capture_arguments(span, getattr(inner.params, "arguments", None))
            args, kwargs = with_argument(args, kwargs, 0, "request", with_trace_meta(request))
        except Exception:
            pass
        try:
            result = await wrapped(*args, **kwargs)
        except Exception as error:
            record_exception(span, error)
            raise
        finally:
            if method == INITIALIZE and info is not None and info.client_side:
                info.announce()  # after the answer: HTTP session ids are assigned by then
        try:
            if info is not None and info.client_side:
                client_answer(info, method, result)  # tool pinning (mcp/pinning.py)
            if method == TOOLS_CALL:
                record_tool_result(span, result)
            elif method == INITIALIZE and info is not None:
                version = getattr(result, "protocolVersion", None)
                info.set_protocol_version(version)
                if version:
                    span.set_attribute(MCP_PROTOCOL_VERSION, str(version))
                info.set_peer(server_info_attributes(getattr(result, "serverInfo", None)))
                span.set_attributes(info.peer)
                session_id = info.current_session_id()  # over HTTP, assigned by this answer
                if session_id:
                    span.set_attribute(MCP_SESSION_ID, session_id)
        except Exception:
            pass
        return result


async def wrap_send_notification(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        notification = args[0] if args else kwargs["notification"]
        inner = notification.root
        method: str = inner.method
        attributes = with_session(
            message_attributes(method, None, _target_params(inner.params)), session_of(instance)
        )
    except Exception:
        return await wrapped(*args, **kwargs)
    with sending_span(method, attributes):
        try:
            args, kwargs = with_argument(
                args, kwargs, 0, "notification", with_trace_meta(notification)
            )
        except Exception:
            pass
        return await wrapped(*args, **kwargs)


# ---------------------------------------------------------------- handling side
def _server_span(
    session: Any, method: str, request_id: Any, params: Any, meta: Any, metadata: Any
) -> AbstractContextManager[Span]:
    """The handling span of one message, with the session's and the HTTP peer's attributes."""
    target = _target_params(params)
    attributes = message_attributes(method, request_id, target)
    info = session_of(session)
    if info is not None:
        peer = _note_transport(info, metadata)
        if method == INITIALIZE and not info.client_side:  # who called: once per session
            info.set_peer(client_info_attributes(getattr(params, "clientInfo", None)))
        attributes.update(info.span_attributes())
        if peer:
            attributes.update(peer)
    return handling_span(span_name(method, target), attributes, meta)


async def _handle_with_span(
    wrapped: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    session: Any,
    message: Any,
    responder: Any,
) -> Any:
    try:
        if responder is not None:
            inner = responder.request.root
            meta = responder.request_meta
            request_id = responder.request_id
            metadata = responder.message_metadata
        else:
            inner = message.root
            params = getattr(inner, "params", None)
            meta = getattr(params, "meta", None)
            request_id = None
            metadata = None
        handling = _server_span(session, inner.method, request_id, inner.params, meta, metadata)
        span = handling.__enter__()
    except Exception:
        return await wrapped(*args, **kwargs)
    if responder is not None:
        try:
            setattr(responder, _SPAN_ATTRIBUTE, span)
            if inner.method == TOOLS_CALL:
                capture_arguments(span, getattr(inner.params, "arguments", None))
        except Exception:
            pass
    return await run_handler(handling, span, wrapped(*args, **kwargs))


async def wrap_handle_message(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``Server._handle_message(message, session, ...)``: every request except initialize."""
    message: Any = args[0] if args else kwargs.get("message")
    session: Any = args[1] if len(args) > 1 else kwargs.get("session")
    if hasattr(message, "request_meta") and hasattr(message, "respond"):
        return await _handle_with_span(wrapped, args, kwargs, session, None, message)
    if hasattr(message, "root") and hasattr(message.root, "method"):
        return await _handle_with_span(wrapped, args, kwargs, session, message, None)
    return await wrapped(*args, **kwargs)


async def wrap_server_received_request(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``ServerSession._received_request``: ``initialize`` is answered right here."""
    responder = args[0] if args else kwargs.get("responder")
    method = getattr(getattr(getattr(responder, "request", None), "root", None), "method", None)
    if method != INITIALIZE:
        return await wrapped(*args, **kwargs)
    return await _handle_with_span(wrapped, args, kwargs, instance, None, responder)


async def wrap_client_received_request(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``ClientSession._received_request``: sampling, elicitation, roots, ping from a server."""
    responder = args[0] if args else kwargs.get("responder")
    return await _handle_with_span(wrapped, args, kwargs, instance, None, responder)


async def wrap_client_received_notification(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    notification = args[0] if args else kwargs.get("notification")
    return await _handle_with_span(wrapped, args, kwargs, instance, notification, None)


async def wrap_respond(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    span: Span | None = getattr(instance, _SPAN_ATTRIBUTE, None)
    if span is not None:
        try:
            response: Any = args[0] if args else kwargs.get("response")
            code = getattr(response, "code", None)
            if code is not None and hasattr(response, "message"):
                record_rpc_error(span, code, response.message)
            else:
                root = getattr(response, "root", response)
                method = instance.request.root.method
                if method == TOOLS_CALL:
                    record_tool_result(span, root)
                    remember_answer(span.get_span_context().span_id, root)
                elif method in _ANSWERS_WITH_TEXT:
                    remember_answer(span.get_span_context().span_id, root)
                elif method == TOOLS_LIST:
                    remember_listed_tools(root)
                elif method == INITIALIZE:
                    remember_instructions(root)
                    version = getattr(root, "protocolVersion", None)
                    info = session_of(instance._session)
                    if info is not None and version:
                        info.set_protocol_version(str(version))
                        span.set_attribute(MCP_PROTOCOL_VERSION, str(version))
        except Exception:
            pass
    return await wrapped(*args, **kwargs)


V1_PATCHES = patch_tables.bind(patch_tables.V1, globals())
