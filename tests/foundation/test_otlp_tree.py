"""The spool's protobuf-free OTLP/JSON encoder against protobuf's own mapping, field by field.

Every kind of value the SDK lets through (each attribute type, empty and default values,
NaN and infinities, 64-bit integers, nested log bodies), every optional part of a span
(remote parents and trace state, events, links, each status and kind, dropped counts),
log records in and out of spans, and each metric data type (sum, gauge, histogram with
exemplars, exponential histogram, delta and cumulative) must encode to exactly the tree
the OTLP exporters' encoders and ``MessageToDict`` produce.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from mcptrace.export.otlp_json import _dump, decode_line, encode_lines, span_line, utf8
from mcptrace.export.otlp_tree import request_tree
from mcptrace.export.spool import MAX_LINE_BYTES, SpoolSpanExporter
from otlp_oracle import encode_request, reference_tree
from support import PYTHON

SCALARS: dict[str, Any] = {
    "s": "text", "empty": "", "unicode": "ü/€/𝄞", "yes": True, "no": False,
    "zero": 0, "negative": -7, "int64.max": 2**63 - 1, "int64.min": -(2**63),
    "double": 1.5, "double.zero": 0.0, "integral": 2.0, "nan": math.nan,
    "inf": math.inf, "-inf": -math.inf,
}  # fmt: skip
ARRAYS: dict[str, Any] = {
    "strings": ["a", "", "b"], "ints": [1, 0, -1], "doubles": [0.5, math.inf],
    "bools": [True, False], "none.empty": [],
}  # fmt: skip
RESOURCE = Resource({"service.name": "tree-test", "n": 3, "tags": ("x", "y")}, "https://s/1")
OTHER_RESOURCE = Resource({"service.name": "other"})


def assert_same(signal: str, items: Any) -> None:
    assert request_tree(signal, items) == reference_tree(signal, items)
    for line in encode_lines(signal, items, MAX_LINE_BYTES):
        assert decode_line(signal, line) == encode_request(signal, items)


def spans() -> list[Any]:
    memory = InMemorySpanExporter()
    limits = SpanLimits(max_span_attributes=40, max_events=2, max_links=1,
                        max_event_attributes=2)  # fmt: skip
    providers = [TracerProvider(resource=RESOURCE, span_limits=limits),
                 TracerProvider(resource=OTHER_RESOURCE)]  # fmt: skip
    for provider in providers:
        provider.add_span_processor(SimpleSpanProcessor(memory))
    scoped = providers[0].get_tracer("scoped", "1.2.3", "https://schema/2", {"scope.attr": 1})
    bare = providers[0].get_tracer("bare")
    other = providers[1].get_tracer("other")
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1),
                         trace_state=TraceState([("vendor", "v1"), ("k", "2")]))  # fmt: skip
    parent = trace.set_span_in_context(NonRecordingSpan(remote))
    with scoped.start_as_current_span("root", kind=SpanKind.SERVER) as root:
        root.set_attributes({**SCALARS, **ARRAYS})
        root.add_event("no-attributes")
        root.add_event("many", {"a": 1, "b": "2", "c": 3.0}, timestamp=1234)
        root.add_event("dropped")  # over max_events
        root.set_status(Status(StatusCode.ERROR, "went wrong"))
        links = [Link(remote, {"link.n": 1}), Link(root.get_span_context())]
        with bare.start_as_current_span("child", kind=SpanKind.CLIENT, links=links) as child:
            child.set_status(Status(StatusCode.OK))
        for kind in (SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.INTERNAL):
            bare.start_span(f"kind-{kind.name}", kind=kind).end()
    with scoped.start_as_current_span("remote child", context=parent):
        pass
    other.start_span("").end()  # no name, another resource
    with bare.start_as_current_span("many attributes") as span:
        span.set_attributes({f"k{n}": n for n in range(50)})  # over max_span_attributes
    return list(memory.get_finished_spans())


def test_spans_encode_as_protobuf_maps_them() -> None:
    items = spans()
    assert_same("traces", items)
    tree = request_tree("traces", items)
    assert len(tree["resourceSpans"]) == 2  # grouped by resource, then scope
    (root,) = [s for r in tree["resourceSpans"] for sc in r["scopeSpans"] for s in sc["spans"]
               if s.get("name") == "root"]  # fmt: skip
    values = {a["key"]: a["value"] for a in root["attributes"]}
    assert values["nan"] == {"doubleValue": "NaN"}
    assert values["-inf"] == {"doubleValue": "-Infinity"}
    assert values["int64.min"] == {"intValue": str(-(2**63))}
    assert values["none.empty"] == {"arrayValue": {}}
    assert json.loads(json.dumps(tree)) == tree  # plain JSON: no NaN literal, no bytes


def test_spans_of_each_batch_shape() -> None:
    items = spans()
    for batch in ([], items[:1], items[::-1], items + items):
        assert_same("traces", batch)


def test_span_lines_are_the_trees_text_byte_for_byte() -> None:
    """Spans are written as text, not through the tree: the same bytes, for every shape,
    also when a resource, scope or attribute pair is met again (their text is kept)."""
    items = spans()
    for batch in (items[:1], items[::-1], items + items, items, items[2:3] * 3):
        assert span_line(batch) == _dump(request_tree("traces", batch))
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": 'ü\udce9"q\\'}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t\n", schema_url="s\u2028")
    for n in range(3000):  # past the kept texts' bound
        with tracer.start_as_current_span(f"call {n} \u0001") as span:
            span.set_attributes({"same": "v\"", "n": str(n), "flag": n % 2 == 0, "i": n,
                                 "\ud800key": "\udcff", "t": ("a", "b")})  # fmt: skip
        with tracer.start_as_current_span("numbers") as span:  # each written directly
            span.set_attributes({"f": [1e16, 1e-7, -0.0, 0.1 + 0.2, 2.0**70, -1.5e-300][n % 6],
                                 "i": [2**63, -(2**63) - 1, 0, -1][n % 4], "b": n % 3 == 0,
                                 "nan": math.nan, "inf": -math.inf})  # fmt: skip
    batch = memory.get_finished_spans()
    assert span_line(batch) == _dump(request_tree("traces", batch))
    assert span_line(batch[::7]) == _dump(request_tree("traces", batch[::7]))


class _OwnReadableSpan(ReadableSpan):
    """Not one of the SDK's own span classes: its text is read through the properties."""


