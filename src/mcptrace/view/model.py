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
import gc
import re
import shlex
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from sys import intern
from typing import Any
from urllib.parse import urlsplit

from mcptrace.export.spool_reader import (
    LogRecordEntry,
    ReadStats,
    SpanRecord,
    iter_logs,
    iter_spans,
)
from mcptrace.record import vocabulary as v

# Categories in display order (detections first); ``detection``, ``policy`` and ``tamper`` are
# never filtered away by sensor config.
CATEGORIES = (
    v.DETECTION_CATEGORY,
    v.FILE,
    v.NETWORK,
    v.PROCESS,
    v.CODE,
    v.NATIVE,
    v.IMPORT,
    v.POLICY_CATEGORY_NAME,
    v.TAMPER,
)
CATEGORY_OF_PREFIX = {
    v.DETECTION: v.DETECTION_CATEGORY,
    "mcptrace.file.": v.FILE,
    "mcptrace.network.": v.NETWORK,
    "mcptrace.process.": v.PROCESS,
    "mcptrace.code.": v.CODE,
    "mcptrace.native.": v.NATIVE,
    "mcptrace.module.": v.IMPORT,
    "mcptrace.policy.": v.POLICY_CATEGORY_NAME,
    v.SENSOR_TAMPER: v.TAMPER,
}
MAX_ITEMS = 16  # distinct details kept per call and category
MAX_MARKS = 32  # timeline marks kept per call
MAX_SUMMARY_ITEMS = 500  # distinct hosts / files / processes listed in the summary

SPAN_KIND_SERVER, SPAN_KIND_CLIENT = 2, 3
STATUS_ERROR = 2
WRITE_ACCESS = frozenset({v.WRITE, v.READ_WRITE, v.CREATE, v.APPEND})
SEVERITY_ORDER = ("critical", "error", "warning", "notice", "info")
SERIOUS = frozenset({"critical", "error", "warning"})

# span/event attribute names (semconv and mcptrace contracts)
A_METHOD = v.MCP_METHOD_NAME
A_SESSION = v.MCP_SESSION_ID
A_TOOL = v.GEN_AI_TOOL_NAME
A_REQUEST_ID = v.JSONRPC_REQUEST_ID
A_ERROR_TYPE = v.ERROR_TYPE
A_TRANSPORT = v.NETWORK_TRANSPORT
A_DROPPED = v.EVENTS_DROPPED
A_CLIENT_NAME = v.MCPTRACE_CLIENT_NAME
A_CLIENT_VERSION = v.MCPTRACE_CLIENT_VERSION
A_SERVER_NAME = v.MCPTRACE_SERVER_NAME
A_SERVER_VERSION = v.MCPTRACE_SERVER_VERSION
A_REPEATS = v.EVENT_REPEATS


_CATEGORY_CACHE: dict[str, str | None] = {}


def category_of(event_name: str) -> str | None:
    try:
        return _CATEGORY_CACHE[event_name]
    except KeyError:
        pass
    category = next(
        (c for prefix, c in CATEGORY_OF_PREFIX.items() if event_name.startswith(prefix)), None
    )
    if len(_CATEGORY_CACHE) < 1024:
        _CATEGORY_CACHE[event_name] = category
    return category


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

    __slots__ = ("action", "category", "count", "flagged", "library", "target")

    def __init__(
        self, category: str, action: str, target: str, flagged: bool, library: str = ""
    ) -> None:
        self.category = category
        self.action = action
        self.target = target
        self.count = 0
        self.flagged = flagged
        # library machinery working for the tool (mcptrace.origin): "module via package"
        self.library = library

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "category": self.category,
            "action": self.action,
            "target": self.target,
            "count": self.count,
            "flagged": self.flagged,
        }
        if self.library:
            found["library"] = self.library
        return found


