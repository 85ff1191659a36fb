"""Running policy_server.py under `mcptrace run --policy` and reading what was recorded."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

from mcptrace.export.spool_reader import LogRecordEntry, SpanEventRecord, SpanRecord
from support import PYTHON, SPAN_KIND_SERVER, clean_env, logs, run_under_mcptrace, spans

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "drive_policy_client.py"
VIOLATION = "mcptrace.policy.violation"


def write_policy(directory: Path, text: str, name: str = "policy.toml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def drive(
    spool: Path,
    policy: Path | None,
    calls: list[tuple[str, dict[str, Any]]],
    timeout: float = 180,
    **env: str,
) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    """Run the driver (which spawns the server over stdio) under ``mcptrace run``."""
    options = ["--policy", str(policy)] if policy is not None else []
    result = run_under_mcptrace(
        [PYTHON, str(DRIVER), json.dumps(calls)],
        spool,
        *options,
        env=clean_env(**env),
        timeout=timeout,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert lines, f"no results\nstdout:{result.stdout}\nstderr:{result.stderr}"
    results: list[dict[str, Any]] = json.loads(lines[-1])
    return results, result


class Recorded:
    def __init__(self, spool: Path) -> None:
        self.spans: list[SpanRecord] = spans(spool)
        self.logs: list[LogRecordEntry] = logs(spool)

    def tool_spans(self, tool: str) -> list[SpanRecord]:
        return [
            span
            for span in self.spans
            if span.kind == SPAN_KIND_SERVER and span.name == f"tools/call {tool}"
        ]

    def tool_span(self, tool: str) -> SpanRecord:
        found = self.tool_spans(tool)
        assert len(found) == 1, f"{len(found)} server spans for {tool}"
        return found[0]

    def violations(self, tool: str) -> list[SpanEventRecord]:
        return [event for event in self.tool_span(tool).events if event.name == VIOLATION]

    def events(self, tool: str, name: str) -> list[SpanEventRecord]:
        return [event for event in self.tool_span(tool).events if event.name == name]

    def violation_logs(self, span: SpanRecord) -> list[LogRecordEntry]:
        return [
            record
            for record in self.logs
            if record.event_name == VIOLATION
            and record.trace_id == span.trace_id
            and record.span_id == span.span_id
        ]


def listener() -> socket.socket:
    """A loopback TCP listener nobody accepts on (connections queue in its backlog)."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


def pending_connections(sock: socket.socket) -> int:
    """How many connections reached the listener (non-blocking accepts)."""
    count = 0
    while True:
        try:
            connection, _ = sock.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1