def _copy(span: Any, kind: type[ReadableSpan] = ReadableSpan) -> ReadableSpan:
    """A finished span copied as the enricher and the redaction copy one (a plain dict of
    attributes, tuples of events and links: nothing bounded, so nothing dropped)."""
    return kind(
        name=span.name, context=span.context, parent=span.parent, resource=span.resource,
        attributes=dict(span.attributes), events=span.events, links=span.links,
        kind=span.kind, status=span.status, start_time=span.start_time,
        end_time=span.end_time, instrumentation_scope=span.instrumentation_scope,
    )  # fmt: skip


def test_span_text_reads_the_sdks_fields_as_its_properties_give_them() -> None:
    """The SDK's own spans are written from their fields (its live spans, the copies
    enrichment and redaction make); any other span class through its properties: the same
    bytes either way, dropped counts, events, links and status included."""
    items = spans()
    assert {type(span) for span in items} == {ReadableSpan}  # what processors are handed
    assert any(span.dropped_events for span in items) and any(s.dropped_links for s in items)
    assert any(span.dropped_attributes for span in items)
    for batch in (
        items,
        [_copy(span) for span in items],
        [_copy(s, _OwnReadableSpan) for s in items],
    ):
        assert span_line(batch) == _dump(request_tree("traces", batch))
    for span in items:  # a subclass's overriding property is what is written
        renamed = type("Renamed", (_OwnReadableSpan,), {"name": property(lambda _: "other")})
        copy = _copy(span, renamed)
        assert '"name":"other"' in span_line([copy])
        assert span_line([copy]) == _dump(request_tree("traces", [copy]))


