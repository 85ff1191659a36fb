"""Real OTLP receivers for tests, started as subprocesses on 127.0.0.1.

``OtelTap`` runs the ``oteltap`` package's receiver (OTLP HTTP/protobuf; traces, logs and
metrics), which prints every received item as one JSON line; tests read that file.  It
answers 400 to gzip bodies, so exporters pointed at it need
``OTEL_EXPORTER_OTLP_COMPRESSION=none``.

``accepting_endpoint()`` is the least a receiver can be, in this process: it answers 200 to
every POST and keeps the bodies (for tests about the exporting side, not the content).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any


class _Accept(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes]

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def accepting_endpoint() -> Iterator[tuple[str, list[bytes]]]:
    """An OTLP/HTTP endpoint on 127.0.0.1 that accepts everything: (URL, the bodies)."""
    bodies: list[bytes] = []
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Accept", (_Accept,), {"bodies": bodies})
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    return free_port()


class OtelTap:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.output = workdir / f"oteltap-{self.port}.ndjson"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> OtelTap:
        handle = self.output.open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "oteltap", "--port", str(self.port)],
            stdout=handle,
            stderr=subprocess.DEVNULL,
        )
        handle.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError("oteltap exited at start")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("oteltap did not start listening")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)

    def items(self) -> list[dict[str, Any]]:
        found = []
        for line in self.output.read_text().splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue  # a line still being written
        return found

    def spans(self) -> list[dict[str, Any]]:
        return [item for item in self.items() if "spanId" in item and "kind" in item]

    def logs(self) -> list[dict[str, Any]]:
        return [item for item in self.items() if "severityNumber" in item or "eventName" in item]

    def metrics(self) -> list[dict[str, Any]]:
        kinds = ("sum", "gauge", "histogram", "exponentialHistogram", "summary")
        return [item for item in self.items() if any(kind in item for kind in kinds)]

    def wait_for(self, condition: Callable[[OtelTap], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(self):
                return
            time.sleep(0.2)
        raise AssertionError(
            f"receiver condition not met in {timeout}s; got {len(self.items())} items"
        )
