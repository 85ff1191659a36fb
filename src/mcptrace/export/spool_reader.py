"""Read a spool back as flat records, streaming (bounded memory however big the spool).

Usage::

    for span in iter_spans(spool_dir):
        print(span.name, span.attributes.get("gen_ai.tool.name"), len(span.events))
    for record in iter_logs(spool_dir):
        print(record.event_name, record.trace_id)

Malformed lines (a crash mid-write of an older version, a hand-edited file) are skipped and
counted in ``ReadStats``; they never stop the read.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from mcptrace.config import Signal


def any_value(value: dict[str, Any]) -> Any:
    """Python value of an OTLP/JSON AnyValue."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [any_value(item) for item in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return attributes_of(value["kvlistValue"].get("values", []))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes_of(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {_text(item["key"]): any_value(item.get("value", {})) for item in items}


def _text(value: Any) -> str:
    """A string field of the spool (a hostile or damaged line may hold anything there)."""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


# What a damaged or hand-made line can raise while read as OTLP/JSON: the whole line is
# then counted as malformed and skipped, the rest of the spool is read.
_MALFORMED = (
    ValueError,
    TypeError,
    AttributeError,
    KeyError,
    OverflowError,
    IndexError,
    RecursionError,  # values nested thousands deep
)


@dataclass
class ReadStats:
    lines: int = 0
    malformed: int = 0
    files: int = 0
    not_plain_files: int = 0  # a FIFO, device, directory or symlink under a spool file's name


@dataclass
class SpanEventRecord:
    name: str
    time_unix_nano: int
    attributes: dict[str, Any]


@dataclass
class SpanRecord:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    start_unix_nano: int
    end_unix_nano: int
    attributes: dict[str, Any]
    events: list[SpanEventRecord]
    links: list[dict[str, Any]]
    status_code: int
    status_message: str
    scope: str
    resource: dict[str, Any]
    file: str = ""

    @property
    def duration_ms(self) -> float:
        return (self.end_unix_nano - self.start_unix_nano) / 1e6


@dataclass
class LogRecordEntry:
    event_name: str
    time_unix_nano: int
    severity_number: int
    severity_text: str
    body: Any
    attributes: dict[str, Any]
    trace_id: str
    span_id: str
    scope: str
    resource: dict[str, Any]


@dataclass
class MetricPoint:
    name: str
    kind: str
    attributes: dict[str, Any]
    data: dict[str, Any]
    resource: dict[str, Any] = field(default_factory=dict)


def spool_files(spool_dir: Path, signal: Signal) -> list[Path]:
    return sorted(Path(spool_dir).glob(f"{signal}-*.jsonl"))


# The writer keeps every line under 1 MiB (export/spool.py, MAX_LINE_BYTES): a reader holds no
# more than this of one line; a longer one is skipped as malformed without being kept.
MAX_READ_LINE = 16 * 1024 * 1024


