"""A spool folded into sessions → calls → what each call did, streaming and bounded.

Usage::

    model = build_model(spool_dir, Filters(tool="read_*"))
    for session in model.sessions:
        for call in session.calls:
            print(call.name, call.duration_ms, call.activity.counts)

Memory stays proportional to the number of MCP requests, never to the number of runtime
events: each call keeps at most ``MAX_ITEMS`` distinct details per category and
``MAX_MARKS`` timeline marks; everything beyond is counted, not stored.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcptrace.export.spool_reader import (
    LogRecordEntry,
    ReadStats,
    SpanRecord,
    iter_logs,
    iter_spans,
)

# Categories in display order; ``policy`` and ``tamper`` are never filtered away by sensor config.
CATEGORIES = ("file", "network", "process", "code", "native", "import", "policy", "tamper")
CATEGORY_OF_PREFIX = {
    "mcptrace.file.": "file",
    "mcptrace.network.": "network",
    "mcptrace.process.": "process",
    "mcptrace.code.": "code",
    "mcptrace.native.": "native",
    "mcptrace.module.": "import",
    "mcptrace.policy.": "policy",
    "mcptrace.sensor.tamper": "tamper",
}
MAX_ITEMS = 16  # distinct details kept per call and category
MAX_MARKS = 32  # timeline marks kept per call
MAX_SUMMARY_ITEMS = 500  # distinct hosts / files / processes listed in the summary

SPAN_KIND_SERVER, SPAN_KIND_CLIENT = 2, 3
STATUS_ERROR = 2
WRITE_ACCESS = frozenset({"write", "read_write", "create", "append"})

# span/event attribute names (semconv and mcptrace contracts)
A_METHOD = "mcp.method.name"
A_SESSION = "mcp.session.id"
A_TOOL = "gen_ai.tool.name"
A_PROMPT = "gen_ai.prompt.name"
A_REQUEST_ID = "jsonrpc.request.id"
A_ERROR_TYPE = "error.type"
A_TRANSPORT = "network.transport"
A_DROPPED = "mcptrace.events.dropped"


def category_of(event_name: str) -> str | None:
    for prefix, category in CATEGORY_OF_PREFIX.items():
        if event_name.startswith(prefix):
            return category
    return None


@dataclass
class Filters:
    tool: str | None = None  # glob over gen_ai.tool.name; keeps tools/call only
    categories: frozenset[str] = frozenset()  # empty: all
    since_ns: int | None = None
    trace: str | None = None  # trace id or prefix

    @property
    def narrows_calls(self) -> bool:
        return bool(self.tool or self.categories or self.since_ns is not None or self.trace)

    def keeps_span(self, span: SpanRecord) -> bool:
        if self.trace and not span.trace_id.startswith(self.trace):
            return False
        if self.tool is not None and A_METHOD in span.attributes:
            tool = span.attributes.get(A_TOOL)
            return isinstance(tool, str) and fnmatch.fnmatchcase(tool, self.tool)
        return True

    def keeps_call(self, call: Call) -> bool:
        if self.tool is not None and call.tool is None:
            return False
        if self.since_ns is not None and call.end_ns < self.since_ns:
            return False
        return not self.categories or any(call.activity.counts.get(c) for c in self.categories)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: datetime | None = None) -> int:
    """``--since``: a duration back from now (``90s``, ``10m``, ``1h30m``, ``2d``) or an ISO
    8601 time (naive times are UTC, like everything ``view`` prints). Unix nanoseconds."""
    value = text.strip()
    now = now or datetime.now(timezone.utc)
    parts = _DURATION.findall(value)
    if parts and _DURATION.sub("", value).strip() == "":
        seconds = sum(float(number) * _UNIT_SECONDS[unit.lower()] for number, unit in parts)
        return int((now.timestamp() - seconds) * 1e9)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"--since {text!r}: expected a duration like 30s, 10m, 2h, 1d or an ISO time "
            "like 2026-01-31T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1e9)


class Detail:
    """One distinct thing a call did (a path opened for write, a host connected), counted."""

    __slots__ = ("action", "category", "count", "flagged", "target")

    def __init__(self, category: str, action: str, target: str, flagged: bool) -> None:
        self.category = category
        self.action = action
        self.target = target
        self.count = 0
        self.flagged = flagged

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "action": self.action,
            "target": self.target,
            "count": self.count,
            "flagged": self.flagged,
        }


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return shlex.join(str(v) for v in value)
    return str(value)


def describe(event_name: str, category: str, attrs: dict[str, Any]) -> tuple[str, str, bool]:
    """(action, target, flagged) of a sensor event; flagged marks what deserves a look."""
    verb = event_name.rsplit(".", 1)[-1]
    match category:
        case "file":
            path = _text(attrs.get("file.path"))
            if verb == "open":
                access = _text(attrs.get("mcptrace.file.access")) or "open"
                return access, path, access in WRITE_ACCESS
            target = _text(attrs.get("mcptrace.file.target_path"))
            return verb, f"{path} → {target}" if target else path, verb in ("delete", "rename")
        case "network":
            address = _text(attrs.get("server.address"))
            if verb in ("connect", "bind", "send"):
                port = attrs.get("server.port")
                transport = _text(attrs.get("network.transport"))
                where = f"{address}:{port}" if port is not None else address
                return verb, f"{where}/{transport}" if transport else where, False
            return verb, _text(attrs.get("url.full")) or address, False
        case "process":
            args = attrs.get("process.command_args")
            command = _text(args) if args else _text(attrs.get("process.executable.path"))
            if verb == "kill":
                command = " ".join(
                    f"{k.rsplit('.', 1)[-1]}={attrs[k]}"
                    for k in ("mcptrace.kill.target", "mcptrace.kill.signal")
                    if k in attrs
                )
            return verb, command, verb in ("spawn", "exec", "kill")
        case "code":
            if verb == "deserialize":
                fmt = _text(attrs.get("mcptrace.deserialize.format")) or "data"
                what = _text(attrs.get("mcptrace.deserialize.global"))
                return verb, f"{fmt} {what}".strip(), True
            operation = _text(attrs.get("mcptrace.code.operation")) or verb
            return operation, _text(attrs.get("mcptrace.code.filename")) or "<string>", True
        case "native":
            return verb, _text(attrs.get("file.path")), True
        case "import":
            verification = _text(attrs.get("mcptrace.module.verification")) or "import"
            name = _text(attrs.get("mcptrace.module.name")) or _text(attrs.get("file.path"))
            return verification, name, verification == "mismatch"
        case "policy":
            action = _text(attrs.get("mcptrace.policy.action")) or "violation"
            rule = _text(attrs.get("mcptrace.policy.rule"))
            subject = next(
                (
                    _text(attrs[k])
                    for k in ("file.path", "server.address", "process.executable.path")
                    if k in attrs
                ),
                "",
            )
            return action, f"{rule}: {subject}" if subject else rule, True
        case _:
            return "detected", _text(attrs.get("mcptrace.audit.event")) or verb, True


class Activity:
    """What happened inside a call (or outside any call): counts, capped details, marks."""

    __slots__ = ("counts", "details", "dropped", "marks", "omitted")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.dropped = 0
        self.details: dict[tuple[str, str, str], Detail] = {}
        self.omitted: dict[str, int] = {}
        self.marks: list[tuple[int, str, str]] = []

    def add_event(self, event_name: str, time_ns: int, attrs: dict[str, Any]) -> None:
        category = category_of(event_name)
        if category is None:
            return
        self.counts[category] = self.counts.get(category, 0) + 1
        action, target, flagged = describe(event_name, category, attrs)
        key = (category, action, target)
        detail = self.details.get(key)
        if detail is None:
            if sum(1 for k in self.details if k[0] == category) >= MAX_ITEMS:
                self.omitted[category] = self.omitted.get(category, 0) + 1
                return self._mark(time_ns, category, action, target)
            detail = self.details[key] = Detail(category, action, target, flagged)
        detail.count += 1
        self._mark(time_ns, category, action, target)

    def _mark(self, time_ns: int, category: str, action: str, target: str) -> None:
        if len(self.marks) < MAX_MARKS:
            self.marks.append((time_ns, category, f"{action} {target}".strip()))

    def add_span_counters(self, attrs: dict[str, Any], seen: dict[str, int]) -> None:
        """The sensor's own per-span totals include events it counted but did not detail."""
        for category in CATEGORIES:
            reported = attrs.get(f"mcptrace.events.{category}.count")
            if isinstance(reported, int) and reported > seen.get(category, 0):
                self.counts[category] = (
                    self.counts.get(category, 0) + reported - seen.get(category, 0)
                )
        dropped = attrs.get(A_DROPPED)
        if isinstance(dropped, int):
            self.dropped += dropped

    def merge(self, other: Activity) -> None:
        for category, count in other.counts.items():
            self.counts[category] = self.counts.get(category, 0) + count
        self.dropped += other.dropped
        for key, detail in other.details.items():
            mine = self.details.get(key)
            if mine is None:
                self.details[key] = mine = Detail(*key, flagged=detail.flagged)
            mine.count += detail.count
        for category, count in other.omitted.items():
            self.omitted[category] = self.omitted.get(category, 0) + count
        room = MAX_MARKS - len(self.marks)
        if room > 0:
            self.marks.extend(other.marks[:room])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def details_in(self, categories: Iterable[str] = CATEGORIES) -> Iterator[Detail]:
        wanted = tuple(categories)
        for category in wanted:
            yield from (d for k, d in self.details.items() if k[0] == category)

    def as_dict(self, categories: Iterable[str] = CATEGORIES) -> dict[str, Any]:
        wanted = tuple(categories)
        return {
            "counts": {c: self.counts[c] for c in wanted if self.counts.get(c)},
            "dropped": self.dropped,
            "items": [d.as_dict() for d in self.details_in(wanted)],
            "items_omitted": {c: self.omitted[c] for c in wanted if self.omitted.get(c)},
        }


