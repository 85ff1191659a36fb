"""Running the hidden-actions server under mcptrace and finding what the sensor recorded."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from mcptrace.export.spool_reader import LogRecordEntry, SpanEventRecord, SpanRecord
from support import (
    PYTHON,
    SPAN_KIND_INTERNAL,
    SPAN_KIND_SERVER,
    clean_env,
    logs,
    run_under_mcptrace,
    spans,
)

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "drive_client.py"
SENSOR_SCOPE = "mcptrace.sensor"


def drive(
    spool: Path, calls: list[tuple[str, dict[str, Any]]], timeout: float = 180, **env: str
) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    """Run drive_client.py (which spawns the server over stdio) under ``mcptrace run``."""
    result = run_under_mcptrace(
        [PYTHON, str(DRIVER), json.dumps(calls)], spool, env=clean_env(**env), timeout=timeout
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert lines, f"no results\nstdout:{result.stdout}\nstderr:{result.stderr}"
    results: list[dict[str, Any]] = json.loads(lines[-1])
    for item in results:
        assert not item["error"], f"{item}\nstderr:{result.stderr}"
    return results, result


class Recorded:
    """The spool of one run, indexed for the assertions."""

    def __init__(self, spool: Path) -> None:
        self.spans: list[SpanRecord] = spans(spool)
        self.logs: list[LogRecordEntry] = logs(spool)

    def tool_span(self, tool: str) -> SpanRecord:
        found = [
            span
            for span in self.spans
            if span.kind == SPAN_KIND_SERVER and span.name == f"tools/call {tool}"
        ]
        assert len(found) == 1, f"{len(found)} server spans for {tool}: {self.span_names()}"
        return found[0]

    def span_names(self) -> list[str]:
        return sorted(f"{span.name}/{span.kind}/{span.scope}" for span in self.spans)

    def events(self, span: SpanRecord, name: str) -> list[SpanEventRecord]:
        return [event for event in span.events if event.name == name]

    def one_event(self, tool: str, name: str) -> SpanEventRecord:
        span = self.tool_span(tool)
        found = self.events(span, name)
        assert found, f"no {name} on {span.name}: {[e.name for e in span.events]}"
        return found[0]

    def sensor_logs(self, name: str | None = None) -> list[LogRecordEntry]:
        return [
            record
            for record in self.logs
            if record.scope == SENSOR_SCOPE and (name is None or record.event_name == name)
        ]

    def logs_of(self, span: SpanRecord, name: str) -> list[LogRecordEntry]:
        return [
            record
            for record in self.sensor_logs(name)
            if record.trace_id == span.trace_id and record.span_id == span.span_id
        ]

    def process_spans(self) -> list[SpanRecord]:
        return [
            span
            for span in self.spans
            if span.scope == SENSOR_SCOPE and span.kind == SPAN_KIND_INTERNAL
        ]