def library_of(attrs: dict[str, Any]) -> str:
    """ "module via package" for an event library machinery made for the tool, else ""."""
    if attrs.get(v.ORIGIN) != v.LIBRARY:
        return ""
    module = _text(attrs.get(v.ORIGIN_MODULE)) or "?"
    package = _text(attrs.get(v.ORIGIN_LIBRARY))
    if package and package != module.split(".", 1)[0]:
        return f"{module} via {package}"
    return module


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
        case v.FILE:
            path = _text(attrs.get(v.FILE_PATH))
            if verb == "open":
                access = _text(attrs.get(v.FILE_ACCESS)) or "open"
                return access, path, access in WRITE_ACCESS
            target = _text(attrs.get(v.FILE_TARGET_PATH))
            return verb, f"{path} → {target}" if target else path, verb in ("delete", "rename")
        case v.NETWORK:
            address = _text(attrs.get(v.SERVER_ADDRESS))
            if verb in ("connect", "bind", "send"):
                port = attrs.get(v.SERVER_PORT)
                transport = _text(attrs.get(v.NETWORK_TRANSPORT))
                where = f"{address}:{port}" if port is not None else address
                return verb, f"{where}/{transport}" if transport else where, False
            return verb, _text(attrs.get(v.URL_FULL)) or address, False
        case v.PROCESS:
            args = attrs.get(v.PROCESS_COMMAND_ARGS)
            command = _text(args) if args else _text(attrs.get(v.PROCESS_EXECUTABLE_PATH))
            if verb == "kill":
                command = " ".join(
                    f"{k.rsplit('.', 1)[-1]}={attrs[k]}"
                    for k in (v.KILL_TARGET, v.KILL_SIGNAL)
                    if k in attrs
                )
            return verb, command, verb in ("spawn", "exec", "kill")
        case v.CODE:
            if verb == "deserialize":
                fmt = _text(attrs.get(v.DESERIALIZE_FORMAT)) or "data"
                what = _text(attrs.get(v.DESERIALIZE_GLOBAL))
                return verb, f"{fmt} {what}".strip(), True
            operation = _text(attrs.get(v.CODE_OPERATION)) or verb
            return operation, _text(attrs.get(v.CODE_FILENAME)) or "<string>", True
        case v.NATIVE:
            return verb, _text(attrs.get(v.FILE_PATH)), True
        case v.IMPORT:
            verification = _text(attrs.get(v.MODULE_VERIFICATION)) or "import"
            name = _text(attrs.get(v.MODULE_NAME)) or _text(attrs.get(v.FILE_PATH))
            return verification, name, verification == v.MISMATCH
        case v.POLICY_CATEGORY_NAME:
            action = _text(attrs.get(v.POLICY_ACTION)) or "violation"
            rule = _text(attrs.get(v.POLICY_RULE))
            subject = next(
                (
                    _text(attrs[k])
                    for k in (v.FILE_PATH, v.SERVER_ADDRESS, v.PROCESS_EXECUTABLE_PATH)
                    if k in attrs
                ),
                "",
            )
            return action, f"{rule}: {subject}" if subject else rule, True
        case "detection":
            severity = _text(attrs.get(v.DETECTION_SEVERITY)) or "warning"
            rule = _text(attrs.get(v.DETECTION_RULE))
            reason = _text(attrs.get(v.DETECTION_REASON))
            technique = _text(attrs.get(v.DETECTION_TECHNIQUE))
            label = f"{rule} [{technique}]" if technique else rule
            return severity, f"{label}: {reason}" if reason else label, severity in SERIOUS
        case _:
            return "detected", _text(attrs.get(v.AUDIT_EVENT)) or verb, True