def test_spans_queued_before_the_spool_are_text_and_die_young(tmp_path: Path) -> None:
    """In front of the spool a span is encoded as it ends: the queue holds its text, the
    span is freed by its reference count (no cyclic collection needed), and the line
    written is the one the span itself would give."""
    import gc
    import weakref

    from mcptrace.export.otlp_json import EncodedSpan
    from mcptrace.export.spill import SpillingBatchSpanProcessor

    exporter = SpoolSpanExporter(tmp_path)
    processor = SpillingBatchSpanProcessor(exporter, schedule_delay_millis=60_000)
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(processor)
    expected = spans()  # every shape, ended by other providers
    gone: list[weakref.ref[Any]] = []
    gc.disable()
    try:
        for span in expected:
            processor.on_end(span)
        with provider.get_tracer("t").start_as_current_span("live") as live:
            live.set_attribute("k", "v")
            gone.append(weakref.ref(live))
        del live
        assert all(ref() is None for ref in gone)
    finally:
        gc.enable()
    queued = list(processor._batch_processor._queue)
    assert queued and all(type(item) is EncodedSpan for item in queued)
    provider.force_flush()
    (path,) = tmp_path.glob("traces-*.jsonl")
    lines = path.read_text().splitlines(keepends=True)
    written = [s for line in lines for s in _all_spans(json.loads(line))]
    by_id = {span["spanId"]: span for span in written}
    assert len(by_id) == len(expected) + 1
    for span in _all_spans(request_tree("traces", expected)):
        assert by_id[span["spanId"]] == span
    provider.shutdown()


def _all_spans(tree: dict[str, Any]) -> list[Any]:
    return [s for r in tree["resourceSpans"] for sc in r["scopeSpans"] for s in sc["spans"]]


def test_an_oversized_batch_of_encoded_spans_is_split() -> None:
    from mcptrace.export.otlp_json import EncodedSpan

    items = spans()
    mixed = [EncodedSpan(s) if n % 2 else s for n, s in enumerate(items)]
    (whole,) = encode_lines("traces", mixed, MAX_LINE_BYTES)
    assert whole == _dump(request_tree("traces", items))
    lines = list(encode_lines("traces", mixed, 2000))
    assert len(lines) > 2 and all(len(line) <= 2000 or _count(line) == 1 for line in lines)
    assert sorted(s["spanId"] for line in lines for s in _all_spans(json.loads(line))) == sorted(
        s["spanId"] for s in _all_spans(request_tree("traces", items))
    )


def _count(line: str) -> int:
    return len(_all_spans(json.loads(line)))


def logs() -> list[Any]:
    memory = InMemoryLogRecordExporter()
    limits = LogRecordLimits(max_attributes=30)
    provider = LoggerProvider(resource=RESOURCE, log_record_limits=limits)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("log-scope", "0.1", "https://schema/3", {"scope.attr": "s"})
    bare = provider.get_logger("bare")
    nested = {"k": {"nested": [True, b"x"]}, "n": None}
    bodies: list[Any] = [None, "text", "", 0, 2**40, -1.25, math.nan, True, b"\x00\xff",
                         ["a", 1, [2.5, None]], nested]  # fmt: skip
    for index, body in enumerate(bodies):
        logger.emit(body=body, attributes={**SCALARS, "index": index})
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("inside"):
        bare.emit(body="in a span", severity_number=SeverityNumber.WARN, severity_text="WARN",
                  event_name="mcptrace.module.import", timestamp=5, observed_timestamp=6,
                  attributes={"map": {"a": 1, "b": [1, 2]}, **ARRAYS})  # fmt: skip
    bare.emit(body="many", attributes={f"k{n}": n for n in range(40)})  # over max_attributes
    provider.force_flush()
    return list(memory.get_finished_logs())


@pytest.mark.filterwarnings("ignore:Log record attributes were dropped")
def test_log_records_encode_as_protobuf_maps_them() -> None:
    items = logs()
    assert_same("logs", items)
    for batch in (items[:1], items[::-1]):
        assert_same("logs", batch)


