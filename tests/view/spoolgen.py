"""Deterministic spools for the view tests, written by the real OTel SDK and mcptrace's spool
exporters (so the OTLP/JSON is exactly what a running server writes).

Ids come from a counting id generator and every timestamp is passed explicitly, so the
spool - and anything rendered from it - is the same on every run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanKind, Status, StatusCode

from mcptrace.export.otlp_json import encode_lines
from mcptrace.export.spool import SpoolLogExporter, SpoolSpanExporter

BASE_NS = 1_768_471_200_000_000_000  # 2026-01-15T10:00:00Z
MS = 1_000_000
CLIENT_SESSION = "c0ffee00-0000-4000-8000-000000000001"
SERVER_SESSION = "5e55e000-0000-4000-8000-000000000002"
LONE_SESSION = "5e55e000-0000-4000-8000-000000000003"


class CountingIds(IdGenerator):
    """Ids ``TT00000N...``: a tag byte, then a counter in the leading digits (so the short
    ids that ``view`` prints differ), then a fixed tail. Stable and readable in snapshots."""

    def __init__(self, tag: int) -> None:
        self.tag = tag
        self.traces = 0
        self.spans = 0

    def generate_trace_id(self) -> int:
        self.traces += 1
        return (self.tag << 120) | (self.traces << 96) | 0x7ACE

    def generate_span_id(self) -> int:
        self.spans += 1
        return (self.tag << 56) | (self.spans << 32) | 0x5BA9


@dataclass
class Event:
    name: str
    offset_ms: float
    attributes: dict[str, Any]


@dataclass
class Request:
    method: str
    target: str | None
    start_ms: float
    client_ms: float | None  # None: no client span (an uninstrumented client)
    server_ms: float
    events: list[Event] = field(default_factory=list)
    error: tuple[str, str] | None = None  # (error.type, message)
    counts: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    child_events: list[Event] = field(default_factory=list)  # on an internal child span
    server_session: str = SERVER_SESSION
    request_id: int = 0


def _ev(name: str, offset_ms: float, **attributes: Any) -> Event:
    attributes.setdefault("mcptrace.attribution", "context")
    return Event(name, offset_ms, {k.replace("__", "."): v for k, v in attributes.items()})


def recorded_requests() -> list[Request]:
    """One client/server session with every event category, and one server-only session."""
    return [
        Request("initialize", None, 0, 120, 2),
        Request("notifications/initialized", None, 121, 0.2, 0.1),
        Request("tools/list", None, 130, 8, 1),
        Request(
            "tools/call",
            "read_file",
            200,
            25,
            18,
            events=[
                _ev(
                    "mcptrace.file.open",
                    3,
                    file__path="/srv/data/notes.txt",
                    mcptrace__file__access="read",
                ),
                _ev(
                    "mcptrace.module.import",
                    5,
                    mcptrace__module__name="json",
                    mcptrace__module__verification="unrecorded",
                ),
                _ev(
                    "mcptrace.file.open",
                    9,
                    file__path="/srv/data/notes.txt",
                    mcptrace__file__access="read",
                ),
            ],
        ),
        Request(
            "tools/call",
            "fetch_url",
            300,
            140,
            131,
            events=[
                _ev("mcptrace.network.resolve", 2, server__address="example.org"),
                _ev(
                    "mcptrace.network.connect",
                    10,
                    server__address="example.org",
                    server__port=443,
                    network__transport="tcp",
                    network__type="ipv4",
                ),
                _ev(
                    "mcptrace.module.import",
                    12,
                    mcptrace__module__name="requests",
                    file__path="/venv/lib/requests/__init__.py",
                    mcptrace__module__verification="mismatch",
                ),
                _ev(
                    "mcptrace.network.connect",
                    70,
                    server__address="example.org",
                    server__port=443,
                    network__transport="tcp",
                    network__type="ipv4",
                ),
            ],
            child_events=[
                _ev(
                    "mcptrace.network.connect",
                    100,
                    server__address="api.internal",
                    server__port=8443,
                    network__transport="tcp",
                ),
            ],
        ),
        Request(
            "tools/call",
            "run_script",
            500,
            60,
            52,
            events=[
                _ev(
                    "mcptrace.process.spawn",
                    4,
                    process__executable__path="/bin/sh",
                    process__command_args=["/bin/sh", "-c", "ls -l /tmp"],
                ),
                _ev(
                    "mcptrace.policy.violation",
                    4.5,
                    mcptrace__policy__rule="no-subprocess",
                    mcptrace__policy__action="observed",
                    process__executable__path="/bin/sh",
                ),
                _ev(
                    "mcptrace.code.exec",
                    20,
                    mcptrace__code__operation="exec",
                    mcptrace__code__filename="<string>",
                ),
                _ev(
                    "mcptrace.code.deserialize",
                    25,
                    mcptrace__deserialize__format="pickle",
                    mcptrace__deserialize__global="builtins.dict",
                ),
                _ev("mcptrace.native.load", 30, file__path="/usr/lib/libfoo.so"),
                _ev("mcptrace.sensor.tamper", 40, mcptrace__audit__event="sys.addaudithook"),
            ],
            error=("tool_error", ""),
        ),
        Request(
            "tools/call",
            "write_report",
            700,
            45,
            40,
            events=[
                _ev(
                    "mcptrace.file.open",
                    5,
                    file__path="/srv/out/report.md",
                    mcptrace__file__access="write",
                ),
                _ev(
                    "mcptrace.file.open",
                    6,
                    file__path="/srv/out/tmp.json",
                    mcptrace__file__access="create",
                ),
                _ev("mcptrace.file.delete", 30, file__path="/srv/out/tmp.json"),
            ],
            counts={"file": 250},
            dropped=247,
        ),
        Request("resources/read", None, 800, 6, 2, error=("-32602", "Unknown resource: x://y")),
        Request(
            "tools/call",
            "read_file",
            5_000,
            None,
            3,
            events=[
                _ev(
                    "mcptrace.policy.violation",
                    1,
                    mcptrace__policy__rule="project-root-only",
                    mcptrace__policy__action="blocked",
                    file__path="/etc/shadow",
                ),
            ],
            error=("PermissionError", "blocked by policy project-root-only"),
            server_session=LONE_SESSION,
        ),
    ]


def _request_attributes(request: Request, session: str, index: int) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "mcp.method.name": request.method,
        "mcp.session.id": session,
        "mcp.protocol.version": "2025-06-18",
        "network.transport": "pipe",
    }
    if not request.method.startswith("notifications/"):
        attributes["jsonrpc.request.id"] = str(request.request_id or index)
    if request.method == "tools/call":
        attributes["gen_ai.tool.name"] = request.target
        attributes["gen_ai.operation.name"] = "execute_tool"
    if request.method == "resources/read":
        attributes["mcp.resource.uri"] = "x://y"
    if request.error:
        attributes["error.type"] = request.error[0]
    return attributes


def _name(request: Request) -> str:
    return f"{request.method} {request.target}" if request.target else request.method


def _finish(span: Any, request: Request, end_ns: int) -> None:
    if request.error:
        span.set_status(Status(StatusCode.ERROR, request.error[1] or None))
    span.end(end_time=end_ns)


class RecordingSpool:
    """Two processes' worth of providers (client and server) writing one spool directory."""

    def __init__(self, spool: Path, base_ns: int = BASE_NS) -> None:
        self.spool = spool
        self.base_ns = base_ns
        self.client = self._provider("agent", CountingIds(0xC1))
        self.server = self._provider("files-server", CountingIds(0x5E))
        self.logs = LoggerProvider(resource=Resource.create({"service.name": "files-server"}))
        self.logs.add_log_record_processor(SimpleLogRecordProcessor(SpoolLogExporter(spool)))
        self.logger = self.logs.get_logger("mcptrace.sensor")

    def _provider(self, service: str, ids: IdGenerator) -> TracerProvider:
        provider = TracerProvider(
            resource=Resource.create({"service.name": service}), id_generator=ids
        )
        provider.add_span_processor(SimpleSpanProcessor(SpoolSpanExporter(self.spool)))
        return provider

    def ns(self, ms: float) -> int:
        return self.base_ns + int(ms * MS)

    def write(self, requests: Sequence[Request]) -> None:
        client_tracer = self.client.get_tracer("mcptrace.mcp")
        server_tracer = self.server.get_tracer("mcptrace.mcp")
        for index, request in enumerate(requests, start=1):
            start = self.ns(request.start_ms)
            parent_context = None
            client_span = None
            if request.client_ms is not None:
                client_span = client_tracer.start_span(
                    _name(request),
                    kind=SpanKind.CLIENT,
                    attributes=_request_attributes(request, CLIENT_SESSION, index),
                    start_time=start,
                )
                parent_context = trace.set_span_in_context(client_span)
            server_start = start + MS // 2
            server_span = server_tracer.start_span(
                _name(request),
                context=parent_context,
                kind=SpanKind.SERVER,
                attributes=_request_attributes(request, request.server_session, index),
                start_time=server_start,
            )
            for event in request.events:
                server_span.add_event(
                    event.name, event.attributes, timestamp=server_start + int(event.offset_ms * MS)
                )
                self.log_event(event, server_start + int(event.offset_ms * MS), server_span)
            if request.child_events:
                child = server_tracer.start_span(
                    "GET",
                    context=trace.set_span_in_context(server_span),
                    kind=SpanKind.CLIENT,
                    start_time=server_start + MS,
                )
                for event in request.child_events:
                    child.add_event(
                        event.name,
                        event.attributes,
                        timestamp=server_start + int(event.offset_ms * MS),
                    )
                child.end(end_time=server_start + 2 * MS)
            for category, count in request.counts.items():
                server_span.set_attribute(f"mcptrace.events.{category}.count", count)
            if request.dropped:
                server_span.set_attribute("mcptrace.events.dropped", request.dropped)
            _finish(server_span, request, server_start + int(request.server_ms * MS))
            if client_span is not None and request.client_ms is not None:
                _finish(client_span, request, start + int(request.client_ms * MS))

    def log_event(self, event: Event, time_ns: int, span: Any | None) -> None:
        """The sensor's log record twin of a span event (or an event outside any span)."""
        context = Context()
        if span is not None:
            context = trace.set_span_in_context(NonRecordingSpan(span.get_span_context()))
        self.logger.emit(
            timestamp=time_ns,
            observed_timestamp=time_ns,
            context=context,
            severity_number=SeverityNumber.INFO,
            severity_text="INFO",
            body=event.name,
            attributes=event.attributes,
            event_name=event.name,
        )

    def close(self) -> None:
        self.client.shutdown()
        self.server.shutdown()
        self.logs.shutdown()