class Activity:
    """What happened inside a call (or outside any call): counts, capped details, marks."""

    __slots__ = ("counts", "details", "dropped", "marks", "omitted")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.dropped = 0
        self.details: dict[tuple[str, str, str], Detail] = {}
        self.omitted: dict[str, int] = {}
        self.marks: list[tuple[int, tuple[str, str, str]]] = []

    def add_event(self, event_name: str, time_ns: int, attrs: dict[str, Any]) -> None:
        category = category_of(event_name)
        if category is None:
            return
        repeats = attrs.get(A_REPEATS)  # identical events the sensor coalesced into this one
        weight = 1 + repeats if isinstance(repeats, int) and repeats > 0 else 1
        self.counts[category] = self.counts.get(category, 0) + weight
        action, target, flagged = describe(event_name, category, attrs)
        library = library_of(attrs)
        if library:  # kept apart from the tool's own, and no warning colour
            action, flagged = f"{action} (library)", False
        if attrs.get(v.SPAN_ENDED) is True:  # a thread of the call's, after it had returned
            action = f"{action} (after return)"
        key = (category, intern(action), intern(target))
        detail = self.details.get(key)
        if detail is None:
            if sum(1 for k in self.details if k[0] == category) >= MAX_ITEMS:
                self.omitted[category] = self.omitted.get(category, 0) + 1
            else:
                detail = self.details[key] = Detail(*key, flagged=flagged, library=library)
        if detail is not None:
            detail.count += weight
        if len(self.marks) < MAX_MARKS:
            self.marks.append((time_ns, key))

    def labelled_marks(self) -> Iterator[tuple[int, str, str]]:
        """(time, category, "action target") of the first MAX_MARKS events."""
        for time_ns, (category, action, target) in self.marks:
            yield time_ns, category, f"{action} {target}".strip()

    def add_span(self, span: SpanRecord) -> None:
        """A span's events, then the sensor's counters for what it counted but did not keep."""
        before = dict(self.counts)
        for event in span.events:
            self.add_event(event.name, event.time_unix_nano, event.attributes)
        seen = {c: n - before.get(c, 0) for c, n in self.counts.items()}
        self.add_span_counters(span.attributes, seen)

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
                self.details[key] = mine = Detail(
                    *key, flagged=detail.flagged, library=detail.library
                )
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

    __slots__ = (
        "caller",
        "end_ns",
        "instance",
        "peer",
        "service",
        "session_id",
        "span_id",
        "start_ns",
    )

    def __init__(self, span: SpanRecord) -> None:
        attrs = span.attributes
        self.span_id = span.span_id
        session = attrs.get(A_SESSION)
        self.session_id = intern(session) if isinstance(session, str) else ""
        self.service = intern(str(span.resource.get("service.name", "")))
        # which process: a server names itself on its spans; else the instance id, if any
        own = attrs.get(A_SERVER_NAME) if span.kind != SPAN_KIND_CLIENT else None
        self.instance = intern(str(own or span.resource.get("service.instance.id", "")))
        self.start_ns = span.start_unix_nano
        self.end_ns = span.end_unix_nano
        # who called (server side: the client's clientInfo), and who is at the other end
        self.caller = intern(implementation(attrs, A_CLIENT_NAME, A_CLIENT_VERSION))
        if span.kind == SPAN_KIND_CLIENT:
            server = implementation(attrs, A_SERVER_NAME, A_SERVER_VERSION)
            address = attrs.get(v.SERVER_ADDRESS)
            if not server and address:
                server = f"{address}:{attrs.get(v.SERVER_PORT, '')}"
            self.peer = intern(server)
        else:
            self.peer = self.caller

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
        "parent_id",
        "request_id",
        "server",
        "tool",
        "trace_id",
        "transport",
    )

    def __init__(self, span: SpanRecord) -> None:
        attrs = span.attributes
        self.trace_id = span.trace_id
        self.method = intern(str(attrs.get(A_METHOD, "")))
        tool = attrs.get(A_TOOL)
        self.tool: str | None = intern(tool) if isinstance(tool, str) else None
        uri = attrs.get(v.MCP_RESOURCE_URI)
        # span names leave resource URIs out (cardinality); a reader of one trace wants them
        self.name = intern(f"{span.name} {uri}" if uri and span.name == self.method else span.name)
        self.parent_id = ""
        request_id = attrs.get(A_REQUEST_ID)
        self.request_id: str | None = None if request_id is None else str(request_id)
        transport = attrs.get(A_TRANSPORT)
        self.transport: str | None = intern(transport) if isinstance(transport, str) else None
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
            self.parent_id = span.parent_span_id
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

    @property
    def join_id(self) -> str:
        """The client span id: what the other half of this request is found by."""
        return self.client.span_id if self.client else self.parent_id