def metrics() -> list[Any]:
    delta = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}
    readers = [InMemoryMetricReader(), InMemoryMetricReader(preferred_temporality=delta)]
    view = View(instrument_name="exp.*", aggregation=ExponentialBucketHistogramAggregation())
    views = [view, View(instrument_name="*")]
    provider = MeterProvider(metric_readers=readers, resource=RESOURCE, views=views)
    meter = provider.get_meter("meter", "2.0", schema_url="https://schema/4")
    counter = meter.create_counter("requests", "1", "requests served")
    floats = meter.create_up_down_counter("level")
    histogram = meter.create_histogram("latency", "s")
    exponential = meter.create_histogram("exp.sizes", "By")
    gauge = meter.create_gauge("temperature")
    meter.create_observable_gauge("observed", [lambda options: []])
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("sampled"):  # exemplars carry this span's ids
        for value in (1, 5, 0):
            counter.add(value, {"route": "a"})
            histogram.record(value * 0.25, {"route": "a"})
            exponential.record(value * 3.5)
        counter.add(2, {"route": "b", "ok": True})
        floats.add(-2.5)
        gauge.set(21.5, {"room": "x"})
        gauge.set(3)
    return [reader.get_metrics_data() for reader in readers]


def test_metrics_encode_as_protobuf_maps_them() -> None:
    for data in metrics():
        assert data is not None
        assert_same("metrics", data)
        tree = request_tree("metrics", data)
        data_types = {"sum", "gauge", "histogram", "exponentialHistogram"}
        (scope,) = tree["resourceMetrics"][0]["scopeMetrics"]
        assert {key for metric in scope["metrics"] for key in metric} >= data_types