def write_recorded_spool(spool: Path) -> Path:
    """The spool the snapshot tests render."""
    recording = RecordingSpool(spool)
    recording.write(recorded_requests())
    # start-up imports and a tamper attempt outside any request: log records only
    for offset, event in enumerate(
        [
            _ev(
                "mcptrace.module.import",
                0,
                mcptrace__module__name="yaml",
                mcptrace__module__verification="verified",
                mcptrace__attribution="none",
            ),
            _ev(
                "mcptrace.module.import",
                0,
                mcptrace__module__name="plugins.evil",
                mcptrace__module__verification="mismatch",
                mcptrace__attribution="none",
            ),
        ]
    ):
        recording.log_event(event, recording.ns(-1000 + offset), None)
    recording.close()
    return spool


class _Collect(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def trace_lines(requests: Sequence[Request], base_ns: int = BASE_NS) -> list[str]:
    """OTLP/JSON lines (one per request's spans) as the spool exporter would write them."""
    collector = _Collect()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "files-server"}),
        id_generator=CountingIds(0xF0),
    )
    provider.add_span_processor(SimpleSpanProcessor(collector))
    tracer = provider.get_tracer("mcptrace.mcp")
    for index, request in enumerate(requests, start=1):
        start = base_ns + int(request.start_ms * MS)
        span = tracer.start_span(
            _name(request),
            kind=SpanKind.SERVER,
            attributes=_request_attributes(request, request.server_session, index),
            start_time=start,
        )
        for event in request.events:
            span.add_event(
                event.name, event.attributes, timestamp=start + int(event.offset_ms * MS)
            )
        _finish(span, request, start + int(request.server_ms * MS))
    provider.shutdown()
    return [line for span in collector.spans for line in encode_lines("traces", [span], 1 << 20)]