def iso(ns: int) -> str:
    moment = datetime.fromtimestamp(ns / 1e9, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def implementation(attributes: Any, name_key: str, version_key: str) -> str:
    """``name version`` of a client or server identity recorded on a span; "" if none."""
    name = attributes.get(name_key)
    if not isinstance(name, str) or not name:
        return ""
    version = attributes.get(version_key)
    return f"{name} {version}" if isinstance(version, str) and version else name


def session_key(side: Side) -> str:
    """Requests group by MCP session id.  Without one (2026-07-28 is stateless, or a peer
    is not instrumented) by the pair of peers as this side saw it: its own process and the
    party at the other end (the server's name or address; the client's name), so a client
    talking to several servers is several groups, not one."""
    if side.session_id:
        return f"session:{side.session_id}"
    return f"peers:{side.service}@{side.instance}|{side.peer}"


class SessionTotals:
    """Everything a session header says, for every request (shown in detail or not)."""

    __slots__ = (
        "clients",
        "end_ns",
        "errors",
        "requests",
        "services",
        "session_ids",
        "start_ns",
        "transport",
    )

    def __init__(self) -> None:
        self.clients: list[str] = []
        self.requests = 0
        self.errors = 0
        self.start_ns = 0
        self.end_ns = 0
        self.services: list[str] = []
        self.session_ids: list[str] = []
        self.transport: str | None = None

    def add_side(self, side: Side) -> None:
        if side.session_id and side.session_id not in self.session_ids:
            self.session_ids.append(side.session_id)
        if side.service not in self.services:
            self.services.append(side.service)
        if side.caller and side.caller not in self.clients:
            self.clients.append(side.caller)

    def add_call(self, call: Call) -> None:
        self.requests += 1
        self.errors += call.failed
        self.start_ns = min(self.start_ns or call.start_ns, call.start_ns)
        self.end_ns = max(self.end_ns, call.end_ns)
        self.transport = self.transport or call.transport
        for side in (call.client, call.server):
            if side is not None:
                self.add_side(side)

    def merge(self, other: SessionTotals) -> None:
        self.requests += other.requests
        self.errors += other.errors
        starts = [t for t in (self.start_ns, other.start_ns) if t]
        self.start_ns = min(starts) if starts else 0
        self.end_ns = max(self.end_ns, other.end_ns)
        self.transport = self.transport or other.transport
        self.services += [s for s in other.services if s not in self.services]
        self.session_ids += [s for s in other.session_ids if s not in self.session_ids]
        self.clients += [c for c in other.clients if c not in self.clients]


@dataclass
class Session:
    key: str
    session_ids: list[str]
    services: list[str]
    clients: list[str]  # who called, as the servers saw them (clientInfo name and version)
    calls: list[Call]  # the most recent ones, at most the model's limit in all sessions
    requests: int
    errors: int
    start_ns: int
    end_ns: int
    transport: str | None

    @property
    def not_shown(self) -> int:
        return self.requests - len(self.calls)


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
    detections: list[dict[str, Any]] = field(default_factory=list)
    clients: list[dict[str, Any]] = field(default_factory=list)  # per-client requests
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
            "detections": self.detections,
            "clients": self.clients,
            "events": self.events,
            "dropped": self.dropped,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def p95(values: Iterable[float]) -> float | None:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(0, -(-95 * len(ordered) // 100) - 1)
    return ordered[rank]


class _ToolTotals:
    __slots__ = ("calls", "durations", "errors")

    def __init__(self) -> None:
        self.calls = 0
        self.errors = 0
        self.durations = array("d")


class _ClientTotals:
    __slots__ = ("errors", "requests", "tool_calls")

    def __init__(self) -> None:
        self.requests = self.tool_calls = self.errors = 0


class SummaryBuilder:
    """Accumulates the summary request by request; its memory is 8 bytes per tool call."""

    def __init__(self) -> None:
        self.summary = Summary()
        self.durations = array("d")
        self.tools: dict[str, _ToolTotals] = {}
        self.hosts: dict[str, None] = {}
        self.files: dict[str, None] = {}
        self.processes: dict[str, None] = {}
        self.mismatches: dict[str, None] = {}
        self.violations: dict[tuple[str, str], int] = {}
        self.detections: dict[tuple[str, str, str], int] = {}  # (severity, finding, tool)
        self.clients: dict[str, _ClientTotals] = {}

    def add_call(self, call: Call) -> None:
        self.summary.requests += 1
        caller = call.server.caller if call.server is not None else ""
        if caller in self.clients or len(self.clients) < MAX_SUMMARY_ITEMS:
            totals = self.clients.setdefault(caller, _ClientTotals())
            totals.requests += 1
            totals.tool_calls += call.is_tool_call
            totals.errors += call.failed
        if call.is_tool_call:
            self.summary.tool_calls += 1
            self.summary.tool_errors += call.failed
            self.durations.append(call.duration_ms)
            tool = self.tools.setdefault(call.tool or "?", _ToolTotals())
            tool.calls += 1
            tool.errors += call.failed
            tool.durations.append(call.duration_ms)
        self.add_activity(call.activity, call.tool or call.name)

    def add_late_error(self, call_was_tool: bool, tool: str | None) -> None:
        """The other half of a request already counted turned out to have failed."""
        if call_was_tool:
            self.summary.tool_errors += 1
            self.tools.setdefault(tool or "?", _ToolTotals()).errors += 1

    @staticmethod
    def _note(into: dict[str, None], item: str) -> None:
        if len(into) < MAX_SUMMARY_ITEMS:
            into[item] = None

    def add_activity(self, activity: Activity, where: str = "") -> None:
        events = self.summary.events
        for category, count in activity.counts.items():
            events[category] = events.get(category, 0) + count
        self.summary.dropped += activity.dropped
        for detail in activity.details.values():
            match detail.category, detail.action:
                case "network", "connect" | "send":
                    self._note(self.hosts, detail.target.rsplit("/", 1)[0])
                case "network", "request":
                    self._note(self.hosts, urlsplit(detail.target).netloc or detail.target)
                case "file", action if action in WRITE_ACCESS or action in ("delete", "rename"):
                    self._note(self.files, detail.target)
                case "process", "spawn" | "exec":
                    self._note(self.processes, detail.target)
                case "import", "mismatch":
                    self._note(self.mismatches, detail.target)
                case "policy", action:
                    key = (detail.target.split(": ", 1)[0], action)
                    self.violations[key] = self.violations.get(key, 0) + detail.count
                case "detection", severity:
                    if len(self.detections) < MAX_SUMMARY_ITEMS:
                        found = (severity, detail.target, where)
                        self.detections[found] = self.detections.get(found, 0) + detail.count

    def build(self) -> Summary:
        summary = self.summary
        summary.events = {c: summary.events[c] for c in CATEGORIES if summary.events.get(c)}
        summary.p95_duration_ms = p95(self.durations)
        summary.tools = [
            {
                "name": name,
                "calls": totals.calls,
                "errors": totals.errors,
                "p95_duration_ms": _round(p95(totals.durations)),
            }
            for name, totals in sorted(self.tools.items())
        ]
        summary.clients = [
            {
                "client": caller or None,
                "requests": totals.requests,
                "tool_calls": totals.tool_calls,
                "errors": totals.errors,
            }
            for caller, totals in sorted(self.clients.items())
        ]
        summary.hosts_contacted = sorted(self.hosts)
        summary.files_written = sorted(self.files)
        summary.processes_spawned = sorted(self.processes)
        summary.module_mismatches = sorted(self.mismatches)
        summary.violations = [
            {"rule": rule, "action": action, "count": count}
            for (rule, action), count in sorted(self.violations.items())
        ]
        rank = {severity: index for index, severity in enumerate(SEVERITY_ORDER)}
        summary.detections = [
            {
                "severity": severity,
                "rule": finding.split(": ", 1)[0].split(" [", 1)[0],
                "finding": finding,
                "tool": tool,
                "count": count,
            }
            for (severity, finding, tool), count in sorted(
                self.detections.items(), key=lambda item: (rank.get(item[0][0], 9), item[0])
            )
        ]
        return summary


@dataclass
class Model:
    spool: Path
    sessions: list[Session]
    outside: list[Outside]
    summary: Summary
    stats: ReadStats
    spans_read: int
    limit: int = 0


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


# a folded request, by the int of its client span id: (session key, counted, failed, tool)
_Folded = tuple[str, bool, bool, "str | None"]
MAX_ORPHANS = 10_000
MAX_WAITING = 10_000


class Aggregator:
    """Feed spans (and log records) in any order; read the model out at the end.

    With ``limit`` > 0 only the ``limit`` most recent requests are kept in detail: older ones
    are folded into per-session totals and the summary as the spool streams by, leaving a
    few dozen bytes each (to recognise their other half if it comes later). Memory is then
    bounded by ``limit``, not by the size of the spool.
    """

    def __init__(
        self, filters: Filters | None = None, limit: int = 0, patience: int | None = None
    ) -> None:
        self.filters = filters or Filters()
        self.limit = limit
        # how many requests may wait for their other half before they are folded anyway
        self.patience = max(MAX_WAITING, 20 * limit) if patience is None else patience
        self.calls: dict[str, Call] = {}  # by span id of either side
        self.awaiting_client: dict[str, Call] = {}  # server-only calls, by their parent id
        self.live = 0  # distinct calls held in detail
        self._next_fold = 2 * limit
        self.folded: dict[int, _Folded] = {}
        self.parent_of: dict[int, int] = {}  # non-MCP spans: span id -> parent span id
        self.orphans: dict[str, tuple[str, Activity]] = {}  # non-MCP spans with events
        self.outside: dict[str, Activity] = {}
        self.totals: dict[str, SessionTotals] = {}
        self.groups = _UnionFind()
        self.summary = SummaryBuilder()
        self.spans_read = 0

    # -- spans in

    def add_span(self, span: SpanRecord) -> Call | None:
        """Fold one span in; returns the call it created or completed, if any."""
        self.spans_read += 1
        if not self.filters.keeps_span(span):
            return None
        if A_METHOD not in span.attributes:
            self._add_other_span(span)
            return None
        join_id = span.span_id if span.kind == SPAN_KIND_CLIENT else span.parent_span_id
        folded = self.folded.pop(_int(join_id), None) if join_id and self.folded else None
        if folded is not None:
            self._late_half(span, folded)
            return None
        call = self._join(span)
        self.calls[span.span_id] = call
        if span.events or A_DROPPED in span.attributes:
            call.activity.add_span(span)
        if self.limit and self.live > self._next_fold:
            self._fold_oldest()
            self._next_fold = max(2 * self.limit, self.live + max(self.limit, self.live // 2))
        return call

    def _add_other_span(self, span: SpanRecord) -> None:
        if span.parent_span_id:
            self.parent_of[_int(span.span_id)] = _int(span.parent_span_id)
        if not span.events:
            return
        activity = Activity()
        activity.add_span(span)
        if activity.total or activity.dropped:
            self.orphans[span.span_id] = (
                intern(str(span.resource.get("service.name", ""))),
                activity,
            )
            if len(self.orphans) > MAX_ORPHANS:
                self._settle_orphans(final=False)

    def _join(self, span: SpanRecord) -> Call:
        if span.kind == SPAN_KIND_CLIENT:
            waiting = self.awaiting_client.pop(span.span_id, None)
            if waiting is not None and waiting.client is None:
                waiting.add_side(span)
                return waiting
            self.live += 1
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
        self.live += 1
        call = Call(span)
        if span.parent_span_id:
            self.awaiting_client[span.parent_span_id] = call
        return call

    def add_log(self, record: LogRecordEntry) -> None:
        """Sensor log records duplicate span events; only those outside any span are new, and
        those a call's thread made after the call had ended (``mcptrace.span.ended``)."""
        if category_of(record.event_name) is None:
            return
        if record.span_id:
            if record.attributes.get(v.SPAN_ENDED) is True:
                call = self.calls.get(record.span_id)  # None: filtered out, or folded
                if call is not None:
                    call.activity.add_event(
                        record.event_name, record.time_unix_nano, record.attributes
                    )
            return
        if self.filters.narrows_calls:
            return
        service = str(record.resource.get("service.name", ""))
        activity = self.outside.setdefault(service, Activity())
        activity.add_event(record.event_name, record.time_unix_nano, record.attributes)

    # -- folding old requests into totals

    def unique_calls(self) -> Iterator[Call]:
        seen: set[int] = set()
        for call in self.calls.values():
            if id(call) not in seen:
                seen.add(id(call))
                yield call

    def forget(self, call: Call) -> None:
        """Drop a call from the live indexes (it was folded, or printed by --follow)."""
        for side in (call.client, call.server):
            if side is not None:
                self.calls.pop(side.span_id, None)
        if call.client is None and call.parent_id:
            self.awaiting_client.pop(call.parent_id, None)
        self.live -= 1

    def _counts(self, call: Call) -> bool:
        return not call.is_notification and self.filters.keeps_call(call)

    def _account(self, call: Call) -> None:
        """Count a request in its session's totals and in the summary."""
        keys = [session_key(side) for side in (call.client, call.server) if side is not None]
        for key in keys[1:]:
            self.groups.union(keys[0], key)
        totals = self.totals.get(keys[0])
        if totals is None:
            totals = self.totals[keys[0]] = SessionTotals()
            self.groups.find(keys[0])
        totals.add_call(call)
        self.summary.add_call(call)

    def _fold_oldest(self) -> None:
        """Fold the oldest requests beyond ``limit`` into the totals.

        A request still waiting for its other half stays in detail unless too many wait
        (the client's and the server's files are read one after the other): folded early,
        its totals use the half that was seen (the server's duration, say).
        """
        self._settle_orphans(final=False)
        calls = sorted(self.unique_calls(), key=lambda c: c.start_ns)
        excess = len(calls) - self.limit
        waiting = [c for c in calls if c.client is None or c.server is None]
        spare_waiting = max(0, len(waiting) - self.patience)
        for call in calls:
            if excess <= 0:
                break
            complete = call.client is not None and call.server is not None
            if not complete and call.join_id:
                if spare_waiting <= 0:
                    continue
                spare_waiting -= 1
            excess -= 1
            counted = self._counts(call)
            if counted:
                self._account(call)
            self.forget(call)
            if not complete and call.join_id:
                key = session_key(call.main)
                self.folded[_int(call.join_id)] = (key, counted, call.failed, call.tool)

    def _late_half(self, span: SpanRecord, folded: _Folded) -> None:
        key, counted, failed, tool = folded
        side = Side(span)
        if not counted:
            return
        self.groups.union(key, session_key(side))
        totals = self.totals.setdefault(session_key(side), SessionTotals())
        totals.add_side(side)
        activity = Activity()
        activity.add_span(span)
        self.summary.add_activity(activity)
        if not failed and (A_ERROR_TYPE in span.attributes or span.status_code == STATUS_ERROR):
            self.totals[key].errors += 1
            self.summary.add_late_error(str(span.attributes.get(A_METHOD)) == "tools/call", tool)

    # -- runtime events on spans below the MCP span

    def _settle_orphans(self, final: bool) -> None:
        for span_id, (service, activity) in list(self.orphans.items()):
            call = self.enclosing_call(span_id)
            if call is not None:
                call.activity.merge(activity)
            elif final or len(self.orphans) > MAX_ORPHANS:
                if not self.filters.narrows_calls:
                    self.outside.setdefault(service, Activity()).merge(activity)
            else:
                continue
            del self.orphans[span_id]

    def enclosing_call(self, span_id: str) -> Call | None:
        current = span_id
        for _depth in range(256):
            call = self.calls.get(current)
            if call is not None:
                return call
            parent = self.parent_of.get(_int(current))
            if parent is None:
                return None
            current = f"{parent:016x}"
        return None

    # -- model out

    def finish(self, spool: Path, stats: ReadStats) -> Model:
        self._settle_orphans(final=True)
        kept = sorted(
            (c for c in self.unique_calls() if self._counts(c)),
            key=lambda c: (c.start_ns, c.trace_id),
        )
        for call in kept:
            self._account(call)
        if self.limit:
            kept = kept[-self.limit :]
        merged: dict[str, SessionTotals] = {}
        for key, totals in self.totals.items():
            root = self.groups.find(key)
            if root in merged:
                merged[root].merge(totals)
            else:
                merged[root] = totals
        shown: dict[str, list[Call]] = {}
        for call in kept:
            shown.setdefault(self.groups.find(session_key(call.main)), []).append(call)
        sessions = [
            Session(
                key=root,
                session_ids=totals.session_ids,
                services=totals.services,
                clients=totals.clients,
                calls=shown.get(root, []),
                requests=totals.requests,
                errors=totals.errors,
                start_ns=totals.start_ns,
                end_ns=totals.end_ns,
                transport=totals.transport,
            )
            for root, totals in merged.items()
            if totals.requests
        ]
        sessions.sort(key=lambda s: (s.start_ns, s.key))
        outside = [Outside(service, a) for service, a in sorted(self.outside.items()) if a.total]
        for item in outside:
            self.summary.add_activity(item.activity)
        return Model(
            spool, sessions, outside, self.summary.build(), stats, self.spans_read, self.limit
        )


def _int(span_id: str) -> int:
    try:
        return int(span_id, 16)
    except ValueError:
        return hash(span_id)


DEFAULT_LIMIT = 1000


def build_model(
    spool: Path,
    filters: Filters | None = None,
    limit: int = DEFAULT_LIMIT,
    patience: int | None = None,
) -> Model:
    """Read the whole spool (streaming) into sessions → calls → activity.

    Only the ``limit`` most recent requests are kept in detail (0: all of them, and memory
    grows with the spool); totals and the summary always cover every request.
    """
    from mcptrace.view.records import iter_spans_mentioning

    aggregator = Aggregator(filters, limit, patience)
    stats = ReadStats()
    trace = aggregator.filters.trace
    with _cyclic_gc_paused():
        spans = iter_spans_mentioning(spool, trace, stats) if trace else iter_spans(spool, stats)
        for span in spans:
            aggregator.add_span(span)
        # log records add activity outside calls, and what a call's threads did after it ended
        for record in iter_logs(spool, stats):
            aggregator.add_log(record)
        return aggregator.finish(spool, stats)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Millions of small acyclic objects (parsed JSON, records) make the cyclic collector
    rescan the growing heap again and again: half the reading time, for no garbage."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