class Side:
    """One end of a request: the client span or the server span."""

    __slots__ = ("end_ns", "service", "session_id", "span_id", "start_ns")

    def __init__(self, span: SpanRecord) -> None:
        self.span_id = span.span_id
        session = span.attributes.get(A_SESSION)
        self.session_id = session if isinstance(session, str) else ""
        self.service = str(span.resource.get("service.name", ""))
        self.start_ns = span.start_unix_nano
        self.end_ns = span.end_unix_nano

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    def as_dict(self) -> dict[str, Any]:
        return {
            "span_id": self.span_id,
            "session_id": self.session_id or None,
            "service": self.service,
            "duration_ms": round(self.duration_ms, 3),
        }


class Call:
    """One MCP request, the client span and the server span joined by their trace."""

    __slots__ = (
        "activity",
        "client",
        "error_message",
        "error_type",
        "method",
        "name",
        "request_id",
        "server",
        "tool",
        "trace_id",
        "transport",
    )

    def __init__(self, span: SpanRecord) -> None:
        attrs = span.attributes
        self.trace_id = span.trace_id
        self.method = str(attrs.get(A_METHOD, ""))
        tool = attrs.get(A_TOOL)
        self.tool: str | None = tool if isinstance(tool, str) else None
        uri = attrs.get("mcp.resource.uri")
        # span names leave resource URIs out (cardinality); a reader of one trace wants them
        self.name = f"{span.name} {uri}" if uri and span.name == self.method else span.name
        request_id = attrs.get(A_REQUEST_ID)
        self.request_id: str | None = None if request_id is None else str(request_id)
        transport = attrs.get(A_TRANSPORT)
        self.transport: str | None = transport if isinstance(transport, str) else None
        self.error_type: str | None = None
        self.error_message = ""
        self.client: Side | None = None
        self.server: Side | None = None
        self.activity = Activity()
        self.add_side(span)

    def add_side(self, span: SpanRecord) -> None:
        side = Side(span)
        if span.kind == SPAN_KIND_CLIENT:
            self.client = side
        else:
            self.server = side
        error_type = span.attributes.get(A_ERROR_TYPE)
        if error_type is not None or span.status_code == STATUS_ERROR:
            self.error_type = self.error_type or (str(error_type) if error_type else "error")
            self.error_message = self.error_message or span.status_message

    @property
    def main(self) -> Side:
        side = self.client or self.server
        assert side is not None
        return side

    @property
    def start_ns(self) -> int:
        return self.main.start_ns

    @property
    def end_ns(self) -> int:
        return self.main.end_ns

    @property
    def duration_ms(self) -> float:
        return self.main.duration_ms

    @property
    def failed(self) -> bool:
        return self.error_type is not None

    @property
    def is_tool_call(self) -> bool:
        return self.method == "tools/call"

    @property
    def is_notification(self) -> bool:
        return self.method.startswith("notifications/")