def open_plain_file(path: Path) -> BinaryIO:
    """A spool file opened for reading, never through a symlink, never blocking on a FIFO and
    never reading a device planted under a spool file's name (the program being watched can
    write in its spool directory): OSError for anything but a plain file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(f"{path} is not a plain file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def complete_lines(handle: BinaryIO, stats: ReadStats) -> Iterator[bytes]:
    """The newline-terminated lines of ``handle`` (a last line without one is being written);
    a line longer than ``MAX_READ_LINE`` is counted malformed and skipped."""
    while True:
        raw = handle.readline(MAX_READ_LINE)
        if raw.endswith(b"\n"):
            yield raw
            continue
        if len(raw) < MAX_READ_LINE:
            return  # the end, or a line being written right now
        stats.lines += 1
        stats.malformed += 1
        while raw and not raw.endswith(b"\n"):  # the rest of the long line, unkept
            raw = handle.readline(MAX_READ_LINE)


def plain_files(
    spool_dir: Path, signal: Signal, stats: ReadStats
) -> Iterator[tuple[Path, BinaryIO]]:
    """Each spool file of ``signal`` that is a plain file, opened; the others are counted."""
    for path in spool_files(spool_dir, signal):
        stats.files += 1
        try:
            handle = open_plain_file(path)
        except OSError:  # not a plain file, or gone since the listing
            stats.not_plain_files += path.is_symlink() or path.exists()
            continue
        with handle:
            yield path, handle


def iter_requests(
    spool_dir: Path, signal: Signal, stats: ReadStats | None = None
) -> Iterator[tuple[Path, dict[str, Any]]]:
    counts = stats or ReadStats()
    for path, handle in plain_files(spool_dir, signal, counts):
        for raw in complete_lines(handle, counts):
            counts.lines += 1
            try:
                tree = json.loads(raw)
            except (ValueError, RecursionError):  # not JSON, or nested thousands deep
                counts.malformed += 1
                continue
            if isinstance(tree, dict):
                yield path, tree
            else:
                counts.malformed += 1


def spans_in(
    tree: dict[str, Any], file: str = "", stats: ReadStats | None = None
) -> list[SpanRecord]:
    """The spans of one ExportTraceServiceRequest in OTLP/JSON; none if the request is not
    well-formed (counted in ``stats``)."""
    try:
        return list(_spans_in(tree, file))
    except _MALFORMED:
        if stats is not None:
            stats.malformed += 1
        return []


def _spans_in(tree: dict[str, Any], file: str) -> Iterator[SpanRecord]:
    for resource_spans in tree.get("resourceSpans", []):
        resource = attributes_of(resource_spans.get("resource", {}).get("attributes", []))
        for scope_spans in resource_spans.get("scopeSpans", []):
            scope = scope_spans.get("scope", {}).get("name", "")
            for span in scope_spans.get("spans", []):
                status = span.get("status", {})
                yield SpanRecord(
                    name=_text(span.get("name", "")),
                    kind=int(span.get("kind", 0)),
                    trace_id=_text(span.get("traceId", "")),
                    span_id=_text(span.get("spanId", "")),
                    parent_span_id=_text(span.get("parentSpanId", "")),
                    start_unix_nano=int(span.get("startTimeUnixNano", 0)),
                    end_unix_nano=int(span.get("endTimeUnixNano", 0)),
                    attributes=attributes_of(span.get("attributes", [])),
                    events=[
                        SpanEventRecord(
                            _text(event.get("name", "")),
                            int(event.get("timeUnixNano", 0)),
                            attributes_of(event.get("attributes", [])),
                        )
                        for event in span.get("events", [])
                    ],
                    links=span.get("links", []),
                    status_code=int(status.get("code", 0)),
                    status_message=_text(status.get("message", "")),
                    scope=_text(scope),
                    resource=resource,
                    file=file,
                )


def logs_in(tree: dict[str, Any], stats: ReadStats | None = None) -> list[LogRecordEntry]:
    """The log records of one ExportLogsServiceRequest in OTLP/JSON; none if the request is
    not well-formed (counted in ``stats``)."""
    try:
        return list(_logs_in(tree))
    except _MALFORMED:
        if stats is not None:
            stats.malformed += 1
        return []


def _logs_in(tree: dict[str, Any]) -> Iterator[LogRecordEntry]:
    for resource_logs in tree.get("resourceLogs", []):
        resource = attributes_of(resource_logs.get("resource", {}).get("attributes", []))
        for scope_logs in resource_logs.get("scopeLogs", []):
            scope = scope_logs.get("scope", {}).get("name", "")
            for record in scope_logs.get("logRecords", []):
                attributes = attributes_of(record.get("attributes", []))
                yield LogRecordEntry(
                    event_name=_text(record.get("eventName") or attributes.get("event.name", "")),
                    time_unix_nano=int(record.get("timeUnixNano", 0)),
                    severity_number=int(record.get("severityNumber", 0)),
                    severity_text=_text(record.get("severityText", "")),
                    body=any_value(record["body"]) if "body" in record else None,
                    attributes=attributes,
                    trace_id=_text(record.get("traceId", "")),
                    span_id=_text(record.get("spanId", "")),
                    scope=_text(scope),
                    resource=resource,
                )


def iter_spans(spool_dir: Path, stats: ReadStats | None = None) -> Iterator[SpanRecord]:
    counts = stats or ReadStats()
    for path, tree in iter_requests(spool_dir, "traces", counts):
        yield from spans_in(tree, path.name, counts)


def iter_logs(spool_dir: Path, stats: ReadStats | None = None) -> Iterator[LogRecordEntry]:
    counts = stats or ReadStats()
    for _path, tree in iter_requests(spool_dir, "logs", counts):
        yield from logs_in(tree, counts)


_METRIC_KINDS = ("sum", "gauge", "histogram", "exponentialHistogram", "summary")


def iter_metric_points(spool_dir: Path, stats: ReadStats | None = None) -> Iterator[MetricPoint]:
    for _path, tree in iter_requests(spool_dir, "metrics", stats):
        for resource_metrics in tree.get("resourceMetrics", []):
            resource = attributes_of(resource_metrics.get("resource", {}).get("attributes", []))
            for scope_metrics in resource_metrics.get("scopeMetrics", []):
                for metric in scope_metrics.get("metrics", []):
                    for kind in _METRIC_KINDS:
                        if kind not in metric:
                            continue
                        for point in metric[kind].get("dataPoints", []):
                            yield MetricPoint(
                                name=metric.get("name", ""),
                                kind=kind,
                                attributes=attributes_of(point.get("attributes", [])),
                                data=point,
                                resource=resource,
                            )
