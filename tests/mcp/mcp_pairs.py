"""Run the peer client/server pair under mcptrace and collect what the spool holds."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcptrace.export.spool_reader import LogRecordEntry, MetricPoint, SpanRecord
from support import (
    SPAN_KIND_CLIENT,
    SPAN_KIND_SERVER,
    clean_env,
    logs,
    mcptrace_cmd,
    metric_points,
    run_under_mcptrace,
    spans,
)

HERE = Path(__file__).resolve().parent
CLIENT = str(HERE / "peer_client.py")
SERVER = str(HERE / "peer_server.py")


@dataclass
class PairRun:
    result: dict[str, Any]
    spans: list[SpanRecord]
    logs: list[LogRecordEntry]
    metrics: list[MetricPoint]
    transport: str = "stdio"
    stderr: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def named(self, name: str, kind: int | None = None) -> list[SpanRecord]:
        return [s for s in self.spans if s.name == name and (kind is None or s.kind == kind)]

    def one(self, name: str, kind: int) -> SpanRecord:
        found = self.named(name, kind)
        assert len(found) == 1, f"{len(found)} {name!r} spans of kind {kind}: {found}"
        return found[0]

    def client(self, name: str) -> SpanRecord:
        return self.one(name, SPAN_KIND_CLIENT)

    def server(self, name: str) -> SpanRecord:
        return self.one(name, SPAN_KIND_SERVER)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _result_of(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])  # type: ignore[no-any-return]
    raise AssertionError(f"client printed no RESULT line:\n{stdout}")


def run_stdio_pair(
    spool: Path,
    client_python: str = sys.executable,
    server_python: str = sys.executable,
    calls: str = "all",
    env: dict[str, str] | None = None,
) -> PairRun:
    done = run_under_mcptrace(
        [client_python, CLIENT, "--server-python", server_python, "--calls", calls],
        spool,
        env=clean_env(**(env or {})),
    )
    return PairRun(
        _result_of(done.stdout),
        spans(spool),
        logs(spool),
        metric_points(spool),
        "stdio",
        done.stderr,
    )


def _wait_for_port(port: int, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early: {process.communicate()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("server did not listen in time")


def serve_and_run(
    spool: Path, server: list[str], client: list[str], env: dict[str, str], port: int
) -> subprocess.CompletedProcess[str]:
    """Start ``server`` (listening on ``port``) and run ``client`` to its end, both under
    ``mcptrace run``; the server is then stopped with SIGINT, as a user would."""
    process = subprocess.Popen(
        mcptrace_cmd("run", "--spool", str(spool), "--", *server),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_port(port, process)
        return run_under_mcptrace(client, spool, env=env)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def run_http_pair(
    spool: Path, calls: str = "all", env: dict[str, str] | None = None, transport: str = "http"
) -> PairRun:
    """streamable HTTP (``http``) or SSE (``sse``) on 127.0.0.1 with a free port."""
    port = free_port()
    done = serve_and_run(
        spool,
        [sys.executable, SERVER, transport, str(port)],
        [sys.executable, CLIENT, *_endpoint(transport, port), "--calls", calls],
        clean_env(**(env or {})),
        port,
    )
    return PairRun(
        _result_of(done.stdout),
        spans(spool),
        logs(spool),
        metric_points(spool),
        transport,
        done.stderr,
        {"port": port},
    )


def _endpoint(transport: str, port: int) -> list[str]:
    if transport == "sse":
        return ["--sse", f"http://127.0.0.1:{port}/sse"]
    return ["--http", f"http://127.0.0.1:{port}/mcp"]


def peer_python() -> str | None:
    found = os.environ.get("MCPTRACE_TEST_PEER_PYTHON")
    return found or None
