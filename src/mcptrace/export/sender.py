"""Send one spool line to its OTLP target and say what the receiver made of it.

Usage::

    sender = Sender()
    body = sender.prepare(target, line)          # ValueError: the line is not a request
    outcome = sender.send(target, body, timeout=2.0)
    match outcome:
        case Delivered(): ...
        case Retry(reason, after): ...           # 429, 5xx, reset, timeout, truncated answer
        case Refused(reason): ...                # 4xx, bad certificate: retrying cannot help

``http/json`` sends the line's own bytes (encoded once, when it was spooled);
``http/protobuf`` and ``grpc`` convert it with ``otlp_json.tree_to_message``, which costs
about what the SDK's encoder costs.  HTTP connections are kept alive per endpoint.
"""

from __future__ import annotations

import email.utils
import gzip
import http.client
import importlib
import json
import socket
import ssl
import time
import urllib.parse
import zlib
from dataclasses import dataclass
from typing import Any

from mcptrace.export.destination import Target
from mcptrace.export.otlp_json import count_items, tree_to_message


@dataclass(frozen=True)
class Delivered:
    pass


@dataclass(frozen=True)
class Retry:
    reason: str
    after: float | None = None  # the receiver's Retry-After, in seconds


@dataclass(frozen=True)
class Refused:
    reason: str


