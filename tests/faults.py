"""Misbehaving OTLP/HTTP endpoints on raw loopback sockets, for export tests.

``FaultProxy`` listens on 127.0.0.1 and, per request, either forwards it to a real receiver
(an ``OtelTap``) and relays the answer, or misbehaves as its ``behaviour`` says:

    never    accept the connection, read the request, never answer
    slow     forward, but answer only after ``delay`` seconds
    500      answer 500 (``retry_after`` adds a Retry-After header; 429 likewise)
    reset    close the connection with an RST, no answer
    truncate forward, then answer 200 with a Content-Length larger than the body sent
    refuse   answer 404 (a backend without that signal's endpoint)

``behaviour`` is a function of (request number, path) so a test can script a flaky
receiver: the first N requests fail, one signal always fails, and so on.  ``down()`` closes
the listening socket (connections are then refused) and ``up()`` listens again on the same
port: a collector that goes away and comes back.
"""

from __future__ import annotations

import gzip
import http.client
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable
from types import TracebackType

Behaviour = Callable[[int, str], str]


def forward_all(number: int, path: str) -> str:
    return "forward"


class FaultProxy:
    def __init__(
        self,
        upstream_port: int | None,
        behaviour: Behaviour = forward_all,
        delay: float = 5.0,
        retry_after: str | None = None,
        port: int = 0,
        listening: bool = True,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.upstream_port = upstream_port
        self.behaviour = behaviour
        self.delay = delay
        self.retry_after = retry_after
        self.requests: list[tuple[str, str]] = []  # (path, what was done)
        self.headers: list[dict[str, str]] = []  # of each request
        self.bodies: list[bytes] = []  # as received (before any decompression)
        self.times: list[float] = []  # monotonic arrival of each request
        self.tls = tls
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.port = port
        if listening:
            self.up()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self._listener = listener
        thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def down(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            time.sleep(0.2)  # the accept loop notices

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self.down()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed by down()
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        connection.settimeout(30)
        buffered = b""
        try:
            if self.tls is not None:
                connection = self.tls.wrap_socket(connection, server_side=True)
            while not self._stop.is_set():
                request, buffered = _read_request(connection, buffered)
                if request is None:
                    return
                path, headers, body = request
                with self._lock:
                    number = len(self.requests)
                    action = self.behaviour(number, path)
                    self.requests.append((path, action))
                    self.headers.append(headers)
                    self.bodies.append(body)
                    self.times.append(time.monotonic())
                if not self._act(connection, action, path, headers, body):
                    return
        except OSError:
            pass
        finally:
            connection.close()

    def _act(
        self,
        connection: socket.socket,
        action: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
    ) -> bool:
        """False when the connection is finished with."""
        if action == "never":
            self._stop.wait(3600)
            return False
        if action == "reset":
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if action in ("500", "429", "503"):
            extra = f"Retry-After: {self.retry_after}\r\n" if self.retry_after else ""
            connection.sendall(
                f"HTTP/1.1 {action} Unavailable\r\n{extra}Content-Length: 0\r\n\r\n".encode()
            )
            return True
        if action == "refuse":
            connection.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return True
        if action == "slow":
            time.sleep(self.delay)
        status, answer = self._forward(path, headers, body)
        if action == "truncate":
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
                b"Content-Length: 100\r\n\r\n" + answer[:2]
            )
            return False
        connection.sendall(
            f"HTTP/1.1 {status} OK\r\nContent-Type: application/x-protobuf\r\n"
            f"Content-Length: {len(answer)}\r\n\r\n".encode()
            + answer
        )
        return True

    def _forward(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if self.upstream_port is None:
            return 200, b""  # nothing behind it: an empty success
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        encoding = headers.get("content-encoding", "")
        if encoding == "gzip":  # oteltap reads only plain bodies
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        try:
            kept = {k: v for k, v in headers.items() if k == "content-type"}
            upstream.request("POST", path, body=body, headers=kept)
            response = upstream.getresponse()
            return response.status, response.read()
        finally:
            upstream.close()

    def count(self, action: str, prefix: str = "") -> int:
        with self._lock:
            return sum(
                1 for path, done in self.requests if done == action and path.startswith(prefix)
            )


def _read_request(
    connection: socket.socket, buffered: bytes
) -> tuple[tuple[str, dict[str, str], bytes] | None, bytes]:
    while b"\r\n\r\n" not in buffered:
        chunk = connection.recv(65536)
        if not chunk:
            return None, b""
        buffered += chunk
    head, _, rest = buffered.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = connection.recv(65536)
        if not chunk:
            return None, b""
        rest += chunk
    return (path, headers, rest[:length]), rest[length:]