def large_requests(count: int) -> Iterator[Request]:
    """``count`` tool calls over a handful of tools, each with a few runtime events."""
    tools = ("read_file", "fetch_url", "run_script", "search", "write_report")
    for index in range(count):
        tool = tools[index % len(tools)]
        yield Request(
            "tools/call",
            tool,
            index * 3.0,
            2.0,
            1.5,
            events=[
                _ev(
                    "mcptrace.file.open",
                    0.2,
                    file__path=f"/data/{index % 997}.txt",
                    mcptrace__file__access="read",
                ),
                _ev(
                    "mcptrace.network.connect",
                    0.5,
                    server__address=f"h{index % 50}.example",
                    server__port=443,
                    network__transport="tcp",
                ),
                _ev(
                    "mcptrace.module.import",
                    0.7,
                    mcptrace__module__name=f"m{index % 300}",
                    mcptrace__module__verification="verified",
                ),
            ],
            error=("tool_error", "") if index % 20 == 0 else None,
            request_id=index + 1,
        )


def _write_pairs(spool: Path, calls: int) -> None:
    """``calls`` client+server pairs through the SDK and the spool exporters, in one batch."""
    client_spans = _Collect()
    server_spans = _Collect()
    client = TracerProvider(
        resource=Resource.create({"service.name": "agent"}), id_generator=CountingIds(0xC1)
    )
    client.add_span_processor(SimpleSpanProcessor(client_spans))
    server = TracerProvider(
        resource=Resource.create({"service.name": "files-server"}), id_generator=CountingIds(0x5E)
    )
    server.add_span_processor(SimpleSpanProcessor(server_spans))
    client_tracer = client.get_tracer("mcptrace.mcp")
    server_tracer = server.get_tracer("mcptrace.mcp")
    for index, request in enumerate(large_requests(calls), start=1):
        start = BASE_NS + int(request.start_ms * MS)
        client_span = client_tracer.start_span(
            _name(request),
            kind=SpanKind.CLIENT,
            attributes=_request_attributes(request, CLIENT_SESSION, index),
            start_time=start,
        )
        server_span = server_tracer.start_span(
            _name(request),
            context=trace.set_span_in_context(client_span),
            kind=SpanKind.SERVER,
            attributes=_request_attributes(request, SERVER_SESSION, index),
            start_time=start + MS // 4,
        )
        for event in request.events:
            server_span.add_event(
                event.name, event.attributes, timestamp=start + int(event.offset_ms * MS)
            )
        _finish(server_span, request, start + int(request.server_ms * MS))
        _finish(client_span, request, start + int(request.client_ms or 0) * MS)
    for name, spans in (("client", client_spans.spans), ("server", server_spans.spans)):
        SpoolSpanExporter(spool / name).export(spans)


