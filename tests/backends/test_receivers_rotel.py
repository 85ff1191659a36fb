"""rotel (the Rust OpenTelemetry collector, ``rotel`` from PyPI) as a hop for all three
signals: ``mcptrace run --protocol grpc`` → rotel's OTLP/gRPC receiver → rotel's OTLP/HTTP
exporter → oteltap.  rotel always gzips what it sends and oteltap refuses gzip, so a
few-line stdlib relay in the test inflates the bodies on the way (rotel → Phoenix, which
takes gzip, is in test_receivers_phoenix.py).  This is also the live test of mcptrace's
gRPC exporters for logs and metrics against a real receiver.
"""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mcptrace.export.spool_reader import attributes_of
from receivers import OtelTap, free_port
from support import (
    ROOT,
    clean_env,
    example_client,
    replay_the_rest,
    run_under_mcptrace,
    unacknowledged_spans,
)

STAGE = os.environ.get("MCPTRACE_TEST_RECEIVERS_STAGE") == "1"  # set by tests/run.sh
VENV = Path(
    os.environ.get("MCPTRACE_TEST_PHOENIX_VENV")
    or Path(os.environ.get("MCPTRACE_VENVS", ROOT / ".venvs")) / "phoenix"
)
SERVER, CLIENT = 2, 3


def rotel_agent() -> Path:
    found = sorted(VENV.glob("lib/python*/site-packages/rotel/rotel-agent"))
    if not found:
        reason = f"no rotel-agent in {VENV}: run `bash tests/setup_venvs.sh phoenix`"
        if STAGE:
            pytest.fail(reason)
        pytest.skip(reason)
    return found[0]


class GunzipRelay:
    """127.0.0.1:port → the same path on ``target``, with gzip bodies inflated."""

    def __init__(self, target: str) -> None:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                    relay.inflated += 1
                request = urllib.request.Request(
                    target + self.path,
                    data=body,
                    method="POST",
                    headers={"Content-Type": self.headers.get("Content-Type", "")},
                )
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        code, out = response.status, response.read()
                except urllib.error.HTTPError as error:
                    code, out = error.code, error.read()
                self.send_response(code)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: object) -> None:
                pass

        self.inflated = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[tuple[str, OtelTap, GunzipRelay]]:
    """(rotel's gRPC endpoint, the oteltap at the end, the relay in between)"""
    agent = rotel_agent()
    with OtelTap(tmp_path) as tap:
        relay = GunzipRelay(tap.endpoint)
        grpc_port, http_port = free_port(), free_port()
        log = tmp_path / "rotel.out"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [
                    str(agent),
                    "start",
                    *("--otlp-grpc-endpoint", f"127.0.0.1:{grpc_port}"),
                    *("--otlp-http-endpoint", f"127.0.0.1:{http_port}"),
                    *("--exporter", "otlp", "--otlp-exporter-protocol", "http"),
                    *("--otlp-exporter-endpoint", f"http://127.0.0.1:{relay.port}"),
                    *("--batch-timeout", "100ms"),
                    *("--pid-file", str(tmp_path / "rotel.pid")),
                    *("--log-file", str(tmp_path / "rotel.log")),
                ],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", grpc_port), timeout=2).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"rotel did not start:\n{log.read_text()[-3000:]}")
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{grpc_port}", tap, relay
        finally:
            process.terminate()
            process.wait(timeout=30)
            relay.close()
    assert "Exporting failed" not in log.read_text(errors="replace")


@pytest.mark.slow
def test_all_signals_through_rotel(chain: tuple[str, OtelTap, GunzipRelay], spool: Path) -> None:
    endpoint, tap, relay = chain
    env = clean_env(OTEL_EXPORTER_OTLP_TIMEOUT="5")
    result = run_under_mcptrace(
        example_client(), spool, "--endpoint", endpoint, "--protocol", "grpc", env=env
    )
    assert "ping ok" in result.stdout
    replay_the_rest(spool, endpoint, "grpc", **env)
    assert unacknowledged_spans(spool, endpoint, "grpc") == 0  # rotel took every span

    def complete(t: OtelTap) -> bool:
        ends = [log for log in t.logs() if log.get("eventName") == "mcptrace.mcp.session.end"]
        metrics = {metric["name"] for metric in t.metrics()}
        pings = [s for s in t.spans() if s["name"] == "ping"]
        return len(pings) == 2 and len(ends) == 2 and "mcp.server.operation.duration" in metrics

    tap.wait_for(complete, timeout=60)
    assert relay.inflated > 0  # what rotel sent was gzip, as documented

    calls = [s for s in tap.spans() if s["name"] == "tools/call word_count"]
    (client,) = [s for s in calls if s["kind"] == CLIENT]
    (server,) = [s for s in calls if s["kind"] == SERVER]
    assert server["parentSpanId"] == client["spanId"]
    (opened,) = [e for e in server["events"] if e["name"] == "mcptrace.file.open"]
    assert attributes_of(opened["attributes"])["mcptrace.file.access"] == "read"
    records = [
        log
        for log in tap.logs()
        if log.get("eventName") == "mcptrace.file.open" and log.get("spanId") == server["spanId"]
    ]
    assert len(records) == 1
    names = {metric["name"] for metric in tap.metrics()}
    assert {"mcp.client.operation.duration", "mcp.server.operation.duration"} <= names
    assert {"mcp.client.session.duration", "mcp.server.session.duration"} <= names
