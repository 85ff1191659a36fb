"""Log records as spool text, built from text instead of a tree.

``log_line(records)`` is exactly ``json.dumps(request_tree("logs", records))`` as the spool
writes it (compact, UTF-8 kept), byte for byte (tests/foundation/test_log_text.py holds the
two equal), without building the request's tree: each record is written field by field, and
a sensor record's attribute list (``SharedAttributes``) is written from the text its span
event's encoding left, or leaves it for the span event: encoded once for both signals.

Usage::

    for line in log_lines(records, max_bytes):
        spool.write(line)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from mcptrace.export import otlp_tree
from mcptrace.export.request_text import request_line
from mcptrace.export.shared import SharedAttributes

_quote = json.encoder.encode_basestring  # C; what json.dumps(text, ensure_ascii=False) writes


# json.dumps(value, separators=(",", ":"), ensure_ascii=False), without making an encoder
# per call (that costs more than encoding a record's few fields)
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _number(value: Any) -> str:
    return str(value) if type(value) is int else _compact(value)


def attributes_text(mapping: Mapping[str, Any] | None) -> str:
    """The compact JSON of ``otlp_tree.attributes(mapping)``; "" for an empty list.  Made
    once for a ``SharedAttributes`` (kept next to its encoded list)."""
    if not mapping:
        return ""
    if type(mapping) is SharedAttributes:
        holder = mapping.encoded
        text: str | None = holder[1]
        if text is None:
            if holder[0] is not None:  # its tree exists already (another encoder's)
                text = _compact(holder[0]) if holder[0] else ""
            else:
                text = _pairs_text(mapping)
            holder[1] = text
        return text
    encoded = otlp_tree.attributes(mapping)
    return _compact(encoded) if encoded else ""


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


# (key, value) -> its KeyValue text, for the short strings and the integers that repeat from
# record to record (an access, an attribution, an audit event, a thread id); a long string (a
# path) is nearly always new and is written each time.  Bounded: emptied when full.
_str_pairs: dict[tuple[str, str], str] = {}
_int_pairs: dict[tuple[str, int], str] = {}
_string_heads: dict[str, str] = {}  # key -> the text of its pair up to a string value
_PAIRS_KEPT = 1024
_SHORT = 32


def _pairs_text(mapping: Mapping[str, Any]) -> str:
    """``_compact(otlp_tree.attributes(mapping))`` without the tree: the common values
    (strings, booleans, 64-bit integers) written directly, any other through ``any_value``
    (a value it refuses is left out, as ``attributes`` leaves it)."""
    parts: list[str] = []
    for key, value in mapping.items():
        kind = type(value)
        if type(key) is str and (kind is str or kind is int):
            pairs: dict[Any, str] = _str_pairs if kind is str else _int_pairs
            text = pairs.get((key, value))
            if text is not None:
                parts.append(text)
                continue
            if kind is str:
                head = _string_heads.get(key)
                if head is None:
                    head = '{"key":' + _quote(key) + ',"value":{"stringValue":'
                    if len(_string_heads) >= _PAIRS_KEPT:
                        _string_heads.clear()
                    _string_heads[key] = head
                text = head + _quote(value) + "}}"
                if len(value) > _SHORT:
                    parts.append(text)
                    continue
            elif _INT64_MIN <= value <= _INT64_MAX:
                text = '{"key":' + _quote(key) + ',"value":{"intValue":"' + str(value) + '"}}'
            else:
                text = None
            if text is not None:
                if len(pairs) >= _PAIRS_KEPT:
                    pairs.clear()
                pairs[(key, value)] = text
                parts.append(text)
                continue
        if kind is str:
            shown = '{"stringValue":' + _quote(value) + "}"
        elif kind is bool:
            shown = '{"boolValue":true}' if value else '{"boolValue":false}'
        elif kind is int and _INT64_MIN <= value <= _INT64_MAX:
            shown = '{"intValue":"' + str(value) + '"}'
        else:
            try:
                shown = _compact(otlp_tree.any_value(value))
            except TypeError:
                continue
        name = _quote(key) if type(key) is str else _compact(key)
        parts.append('{"key":' + name + ',"value":' + shown + "}")
    return "[" + ",".join(parts) + "]" if parts else ""


def record_text(
    timestamp: int | None,
    severity_number: int | None,
    severity_text: str | None,
    body: Any,
    attributes: str,
    dropped_attributes: int,
    flags: int,
    trace_id: int,
    span_id: int,
    observed_timestamp: int | None,
    event_name: str | None,
) -> str:
    """One ``LogRecord`` as compact JSON text, its keys in ``otlp_tree._log``'s order;
    ``attributes`` is the text ``attributes_text`` gives for its attributes."""
    parts: list[str] = []
    if timestamp:
        parts.append('"timeUnixNano":' + _quote(str(timestamp)))
    if severity_number:
        parts.append('"severityNumber":' + _number(severity_number))
    if severity_text:
        parts.append('"severityText":' + _quote(severity_text))
    parts.append('"body":' + ("{}" if body is None else _compact(otlp_tree._body(body))))
    if attributes:
        parts.append('"attributes":' + attributes)
    if dropped_attributes:
        parts.append('"droppedAttributesCount":' + _number(dropped_attributes))
    if flags:
        parts.append(f'"flags":{flags}')
    if trace_id:
        parts.append(f'"traceId":"{trace_id:032x}"')
    if span_id:
        parts.append(f'"spanId":"{span_id:016x}"')
    if observed_timestamp:
        parts.append('"observedTimeUnixNano":' + _quote(str(observed_timestamp)))
    if event_name:
        parts.append('"eventName":' + _quote(event_name))
    return "{" + ",".join(parts) + "}"


_severity_texts: dict[tuple[int, str], str] = {}
_event_names: dict[str, str] = {}
_span_texts: dict[tuple[int, int, int], str] = {}  # (flags, trace id, span id) -> text


def sensor_record_text(
    timestamp: int,
    severity_number: int,
    severity_text: str,
    attributes: str,
    flags: int,
    trace_id: int,
    span_id: int,
    observed_timestamp: int,
    event_name: str,
) -> str:
    """``record_text`` for a record without body or dropped attributes (the sensor's): the
    same text, its parts that repeat from record to record (severity, the span's ids, the
    event name) written once and kept."""
    if not timestamp or not severity_number or not observed_timestamp or not event_name:
        return record_text(
            timestamp, severity_number, severity_text, None, attributes, 0, flags,
            trace_id, span_id, observed_timestamp, event_name,
        )  # fmt: skip
    severity = _severity_texts.get((severity_number, severity_text))
    if severity is None:
        severity = '"severityNumber":' + _number(severity_number)
        if severity_text:
            severity += ',"severityText":' + _quote(severity_text)
        severity += ',"body":{}'
        if len(_severity_texts) < 64:
            _severity_texts[(severity_number, severity_text)] = severity
    ids = (flags, trace_id, span_id)
    span_text = _span_texts.get(ids)
    if span_text is None:
        span_text = f',"flags":{flags}' if flags else ""
        if trace_id:
            span_text += f',"traceId":"{trace_id:032x}"'
        if span_id:
            span_text += f',"spanId":"{span_id:016x}"'
        if len(_span_texts) >= 256:
            _span_texts.clear()
        _span_texts[ids] = span_text
    name = _event_names.get(event_name)
    if name is None:
        name = ',"eventName":' + _quote(event_name) + "}"
        if len(_event_names) >= 256:
            _event_names.clear()
        _event_names[event_name] = name
    return (
        '{"timeUnixNano":"'
        + str(timestamp)
        + '",'
        + severity
        + (',"attributes":' + attributes if attributes else "")
        + span_text
        + ',"observedTimeUnixNano":"'
        + str(observed_timestamp)
        + '"'
        + name
    )


class EncodedLog:
    """A log record already written as its spool text, with what the request groups it by
    (export/direct_logs.py makes them for the sensor's records): what the batch processor in
    front of the spool queues instead of a ``ReadableLogRecord``."""

    __slots__ = ("instrumentation_scope", "resource", "text")

    def __init__(self, resource: Any, instrumentation_scope: Any, text: str) -> None:
        self.resource = resource
        self.instrumentation_scope = instrumentation_scope
        self.text = text


def _log_text(readable: Any) -> str:
    """``otlp_tree._log(readable)`` as compact JSON text, its keys in the same order."""
    if type(readable) is EncodedLog:
        return readable.text
    record = readable.log_record
    return record_text(
        record.timestamp,
        getattr(record.severity_number, "value", None),
        record.severity_text,
        record.body,
        attributes_text(record.attributes),
        readable.dropped_attributes,
        int(record.trace_flags),
        record.trace_id,
        record.span_id,
        record.observed_timestamp,
        record.event_name,
    )


def encoded(readable: Any) -> EncodedLog:
    """A ``ReadableLogRecord`` as its spool text, for the batch processor's queue."""
    return EncodedLog(readable.resource, readable.instrumentation_scope, _log_text(readable))


def log_line(records: Sequence[Any]) -> str:
    """The spool line of these log records ("" for none; export/request_text.py)."""
    return request_line("logs", records, _log_text)


def log_lines(records: Sequence[Any], max_bytes: int) -> Iterator[str]:
    """``log_line``, halving the batch until every line fits in ``max_bytes`` (one record
    larger than that is written whole, as ``otlp_json.tree_to_lines`` does)."""
    line = log_line(records)
    if not line:
        return
    if len(line) <= max_bytes or len(records) < 2:
        yield line
        return
    middle = len(records) // 2
    yield from log_lines(records[:middle], max_bytes)
    yield from log_lines(records[middle:], max_bytes)