def test_a_log_body_of_no_otlp_type_is_kept_as_its_repr() -> None:
    """The SDK passes any body through; protobuf's encoder would fail the whole batch on
    one it cannot encode, the spool keeps the record with the body's repr."""
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    provider.get_logger("odd").emit(body=complex(1, 2), attributes={"kept": True})
    tree = request_tree("logs", memory.get_finished_logs())
    (record,) = tree["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    assert record["body"] == {"stringValue": "(1+2j)"}
    assert record["attributes"] == [{"key": "kept", "value": {"boolValue": True}}]


def test_a_non_utf8_file_name_is_kept_as_escaped_text(tmp_path: Path) -> None:
    """A path decoded with surrogateescape cannot be UTF-8 encoded: protobuf's encoder drops
    the attribute; the spool keeps it, the undecodable byte written as ``\\xff``."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("open") as span:
        span.set_attribute("file.path", "/tmp/caf\udce9")
        span.set_attribute("big", 2**64)  # outside int64: kept as text, not dropped
    exporter = SpoolSpanExporter(tmp_path)
    assert exporter.export(memory.get_finished_spans()).name == "SUCCESS"
    (path,) = tmp_path.glob("traces-*.jsonl")
    (span_tree,) = json.loads(path.read_bytes())["resourceSpans"][0]["scopeSpans"][0]["spans"]
    values = {a["key"]: a["value"] for a in span_tree["attributes"]}
    assert values["file.path"] == {"stringValue": "/tmp/caf\\xe9"}
    assert values["big"] == {"stringValue": str(2**64)}
    decode_line("traces", path.read_bytes())  # and replay can read it


def test_writing_the_spool_loads_no_protobuf(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from pathlib import Path\n"
        "from mcptrace.export.spool import SpoolSpanExporter\n"
        f"exporter = SpoolSpanExporter(Path({str(tmp_path)!r}))\n"
        "provider = TracerProvider()\n"
        "provider.add_span_processor(SimpleSpanProcessor(exporter))\n"
        "provider.get_tracer('t').start_span('s').end()\n"
        "print(sorted(m for m in sys.modules if m.startswith(('google', 'opentelemetry.proto'))))\n"
    )
    result = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert len(list(tmp_path.glob("traces-*.jsonl"))) == 1


def test_sensor_events_with_shared_attribute_text_print_as_the_tree_does() -> None:
    """A sensor record's span event (attributes in a ``SharedAttributes``) is written by its
    own short path, with the repeated pairs' text kept: the same bytes as the tree, and
    protobuf's mapping, for odd strings, every integer range, empty attributes, and past the
    kept pairs' bound."""
    from opentelemetry.sdk.trace import Event, ReadableSpan

    from mcptrace.export.shared import SharedAttributes

    odd = ['q"uote', "ctl\x00\x1f", "ü/€/𝄞", "\udcff-byte", "", "x" * 40]
    events = []
    for n in range(2600):
        attributes = SharedAttributes(
            {"file.path": f"/srv/{odd[n % len(odd)]}/{n}", "mcptrace.file.access": odd[n % 6],
             "thread.id": n % 3000 if n % 5 else 2**63 + n, "neg": -n, "ok": n % 2 == 0,
             "mcptrace.audit.event": "open", "args": ("a", odd[n % 6]), f"k{n % 1500}": n}
        )  # fmt: skip
        events.append(Event(f"mcptrace.file.open{odd[n % 6]}", attributes, 1_000 + n))
    events.append(Event("empty", SharedAttributes(), 5))
    events.append(Event("no time", SharedAttributes({"a": "b"}), 0))
    context = SpanContext(7, 8, False, TraceFlags(1))
    span = ReadableSpan(name="tools/call x", context=context, resource=RESOURCE, events=events,
                        start_time=1, end_time=3000)  # fmt: skip
    assert span_line([span]) == _dump(request_tree("traces", [span]))
    assert span_line([span]) == span_line([span])  # again, from the kept texts
    # protobuf's mapping: the events protobuf can hold (no lone surrogate, int64 values)
    plain = [e for n, e in enumerate(events[:2600]) if n % 6 != 3 and n % 5][:300]
    span = ReadableSpan(name="p", context=context, resource=RESOURCE, events=plain,
                        start_time=1, end_time=3000)  # fmt: skip
    assert decode_line("traces", span_line([span])) == encode_request("traces", [span])


HOSTILE_TEXT = [
    "\x00\x01\x1b[31m\x7f",  # control characters, an escape sequence
    'quote " backslash \\ slash /',
    "\u2028line\u2029separators",
    "lone \udc80 surrogate \ud800 pair-less",  # a non-UTF-8 file name, surrogateescape'd
    "𝄞 non-BMP \U000e0041 tag",
    "x" * 300_000,  # a huge value
    "",
]


def _hostile_spans() -> list[Any]:
    """Spans whose every text field is hostile: name, attribute keys and values, event
    names and attributes, link attributes, status description, trace state."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("hostile")
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1),
                         trace_state=TraceState([("vendor", "v1")]))  # fmt: skip
    for text in HOSTILE_TEXT:
        attributes = {"value": text, text or "empty-key": 1, "list": [text, "b"]}
        with tracer.start_as_current_span(text, links=[Link(remote, {"l": text})]) as span:
            span.set_attributes(attributes)
            span.add_event(text, {"e": text})
            span.set_status(Status(StatusCode.ERROR, text))
    return list(memory.get_finished_spans())


def test_hostile_text_in_every_span_field_is_written_as_the_tree_and_the_properties_give_it() -> (
    None
):
    """The fields read directly (the SDK's classes) and through the properties (any other
    class) give the same bytes as the tree for hostile text; each line is JSON whose
    strings are the span's (a lone surrogate written as its escape, never a lost line)."""
    items = _hostile_spans()
    own = [_copy(span, _OwnReadableSpan) for span in items]
    for span, other in zip(items, own, strict=True):
        line = span_line([span])
        assert line == span_line([other]) == _dump(request_tree("traces", [span]))
        written = json.loads(utf8(line))
        (encoded,) = written["resourceSpans"][0]["scopeSpans"][0]["spans"]
        if "\ud800" not in span.name and "\udc80" not in span.name:
            assert encoded.get("name", "") == span.name
            assert encoded["status"].get("message", "") == (span.status.description or "")
