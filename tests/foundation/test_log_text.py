"""The spool's log text (export/log_text.py) is byte for byte what the tree encoder writes.

The tree encoder is held equal to protobuf's own mapping in test_otlp_tree.py; the text path
must print exactly the tree's compact JSON, for every record shape that test builds, for
sensor records whose attribute text is shared with their span event, for odd strings (quotes,
control characters, lone surrogates of a non-UTF-8 file name), and when a batch is split.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context
from test_otlp_tree import logs

from mcptrace.export.direct_logs import DirectLogger
from mcptrace.export.log_text import attributes_text, log_line, log_lines
from mcptrace.export.otlp_json import decode_line
from mcptrace.export.otlp_tree import attributes, request_tree
from mcptrace.export.shared import SharedAttributes
from mcptrace.export.spool import SpoolLogExporter
from otlp_oracle import encode_request


def dumped(records: Any) -> str:
    tree = request_tree("logs", records)
    return json.dumps(tree, separators=(",", ":"), ensure_ascii=False) + "\n" if tree else ""


ODD = ['q"uote', "back\\slash", "ctl\x00\x1f\x7f", "tab\tnew\nline", "ü/€/𝄞", "\udcff-byte", ""]


def sensor_records() -> list[Any]:
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(
        resource=Resource({"service.name": "text", "odd": ODD[0]}, "https://s/r"),
        shutdown_on_exit=False,
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    direct = DirectLogger.of(provider.get_logger("mcptrace.sensor", "1.0", "https://s/x"))
    assert direct is not None
    context = set_span_in_context(NonRecordingSpan(SpanContext(5, 6, False, TraceFlags(1))))
    for index, odd in enumerate(ODD):
        built = SharedAttributes(
            {"file.path": f"/srv/{odd}", "thread.id": index, "ok": True, "args": ("a", odd)}
        )
        attributes(built)  # its span event was encoded first: the log reuses that list
        direct.emit(
            timestamp=index,  # 0: no time field
            observed_timestamp=1_000 + index,
            context=context if index % 2 else Context(),  # in a span, or in none
            severity_number=SeverityNumber.WARN,
            severity_text="WARN" if index else "",
            attributes=built.shared_copy(),
            event_name=f"mcptrace.file.open{odd}",
        )
    return list(memory.get_finished_logs())


@pytest.mark.filterwarnings("ignore:Log record attributes were dropped")
def test_every_record_shape_prints_as_the_tree_does() -> None:
    items = logs()
    for batch in ([], items[:1], items, items[::-1], items + items):
        line = log_line(batch)
        assert line == dumped(batch)
        if batch:
            assert decode_line("logs", line) == encode_request("logs", batch)


def test_sensor_records_with_shared_attribute_text() -> None:
    items = sensor_records()
    assert log_line(items) == dumped(items)
    shared = items[3].log_record.attributes
    assert type(shared) is SharedAttributes
    assert attributes_text(shared) is attributes_text(shared)  # made once, then kept
    assert json.loads(attributes_text(shared)) == attributes(dict(shared))


@pytest.mark.filterwarnings("ignore:Log record attributes were dropped")
def test_a_batch_over_the_line_limit_is_split_into_whole_records() -> None:
    items = logs() + sensor_records()
    limit = max(len(log_line([item])) for item in items) + 1
    lines = list(log_lines(items, limit))
    assert len(lines) > 1
    assert all(len(line) <= limit for line in lines)
    decoded = [r for line in lines for r in json.loads(line)["resourceLogs"]]
    expected = json.loads(log_line(items))["resourceLogs"]
    as_records = lambda trees: [  # noqa: E731
        record for tree in trees for scope in tree["scopeLogs"] for record in scope["logRecords"]
    ]
    assert as_records(decoded) == as_records(expected)
    assert list(log_lines(items[:1], 10)) == [log_line(items[:1])]  # one record: whole


def test_the_spool_writes_the_text(tmp_path: Path) -> None:
    items = sensor_records()
    exporter = SpoolLogExporter(tmp_path, 1 << 20)
    exporter.export(items)
    exporter.shutdown()
    (written,) = tmp_path.glob("logs-*.jsonl")
    text = written.read_bytes().decode("utf-8")
    assert text == dumped(items).replace("\udcff", "\\\\xff")  # a lone surrogate kept as text


def test_a_sensor_span_event_and_its_log_record_share_one_attribute_text() -> None:
    from opentelemetry.sdk.trace import Event, TracerProvider

    from mcptrace.export.enrich import Additions, apply
    from mcptrace.export.otlp_json import _dump, span_line

    records = sensor_records()
    provider = TracerProvider(resource=Resource({"service.name": "text"}), shutdown_on_exit=False)
    span = provider.get_tracer("t").start_span("tools/call x")
    span.add_event("sdk.event", {"n": 1})  # the SDK's own kind of event, next to ours
    span.end()
    events = []
    for index, record in enumerate(records):
        shared = record.log_record.attributes
        assert type(shared) is SharedAttributes
        events.append(Event(str(record.log_record.event_name), shared, index or None))
    events.append(Event("", None, 7))  # neither name nor attributes
    ended = apply(span, Additions(events=events))  # type: ignore[arg-type]
    first = attributes_text(records[1].log_record.attributes)
    line = span_line([ended])
    assert line == _dump(request_tree("traces", [ended]))
    assert attributes_text(records[1].log_record.attributes) is first  # not made again
    assert first in line and log_line(records).count(first) == 1


def test_attribute_text_without_the_tree_is_the_trees_text() -> None:
    from test_otlp_tree import ARRAYS, SCALARS

    odd: dict[str, Any] = {f"odd{n}": text for n, text in enumerate(ODD)}
    extra: dict[str, Any] = {
        "big": 2**64, "small": -(2**64), "bytes": b"\x00\xff", "map": {"a": [1, None]},
        "tuple": ("x", "y"), "none": None, "object": object(), "sub": type("S", (str,), {})("s"),
    }  # fmt: skip
    for values in (SCALARS, ARRAYS, odd, extra, {**SCALARS, **ARRAYS, **odd, **extra}, {}):
        shared = SharedAttributes(values)
        tree = attributes(dict(values))
        assert attributes_text(shared) == (
            json.dumps(tree, separators=(",", ":"), ensure_ascii=False) if tree else ""
        )


def test_the_sensor_records_short_path_writes_record_texts_bytes() -> None:
    """``sensor_record_text`` keeps the parts that repeat (severity, the span's ids, the
    event name): each record is still exactly ``record_text``'s, whichever parts are empty
    or zero, and past the kept parts' bounds."""
    from mcptrace.export.log_text import record_text, sensor_record_text

    shapes = 0
    for n in range(3000):
        args = (
            [0, 1, 1_700_000_000_000_000_000 + n][n % 3],
            [0, 9, 13, 17][n % 4],
            ["", "INFO", "WARN", 'q"'][n % 4 if n % 7 else 0],
            ["", '[{"key":"a","value":{"stringValue":"b"}}]'][n % 2],
            [0, 1][n % 5 == 0],
            [0, 0xABC, 2**128 - 1 - n][n % 3],
            [0, 0xDEF + n % 400][n % 2 or n % 9 == 0],
            [0, 1_700_000_000_000_000_001 + n][n % 11 != 0],
            ["", "mcptrace.file.open", f"mcptrace.{ODD[n % len(ODD)]}{n % 300}"][n % 3],
        )
        expected = record_text(*args[:3], None, args[3], 0, *args[4:])
        assert sensor_record_text(*args) == expected, args  # type: ignore[arg-type]
        shapes += 1
    assert shapes == 3000


def test_whether_shared_attributes_are_clean_is_said_once_and_forgotten_on_change() -> None:
    """The text path takes a record only when the SDK would keep every pair as it is; for a
    record's ``SharedAttributes`` that is worked out once, and again after any change (a
    copy's change never makes the original look unclean, nor the reverse)."""
    from mcptrace.export.direct_logs import _clean

    shared = SharedAttributes({"file.path": "/srv/a", "thread.id": 3, "args": ("a", "b")})
    copy = shared.shared_copy()
    assert _clean(shared) and _clean(copy)
    copy["odd"] = object()  # type: ignore[assignment]
    assert not _clean(copy)
    assert _clean(shared)
    shared["list"] = ["a", 1]  # type: ignore[assignment]  # mixed: the SDK would drop it
    assert not _clean(shared)
    del shared["list"]
    assert _clean(shared)
    assert not _clean(SharedAttributes({"": "empty key"}))