Outcome = Delivered | Retry | Refused
_RETRY_STATUS = frozenset({408, 429})
_GRPC_STUBS = {
    "traces": ("opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc", "TraceServiceStub"),
    "logs": ("opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc", "LogsServiceStub"),
    "metrics": (
        "opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc",
        "MetricsServiceStub",
    ),
}
_GRPC_RETRY = frozenset(
    {"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED", "CANCELLED"}
)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _read_file(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _connect_above_stdio(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
    """``socket.create_connection`` with the socket on a descriptor above 2: a kept-alive
    connection on a program's closed stdout would receive what it prints."""
    sock = socket.create_connection(address, *args, **kwargs)
    if sock.fileno() > 2:
        return sock
    import fcntl

    try:
        fd = fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD_CLOEXEC, 3)
    except OSError:
        return sock
    moved = socket.socket(sock.family, sock.type, sock.proto, fileno=fd)
    moved.settimeout(sock.gettimeout())
    sock.close()
    return moved


class Sender:
    def __init__(self) -> None:
        self._connections: dict[tuple[str, str, int], http.client.HTTPConnection] = {}
        self._stubs: dict[str, Any] = {}
        self.sending_since: float | None = None  # a request in flight since (monotonic)

    def prepare(self, target: Target, line: bytes) -> tuple[Any, int]:
        """The request body (or gRPC message) for a line and how many spans / log records /
        metrics it carries; ValueError if the line is not an export request of the
        target's signal."""
        try:
            tree = json.loads(line)
            if not isinstance(tree, dict):
                raise ValueError("not a JSON object")
            message = tree_to_message(target.signal, tree)  # validates, whatever is sent
        except RecursionError:
            raise ValueError("nested too deeply") from None
        items = count_items(target.signal, tree)
        if target.protocol == "grpc":
            return message, items
        if target.protocol == "http/json":
            return line.rstrip(b"\n"), items
        return message.SerializeToString(), items

    def send(self, target: Target, body: Any, timeout: float) -> Outcome:
        self.sending_since = time.monotonic()
        try:
            return self._send(target, body, timeout)
        finally:
            self.sending_since = None

    def _send(self, target: Target, body: Any, timeout: float) -> Outcome:
        try:
            if target.protocol == "grpc":
                return self._send_grpc(target, body, timeout)
            return self._send_http(target, body, timeout)
        except ssl.SSLCertVerificationError as exc:
            return Refused(f"TLS: {exc.verify_message or exc}")
        except (OSError, http.client.HTTPException) as exc:
            return Retry(_describe(exc))
        except ValueError as exc:  # a header value with a line break, not latin-1, ...
            self._drop(target)
            return Refused(f"the request cannot be sent ({exc})")

    # HTTP ------------------------------------------------------------------------------

    def _connection(self, target: Target, timeout: float) -> http.client.HTTPConnection:
        key = _address(target)
        url = urllib.parse.urlsplit(target.url)
        _, host, port = key
        connection = self._connections.get(key)
        if connection is None:
            if url.scheme == "https":
                context = ssl.create_default_context(cafile=target.certificate)
                if target.client_certificate:
                    context.load_cert_chain(target.client_certificate, target.client_key)
                connection = http.client.HTTPSConnection(
                    host, port, timeout=timeout, context=context
                )
            else:
                connection = http.client.HTTPConnection(host, port, timeout=timeout)
            connection._create_connection = _connect_above_stdio  # type: ignore[attr-defined]
            self._connections[key] = connection
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        return connection

    def _drop(self, target: Target) -> None:
        connection = self._connections.pop(_address(target), None)
        if connection is not None:
            connection.close()

    def _send_http(self, target: Target, body: bytes, timeout: float) -> Outcome:
        headers = {
            "Content-Type": "application/json"
            if target.protocol == "http/json"
            else "application/x-protobuf",
            "User-Agent": "mcptrace",
            **target.headers,
        }
        if target.compression == "gzip":
            body = gzip.compress(body, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        elif target.compression == "deflate":
            body = zlib.compress(body)
            headers["Content-Encoding"] = "deflate"
        url = urllib.parse.urlsplit(target.url)
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        try:
            connection = self._connection(target, timeout)
        except (OSError, ssl.SSLError) as exc:  # a certificate or key file that cannot be used
            return Refused(f"TLS files: {exc}")
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()  # a truncated answer raises IncompleteRead: not acknowledged
        except BaseException:
            self._drop(target)
            raise
        if response.will_close:
            self._drop(target)
        status = response.status
        if 200 <= status < 300:
            return Delivered()
        reason = f"HTTP {status} {response.reason}".strip()
        if status in _RETRY_STATUS or status >= 500:
            return Retry(reason, retry_after(response.getheader("Retry-After")))
        return Refused(reason)

    # gRPC ------------------------------------------------------------------------------

    def _stub(self, target: Target) -> Any:
        stub = self._stubs.get(target.signal)
        if stub is not None:
            return stub
        import grpc

        url = urllib.parse.urlsplit(target.url if "//" in target.url else f"//{target.url}")
        address = url.netloc or url.path
        secure = url.scheme == "https" or (target.insecure is False and url.scheme != "http")
        if target.insecure is True:
            secure = False
        if secure:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read_file(target.certificate) if target.certificate else None,
                private_key=_read_file(target.client_key) if target.client_key else None,
                certificate_chain=(
                    _read_file(target.client_certificate) if target.client_certificate else None
                ),
            )
            compression = _grpc_compression(target)
            channel = grpc.secure_channel(address, credentials, compression=compression)
        else:
            channel = grpc.insecure_channel(address, compression=_grpc_compression(target))
        module_name, stub_name = _GRPC_STUBS[target.signal]
        stub = getattr(importlib.import_module(module_name), stub_name)(channel)
        self._stubs[target.signal] = stub
        return stub

    def _send_grpc(self, target: Target, message: Any, timeout: float) -> Outcome:
        import grpc

        try:
            stub = self._stub(target)
        except OSError as exc:
            return Refused(f"TLS files: {exc}")
        try:
            stub.Export(message, timeout=timeout, metadata=tuple(target.headers.items()))
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            name = getattr(code, "name", str(code))
            if name in _GRPC_RETRY:
                return Retry(f"gRPC {name}")
            return Refused(f"gRPC {name}")
        return Delivered()

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()


def _address(target: Target) -> tuple[str, str, int]:
    url = urllib.parse.urlsplit(target.url)
    port = url.port or (443 if url.scheme == "https" else 80)
    return url.scheme, url.hostname or "localhost", port


def _grpc_compression(target: Target) -> Any:
    import grpc

    return {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}.get(
        target.compression, grpc.Compression.NoCompression
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, http.client.IncompleteRead):
        return "the answer was cut short"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "no answer in time"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {exc}"
