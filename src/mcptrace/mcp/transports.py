"""What a client session is connected to: the transport functions, seen from outside.

Usage (wired by the instrumentor; the same on mcp 1.x and 2.x)::

    wrap_function_wrapper(mcp.client.stdio, "stdio_client", wrap_stdio_client)
    info = take_client_transport(read_stream)   # in ClientSession.__init__

Each transport's async context manager is wrapped so the streams it yields are tagged with
the transport (``pipe``/``tcp``), server address and port, and a redacted command or URL;
the client session that receives those streams picks the tag up.  The streamable-HTTP
session id is read from the transport object once the server has assigned it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from mcptrace.mcp import patch_tables
from mcptrace.record.redact import redact_argv, redact_url
from mcptrace.record.vocabulary import (
    MCPTRACE_CONNECT_COMMAND,
    MCPTRACE_CONNECT_URL,
    NETWORK_TRANSPORT,
    PROCESS_COMMAND_ARGS,
    PROCESS_EXECUTABLE_PATH,
    SERVER_ADDRESS,
    SERVER_PORT,
    TRANSPORT_PIPE,
    TRANSPORT_TCP,
)


@dataclass
class ClientTransport:
    transport: str
    server_address: str | None = None
    server_port: int | None = None
    connect_attributes: dict[str, Any] | None = None
    session_id_source: Callable[[], str | None] | None = None
    sse: bool = False  # the SSE client does not expose its session id: a UUID is minted


# id(read stream) -> transport, while the transport context is open
_by_read_stream: dict[int, ClientTransport] = {}
# id(write stream) -> StreamableHTTPTransport (its session_id appears after initialize)
_http_by_write_stream: dict[int, Any] = {}


def take_client_transport(read_stream: Any) -> ClientTransport | None:
    return _by_read_stream.get(id(read_stream))


def _http_transport(url: Any) -> ClientTransport:
    text = str(url)
    parts = urlsplit(text)
    port = parts.port
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return ClientTransport(
        TRANSPORT_TCP,
        server_address=parts.hostname,
        server_port=port,
        connect_attributes={
            NETWORK_TRANSPORT: TRANSPORT_TCP,
            MCPTRACE_CONNECT_URL: redact_url(text),
            SERVER_ADDRESS: parts.hostname,
            SERVER_PORT: port,
        },
    )


def _stdio_transport(server: Any) -> ClientTransport:
    command = str(getattr(server, "command", "") or "")
    args: Sequence[str] = list(getattr(server, "args", None) or [])
    redacted = redact_argv([command, *args])
    return ClientTransport(
        TRANSPORT_PIPE,
        connect_attributes={
            NETWORK_TRANSPORT: TRANSPORT_PIPE,
            PROCESS_EXECUTABLE_PATH: command,
            PROCESS_COMMAND_ARGS: redacted,
            MCPTRACE_CONNECT_COMMAND: " ".join(redacted),
        },
    )


class _TaggedTransportContext:
    """The transport's context manager, tagging the streams it yields; anything else is the
    wrapped context manager's."""

    __slots__ = ("__wrapped__", "_self_key", "_self_tag", "_self_write_key")

    def __init__(self, wrapped: Any, tag: ClientTransport) -> None:
        self.__wrapped__ = wrapped
        self._self_tag = tag
        self._self_key: int | None = None
        self._self_write_key = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__wrapped__, name)

    async def __aenter__(self) -> Any:
        streams = await self.__wrapped__.__aenter__()
        try:
            tag = self._self_tag
            if len(streams) > 2 and callable(streams[2]):  # mcp 1.x: get_session_id callback
                tag.session_id_source = streams[2]
            elif tag.transport == TRANSPORT_TCP and not tag.sse:
                write_key = id(streams[1])

                def from_transport() -> str | None:
                    transport = _http_by_write_stream.get(write_key)
                    return getattr(transport, "session_id", None) if transport else None

                tag.session_id_source = from_transport
            self._self_key = id(streams[0])
            _by_read_stream[self._self_key] = tag
            self._self_write_key = id(streams[1])
        except Exception:
            pass
        return streams

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Any:
        if self._self_key is not None:
            _by_read_stream.pop(self._self_key, None)
            _http_by_write_stream.pop(self._self_write_key, None)
        return await self.__wrapped__.__aexit__(exc_type, exc, traceback)


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def wrap_stdio_client(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    context = wrapped(*args, **kwargs)
    try:
        return _TaggedTransportContext(
            context, _stdio_transport(_argument(args, kwargs, 0, "server"))
        )
    except Exception:
        return context


def wrap_http_client(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    context = wrapped(*args, **kwargs)
    try:
        return _TaggedTransportContext(context, _http_transport(_argument(args, kwargs, 0, "url")))
    except Exception:
        return context


def wrap_sse_client(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    context = wrapped(*args, **kwargs)
    try:
        tag = _http_transport(_argument(args, kwargs, 0, "url"))
        tag.sse = True
        return _TaggedTransportContext(context, tag)
    except Exception:
        return context


def wrap_post_writer(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    # post_writer(client, write_stream_reader, read_stream_writer, write_stream, ...) in both
    try:
        write_stream = _argument(args, kwargs, 3, "write_stream")
        if write_stream is not None:
            _http_by_write_stream[id(write_stream)] = instance
    except Exception:
        pass
    return wrapped(*args, **kwargs)


CLIENT_TRANSPORT_PATCHES = patch_tables.bind(patch_tables.TRANSPORTS, globals())