def _shift_id(value: str, by: int) -> str:
    # CountingIds: tag (2 hex digits), counter (6), fixed tail
    return f"{value[:2]}{int(value[2:8], 16) + by:06x}{value[8:]}"


def _shifted(tree: dict[str, Any], calls: int, step_ns: int) -> dict[str, Any]:
    for resource_spans in tree["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = _shift_id(span[key], calls)
                for key in ("startTimeUnixNano", "endTimeUnixNano"):
                    span[key] = str(int(span[key]) + step_ns)
                for event in span.get("events", []):
                    event["timeUnixNano"] = str(int(event["timeUnixNano"]) + step_ns)
                for attribute in span["attributes"]:
                    if attribute["key"] == "jsonrpc.request.id":
                        value = attribute["value"]
                        value["stringValue"] = str(int(value["stringValue"]) + calls)
    return tree


def write_large_spool(spool: Path, calls: int, batch: int = 500) -> None:
    """``calls`` client+server pairs (2 × calls spans), written ``batch`` spans a side at a time.

    The first batch goes through the SDK and the spool exporter; the others are copies of
    its lines with ids, timestamps and request ids shifted exactly as the id generator and
    the clock would have advanced them (the SDK's encoder is too slow to run 10^5 times in
    a test, and the format stays the exporter's own).
    """
    assert calls % batch == 0
    seed = spool.parent / f"{spool.name}-seed"
    _write_pairs(seed, batch)
    spool.mkdir(parents=True, exist_ok=True)
    for side in ("client", "server"):
        (seed_file,) = (seed / side).glob("traces-*.jsonl")
        # the exporter writes a batch as a few request lines (it encodes in chunks)
        lines = seed_file.read_text(encoding="utf-8").splitlines()
        target = spool / f"traces-20260115T100000-{1 if side == 'client' else 2}-0001.jsonl"
        with target.open("w", encoding="utf-8") as out:
            for copy in range(calls // batch):
                for line in lines:
                    tree = json.loads(line)
                    if copy:
                        tree = _shifted(tree, copy * batch, int(copy * batch * 3.0 * MS))
                    out.write(json.dumps(tree, separators=(",", ":")) + "\n")