def iso(ns: int) -> str:
    moment = datetime.fromtimestamp(ns / 1e9, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Session:
    key: str
    session_ids: list[str]
    services: list[str]
    calls: list[Call]

    @property
    def start_ns(self) -> int:
        return min(c.start_ns for c in self.calls)

    @property
    def end_ns(self) -> int:
        return max(c.end_ns for c in self.calls)

    @property
    def errors(self) -> int:
        return sum(1 for c in self.calls if c.failed)

    @property
    def transport(self) -> str | None:
        return next((c.transport for c in self.calls if c.transport), None)


@dataclass
class Outside:
    """Runtime events with no MCP request around them (start-up imports, background threads)."""

    service: str
    activity: Activity


@dataclass
class Summary:
    tool_calls: int = 0
    tool_errors: int = 0
    requests: int = 0
    p95_duration_ms: float | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    hosts_contacted: list[str] = field(default_factory=list)
    files_written: list[str] = field(default_factory=list)
    processes_spawned: list[str] = field(default_factory=list)
    module_mismatches: list[str] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)
    dropped: int = 0

    @property
    def error_rate(self) -> float:
        return self.tool_errors / self.tool_calls if self.tool_calls else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "tool_calls": self.tool_calls,
            "tool_errors": self.tool_errors,
            "error_rate": round(self.error_rate, 4),
            "p95_duration_ms": _round(self.p95_duration_ms),
            "tools": self.tools,
            "hosts_contacted": self.hosts_contacted,
            "files_written": self.files_written,
            "processes_spawned": self.processes_spawned,
            "module_mismatches": self.module_mismatches,
            "violations": self.violations,
            "events": self.events,
            "dropped": self.dropped,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def p95(values: list[float]) -> float | None:
    """Nearest-rank 95th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, -(-95 * len(ordered) // 100) - 1)
    return ordered[rank]


@dataclass
class Model:
    spool: Path
    sessions: list[Session]
    outside: list[Outside]
    summary: Summary
    stats: ReadStats
    spans_read: int


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        parent = self.parent.setdefault(key, key)
        while parent != key:
            grand = self.parent[parent]
            self.parent[key] = grand
            key, parent = parent, grand
        return key

    def union(self, a: str, b: str) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


def session_key(side: Side) -> str:
    return f"session:{side.session_id}" if side.session_id else f"service:{side.service}"


class Aggregator:
    """Feed spans (and log records) in any order; read calls out when done or as they settle."""

    def __init__(self, filters: Filters | None = None) -> None:
        self.filters = filters or Filters()
        self.calls: dict[str, Call] = {}  # by span id of either side
        self.awaiting_client: dict[str, Call] = {}  # server-only calls, by their parent id
        self.parent_of: dict[str, str] = {}  # non-MCP spans: span id -> parent span id
        self.orphans: dict[str, tuple[str, Activity]] = {}  # non-MCP spans with events
        self.outside: dict[str, Activity] = {}
        self.spans_read = 0

    def add_span(self, span: SpanRecord) -> Call | None:
        """Fold one span in; returns the call it created or completed, if any."""
        self.spans_read += 1
        if not self.filters.keeps_span(span):
            return None
        activity = self._activity_of(span)
        if A_METHOD not in span.attributes:
            if span.parent_span_id:
                self.parent_of[span.span_id] = span.parent_span_id
            if activity is not None:
                self.orphans[span.span_id] = (str(span.resource.get("service.name", "")), activity)
            return None
        call = self._join(span)
        self.calls[span.span_id] = call
        if activity is not None:
            call.activity.merge(activity)
        return call

    def _activity_of(self, span: SpanRecord) -> Activity | None:
        if not span.events and not any(k.startswith("mcptrace.events.") for k in span.attributes):
            return None
        activity = Activity()
        for event in span.events:
            activity.add_event(event.name, event.time_unix_nano, event.attributes)
        activity.add_span_counters(span.attributes, dict(activity.counts))
        return activity if activity.total or activity.dropped else None

    def _join(self, span: SpanRecord) -> Call:
        if span.kind == SPAN_KIND_CLIENT:
            waiting = self.awaiting_client.pop(span.span_id, None)
            if waiting is not None and waiting.client is None:
                waiting.add_side(span)
                return waiting
            return Call(span)
        parent = self.calls.get(span.parent_span_id) if span.parent_span_id else None
        if (
            parent is not None
            and parent.server is None
            and parent.client is not None
            and parent.trace_id == span.trace_id
            and parent.method == str(span.attributes.get(A_METHOD, ""))
        ):
            parent.add_side(span)
            return parent
        call = Call(span)
        if span.parent_span_id:
            self.awaiting_client[span.parent_span_id] = call
        return call

    def add_log(self, record: LogRecordEntry) -> None:
        """Sensor log records duplicate span events; only those outside any span are new."""
        if record.span_id or category_of(record.event_name) is None:
            return
        if self.filters.narrows_calls:
            return
        service = str(record.resource.get("service.name", ""))
        activity = self.outside.setdefault(service, Activity())
        activity.add_event(record.event_name, record.time_unix_nano, record.attributes)

    def _settle_orphans(self) -> None:
        for span_id, (service, activity) in self.orphans.items():
            call = self._enclosing_call(span_id)
            if call is not None:
                call.activity.merge(activity)
            elif not self.filters.narrows_calls:
                self.outside.setdefault(service, Activity()).merge(activity)
        self.orphans.clear()

    def _enclosing_call(self, span_id: str) -> Call | None:
        seen = 0
        current: str | None = span_id
        while current is not None and seen < 256:
            call = self.calls.get(current)
            if call is not None:
                return call
            current = self.parent_of.get(current)
            seen += 1
        return None

    def unique_calls(self) -> Iterator[Call]:
        seen: set[int] = set()
        for call in self.calls.values():
            if id(call) not in seen:
                seen.add(id(call))
                yield call

    def finish(self, spool: Path, stats: ReadStats) -> Model:
        self._settle_orphans()
        groups = _UnionFind()
        kept: list[Call] = []
        for call in self.unique_calls():
            if call.is_notification or not self.filters.keeps_call(call):
                continue
            kept.append(call)
            keys = [session_key(s) for s in (call.client, call.server) if s]
            for key in keys[1:]:
                groups.union(keys[0], key)
            groups.find(keys[0])
        by_group: dict[str, Session] = {}
        for call in sorted(kept, key=lambda c: (c.start_ns, c.trace_id)):
            root = groups.find(session_key(call.main))
            session = by_group.get(root)
            if session is None:
                session = by_group[root] = Session(root, [], [], [])
            session.calls.append(call)
            for side in (call.client, call.server):
                if side is None:
                    continue
                if side.session_id and side.session_id not in session.session_ids:
                    session.session_ids.append(side.session_id)
                if side.service not in session.services:
                    session.services.append(side.service)
        sessions = sorted(by_group.values(), key=lambda s: (s.start_ns, s.key))
        outside = [Outside(service, a) for service, a in sorted(self.outside.items()) if a.total]
        summary = summarize(sessions, outside)
        return Model(spool, sessions, outside, summary, stats, self.spans_read)


def summarize(sessions: list[Session], outside: list[Outside]) -> Summary:
    summary = Summary()
    durations: list[float] = []
    per_tool: dict[str, tuple[int, int, list[float]]] = {}
    hosts: dict[str, None] = {}
    files: dict[str, None] = {}
    processes: dict[str, None] = {}
    mismatches: dict[str, None] = {}
    violations: dict[tuple[str, str], int] = {}
    activities = [c.activity for s in sessions for c in s.calls] + [o.activity for o in outside]
    for session in sessions:
        for call in session.calls:
            summary.requests += 1
            if not call.is_tool_call:
                continue
            summary.tool_calls += 1
            summary.tool_errors += call.failed
            durations.append(call.duration_ms)
            calls, errors, tool_durations = per_tool.setdefault(call.tool or "?", (0, 0, []))
            tool_durations.append(call.duration_ms)
            per_tool[call.tool or "?"] = (calls + 1, errors + call.failed, tool_durations)
    for activity in activities:
        for category, count in activity.counts.items():
            summary.events[category] = summary.events.get(category, 0) + count
        summary.dropped += activity.dropped
        for detail in activity.details.values():
            match detail.category, detail.action:
                case "network", "connect" | "send":
                    hosts[detail.target.rsplit("/", 1)[0]] = None
                case "network", "request":
                    hosts[urlsplit(detail.target).netloc or detail.target] = None
                case "file", action if action in WRITE_ACCESS or action in ("delete", "rename"):
                    files[detail.target] = None
                case "process", "spawn" | "exec":
                    processes[detail.target] = None
                case "import", "mismatch":
                    mismatches[detail.target] = None
                case "policy", action:
                    key = (detail.target.split(": ", 1)[0], action)
                    violations[key] = violations.get(key, 0) + detail.count
    summary.events = {c: summary.events[c] for c in CATEGORIES if summary.events.get(c)}
    summary.p95_duration_ms = p95(durations)
    summary.tools = [
        {
            "name": name,
            "calls": calls,
            "errors": errors,
            "p95_duration_ms": _round(p95(values)),
        }
        for name, (calls, errors, values) in sorted(per_tool.items())
    ]
    summary.hosts_contacted = sorted(hosts)[:MAX_SUMMARY_ITEMS]
    summary.files_written = sorted(files)[:MAX_SUMMARY_ITEMS]
    summary.processes_spawned = sorted(processes)[:MAX_SUMMARY_ITEMS]
    summary.module_mismatches = sorted(mismatches)[:MAX_SUMMARY_ITEMS]
    summary.violations = [
        {"rule": rule, "action": action, "count": count}
        for (rule, action), count in sorted(violations.items())
    ]
    return summary


def build_model(spool: Path, filters: Filters | None = None) -> Model:
    """Read the whole spool (streaming) into sessions → calls → activity."""
    aggregator = Aggregator(filters)
    stats = ReadStats()
    for span in iter_spans(spool, stats):
        aggregator.add_span(span)
    for record in iter_logs(spool, stats):
        aggregator.add_log(record)
    return aggregator.finish(spool, stats)
