"""MCP sessions on either side: identity, transport, lifecycle log records, duration metric.

Usage::

    info = SessionInfo.start(client_side=True, transport=TRANSPORT_PIPE)
    span.set_attributes(info.span_attributes())   # per message: one cached dict
    info.end(error=None)                          # log record + mcp.*.session.duration

``mcp.session.id`` is the ``Mcp-Session-Id`` of streamable HTTP (the same on both sides) or
the SSE session id; stdio has no protocol session id, so each side mints a UUID that stays
stable for the session (client and server ids then differ).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcptrace.mcp.callers import principal_attributes
from mcptrace.mcp.events import emit_event
from mcptrace.mcp.metrics import record_session
from mcptrace.mcp.semconv import transport_attributes
from mcptrace.mcp.transports import take_client_transport
from mcptrace.record.vocabulary import (
    CLIENT_ADDRESS,
    CLIENT_PORT,
    ERROR_TYPE,
    EVENT_CLIENT_CONNECT,
    EVENT_SESSION_END,
    EVENT_SESSION_START,
    MCP_PROTOCOL_VERSION,
    MCP_SESSION_ID,
    MCPTRACE_SESSION_DURATION,
    MCPTRACE_SESSION_SIDE,
    NETWORK_PROTOCOL_VERSION,
    SERVER_ADDRESS,
    SERVER_PORT,
    TRANSPORT_PIPE,
)


@dataclass
class SessionInfo:
    """One side of one MCP session; for a 2026-07-28 (stateless) connection it only carries
    the transport and the peers' identities: no session id, no start/end, no duration."""

    client_side: bool
    transport: str = TRANSPORT_PIPE
    session_id: str | None = None
    protocol_version: str | None = None
    server_address: str | None = None
    server_port: int | None = None
    # resolves the protocol session id later (streamable HTTP assigns it on initialize)
    session_id_source: Callable[[], str | None] | None = None
    started_ns: int = field(default_factory=time.monotonic_ns)
    ended: bool = False
    announced: bool = False
    # the peers negotiated a stateless protocol (2026-07-28): no session to report
    stateless: bool = False
    # who is on the other end: clientInfo (server side) or serverInfo (client side)
    peer: dict[str, Any] = field(default_factory=dict)
    _attributes: dict[str, Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def side(self) -> str:
        return "client" if self.client_side else "server"

    def _resolve_session_id(self) -> None:
        if self.session_id_source is not None:
            try:
                found = self.session_id_source()
            except Exception:
                found = None
            if found:
                self.session_id = found
                self.session_id_source = None
                self._attributes = None

    def current_session_id(self) -> str | None:
        """The session id as known now (HTTP ones appear with the initialize answer)."""
        if self.stateless:
            return None
        if self.session_id_source is not None:
            self._resolve_session_id()
        return self.session_id

    def set_session_id(self, session_id: str | None) -> None:
        if session_id and session_id != self.session_id:
            self.session_id = session_id
            self.session_id_source = None
            self._attributes = None

    def set_protocol_version(self, version: str | None) -> None:
        if version and version != self.protocol_version:
            self.protocol_version = version
            self._attributes = None

    def set_peer(self, attributes: dict[str, Any]) -> None:
        if attributes and attributes != self.peer:
            self.peer = attributes
            self._attributes = None

    def go_stateless(self, version: str | None) -> None:
        """The connection turned out to speak a stateless revision: nothing of a session is
        reported for it, the id minted for stdio included."""
        if not self.stateless:
            self.stateless = True
            self.protocol_version = version or self.protocol_version
            self._attributes = None

    def span_attributes(self) -> dict[str, Any]:
        """Session-wide span attributes (cached; rebuilt only when something changed)."""
        if self.session_id_source is not None:
            self._resolve_session_id()
        attributes = self._attributes
        if attributes is None:
            attributes = transport_attributes(self.transport)
            if self.session_id and not self.stateless:
                attributes[MCP_SESSION_ID] = self.session_id
            if self.protocol_version:
                attributes[MCP_PROTOCOL_VERSION] = self.protocol_version
            if self.client_side:
                if self.server_address:
                    attributes[SERVER_ADDRESS] = self.server_address
                if self.server_port is not None:
                    attributes[SERVER_PORT] = self.server_port
            attributes.update(self.peer)
            self._attributes = attributes
        return attributes

    def log_attributes(self) -> dict[str, Any]:
        attributes = dict(self.span_attributes())
        attributes[MCPTRACE_SESSION_SIDE] = self.side
        return attributes

    def announce(self) -> None:
        """Session start: one log record (a stdio server mints its session's UUID now)."""
        with self._lock:
            if self.announced or self.stateless:
                return
            self.announced = True
        self._attributes = None
        if self.session_id is None and self.session_id_source is None:
            self.session_id = str(uuid.uuid4())
        emit_event(
            EVENT_SESSION_START, self.log_attributes(), body=f"MCP {self.side} session start"
        )

    def end(self, error: BaseException | None = None) -> None:
        with self._lock:
            if self.ended or self.stateless or not self.announced:
                return
            self.ended = True
        try:
            seconds = (time.monotonic_ns() - self.started_ns) / 1e9
            attributes = self.log_attributes()
            if error is not None:
                attributes[ERROR_TYPE] = type(error).__qualname__
            record_session(self.client_side, seconds, attributes)
            attributes[MCPTRACE_SESSION_DURATION] = seconds
            emit_event(EVENT_SESSION_END, attributes, body=f"MCP {self.side} session end")
        except Exception:
            pass


def peer_attributes_from_request(request: Any) -> dict[str, Any]:
    """What one HTTP request (Starlette) tells about the caller: ``client.address``/
    ``client.port``, the HTTP version, and the principal when one is configured."""
    attributes: dict[str, Any] = {}
    client = getattr(request, "client", None)
    if client is not None:
        host = getattr(client, "host", None)
        port = getattr(client, "port", None)
        if host:
            attributes[CLIENT_ADDRESS] = host
        if isinstance(port, int):
            attributes[CLIENT_PORT] = port
    scope = getattr(request, "scope", None)
    version = scope.get("http_version") if isinstance(scope, dict) else None
    if isinstance(version, str):
        attributes[NETWORK_PROTOCOL_VERSION] = version
    attributes.update(principal_attributes(request))
    return attributes


def http_session_id_from_request(request: Any) -> str | None:
    """The streamable-HTTP ``Mcp-Session-Id`` header, or the SSE ``session_id`` query value."""
    try:
        headers = request.headers
        found = headers.get("mcp-session-id")
        if found:
            return str(found)
        query = request.query_params
        sse_id = query.get("session_id")
        return str(sse_id) if sse_id else None
    except Exception:
        return None


def client_session(read_stream: Any) -> SessionInfo:
    """A client session, with what its transport (tagged on ``read_stream``) told about the
    server; the client's connect record is announced here, once per session."""
    info = SessionInfo(client_side=True)
    tag = take_client_transport(read_stream) if read_stream is not None else None
    if tag is not None:
        info.transport = tag.transport
        info.server_address = tag.server_address
        info.server_port = tag.server_port
        info.session_id_source = tag.session_id_source
        if tag.connect_attributes:
            announce_client_connect(dict(tag.connect_attributes))
    if info.session_id_source is None:
        # stdio (and the SSE client) have no protocol session id: the UUID is minted now, so
        # the initialize span already carries the id every later span of the session has
        info.session_id = str(uuid.uuid4())
    return info


SESSION_ATTRIBUTE = "_mcptrace_session"  # where an SDK session object keeps its SessionInfo


def with_session(attributes: dict[str, Any], info: SessionInfo | None) -> dict[str, Any]:
    """A message's attributes with those of the session it belongs to, if any."""
    if info is not None:
        attributes.update(info.span_attributes())
    return attributes


def attach_client_session(session: Any, read_stream: Any) -> SessionInfo:
    """A new client session object gets its SessionInfo (see ``client_session``)."""
    info = client_session(read_stream)
    setattr(session, SESSION_ATTRIBUTE, info)
    return info


def end_session(info: SessionInfo | None, exit_args: tuple[Any, ...]) -> None:
    """Session end from an ``__aexit__(type, value, traceback)``: the error, if any, noted."""
    if info is not None:
        value = exit_args[1] if len(exit_args) > 1 else None
        info.end(value if isinstance(value, Exception) else None)


def announce_client_connect(attributes: dict[str, Any]) -> None:
    emit_event(EVENT_CLIENT_CONNECT, attributes, body="MCP client connect")
