"""Spool lines (OTLP/JSON export requests) to the flat records of ``spool_reader``.

``spool_reader`` reads whole files; ``view`` also needs single lines: the new lines of a
followed spool, and only the lines that can hold a trace asked for with ``--trace``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mcptrace.export.spool_reader import (
    LogRecordEntry,
    ReadStats,
    SpanEventRecord,
    SpanRecord,
    any_value,
    attributes_of,
    spool_files,
)


def parse_line(line: bytes) -> dict[str, Any]:
    try:
        tree = json.loads(line)
    except ValueError:
        return {}
    return tree if isinstance(tree, dict) else {}


def spans_of(tree: dict[str, Any], file: str = "") -> Iterator[SpanRecord]:
    """The spans of one ExportTraceServiceRequest in OTLP/JSON (as spool_reader reads them)."""
    for resource_spans in tree.get("resourceSpans", []):
        resource = attributes_of(resource_spans.get("resource", {}).get("attributes", []))
        for scope_spans in resource_spans.get("scopeSpans", []):
            scope = scope_spans.get("scope", {}).get("name", "")
            for span in scope_spans.get("spans", []):
                status = span.get("status", {})
                yield SpanRecord(
                    name=span.get("name", ""),
                    kind=int(span.get("kind", 0)),
                    trace_id=span.get("traceId", ""),
                    span_id=span.get("spanId", ""),
                    parent_span_id=span.get("parentSpanId", ""),
                    start_unix_nano=int(span.get("startTimeUnixNano", 0)),
                    end_unix_nano=int(span.get("endTimeUnixNano", 0)),
                    attributes=attributes_of(span.get("attributes", [])),
                    events=[
                        SpanEventRecord(
                            e.get("name", ""),
                            int(e.get("timeUnixNano", 0)),
                            attributes_of(e.get("attributes", [])),
                        )
                        for e in span.get("events", [])
                    ],
                    links=span.get("links", []),
                    status_code=int(status.get("code", 0)),
                    status_message=status.get("message", ""),
                    scope=scope,
                    resource=resource,
                    file=file,
                )


def logs_of(tree: dict[str, Any]) -> Iterator[LogRecordEntry]:
    for resource_logs in tree.get("resourceLogs", []):
        resource = attributes_of(resource_logs.get("resource", {}).get("attributes", []))
        for scope_logs in resource_logs.get("scopeLogs", []):
            scope = scope_logs.get("scope", {}).get("name", "")
            for record in scope_logs.get("logRecords", []):
                attributes = attributes_of(record.get("attributes", []))
                yield LogRecordEntry(
                    event_name=record.get("eventName") or attributes.get("event.name", ""),
                    time_unix_nano=int(record.get("timeUnixNano", 0)),
                    severity_number=int(record.get("severityNumber", 0)),
                    severity_text=record.get("severityText", ""),
                    body=any_value(record["body"]) if "body" in record else None,
                    attributes=attributes,
                    trace_id=record.get("traceId", ""),
                    span_id=record.get("spanId", ""),
                    scope=scope,
                    resource=resource,
                )


def iter_spans_mentioning(spool: Path, needle: str, stats: ReadStats) -> Iterator[SpanRecord]:
    """The spans of the lines that contain ``needle`` (a trace id or its prefix) anywhere:
    a cheap byte search skips the JSON parsing of every other line of a big spool."""
    wanted = needle.encode("ascii", "replace")
    for path in spool_files(spool, "traces"):
        stats.files += 1
        with path.open("rb") as handle:
            for raw in handle:
                if not raw.endswith(b"\n"):
                    break  # being written right now
                stats.lines += 1
                if wanted not in raw:
                    continue
                tree = parse_line(raw)
                if not tree:
                    stats.malformed += 1
                yield from spans_of(tree, path.name)
