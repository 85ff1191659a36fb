from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


@dataclass
class Loopback:
    tcp_port: int
    udp_port: int
    http_port: int
    udp_received: list[bytes]


class _QuietHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    """A TCP listener, a UDP socket and an HTTP server on 127.0.0.1 (ephemeral ports)."""
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        tcp.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = tcp.accept()
                connection.close()
            except OSError:
                pass
            try:
                received.append(udp.recv(64))
            except OSError:
                pass

    worker = threading.Thread(target=accept, daemon=True)
    worker.start()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _QuietHandler)
    http_thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    http_thread.start()
    try:
        yield Loopback(
            tcp.getsockname()[1], udp.getsockname()[1], httpd.server_address[1], received
        )
    finally:
        stop.set()
        httpd.shutdown()
        worker.join(2)
        tcp.close()
        udp.close()
        httpd.server_close()
