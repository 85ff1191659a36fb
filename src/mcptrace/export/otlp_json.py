"""OTLP/JSON lines: the encoding the Collector's file exporter writes and ``otlpjsonfile`` reads.

One ``Export*ServiceRequest`` per line, as ``otlp_tree`` builds it from the SDK's items:
protobuf's JSON mapping with the OTLP/JSON deviations from plain proto3 JSON (trace and
span ids are hex, not base64; enums are integers; 64-bit integers are strings).  Writing
needs no protobuf; reading a line back into a protobuf request (``decode_line``, for replay)
loads it.

Usage::

    for line in encode_lines("traces", spans, max_bytes=1 << 20):
        spool.write(line)
    request = decode_line("traces", line)  # protobuf message, e.g. for replay
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from mcptrace.config import Signal
from mcptrace.export import otlp_tree
from mcptrace.export.log_text import attributes_text
from mcptrace.export.otlp_tree import FIELDS, request_tree
from mcptrace.export.request_text import compact as _compact
from mcptrace.export.request_text import kept, request_line
from mcptrace.export.shared import SharedAttributes

if TYPE_CHECKING:
    from google.protobuf.message import Message

Placed = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]  # resource, scope, leaf


def _placed_leaves(signal: Signal, tree: dict[str, Any]) -> Iterator[Placed]:
    """Every span / log record / metric of a request, with its resource and scope."""
    top, scope_key, leaf_key = FIELDS[signal]
    for resource in tree.get(top, ()):
        for scope in resource.get(scope_key, ()):
            for leaf in scope.get(leaf_key, ()):
                yield resource, scope, leaf


# A request tree is built fresh from the SDK's items: no container can hold itself, so the
# encoder's check for cycles (a dict insert and delete per container) is skipped.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False).encode


def _dump(tree: dict[str, Any]) -> str:
    return _encode(tree) + "\n"


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_surrogate(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as os.fsdecode keeps it
        return f"\\\\x{code - 0xDC00:02x}"
    return f"\\\\u{code:04x}"


def utf8(line: str) -> bytes:
    """The line's UTF-8 bytes.  A lone surrogate (a file name that was not UTF-8, decoded
    with surrogateescape) cannot be encoded: it is written as the text ``\\xff`` (or
    ``\\udXXX``) instead of losing the whole line."""
    try:
        return line.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub(_escape_surrogate, line).encode("utf-8")


def _split(signal: Signal, tree: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Halve a request by its leaf items, keeping resource and scope; None if indivisible."""
    leaves = list(_placed_leaves(signal, tree))
    if len(leaves) < 2:
        return None
    middle = len(leaves) // 2
    return [_rebuild(signal, part) for part in (leaves[:middle], leaves[middle:])]


def _rebuild(signal: Signal, leaves: Sequence[Placed]) -> dict[str, Any]:
    top, scope_key, leaf_key = FIELDS[signal]
    resources: dict[int, dict[str, Any]] = {}
    scopes: dict[int, dict[str, Any]] = {}
    for resource, scope, leaf in leaves:
        new_resource = resources.get(id(resource))
        if new_resource is None:
            new_resource = {k: v for k, v in resource.items() if k != scope_key}
            new_resource[scope_key] = []
            resources[id(resource)] = new_resource
        new_scope = scopes.get(id(scope))
        if new_scope is None:
            new_scope = {k: v for k, v in scope.items() if k != leaf_key}
            new_scope[leaf_key] = []
            scopes[id(scope)] = new_scope
            new_resource[scope_key].append(new_scope)
        new_scope[leaf_key].append(leaf)
    return {top: list(resources.values())}


def tree_to_lines(signal: Signal, tree: dict[str, Any], max_bytes: int) -> Iterator[str]:
    """Serialize, splitting the batch until every line fits in ``max_bytes``.

    A single item larger than the limit is written whole: losing it would be worse than a
    long line (the shipped collector config raises ``max_log_size`` accordingly).
    """
    line = _dump(tree)
    if len(line) <= max_bytes or (halves := _split(signal, tree)) is None:
        yield line
        return
    for half in halves:
        yield from tree_to_lines(signal, half, max_bytes)


def encode_lines(signal: Signal, items: Any, max_bytes: int) -> Iterator[str]:
    if signal == "traces":
        if items:
            yield from span_lines(list(items), max_bytes)
        return
    tree = request_tree(signal, items)
    if not tree:
        return
    yield from tree_to_lines(signal, tree, max_bytes)


# -- spans as text -------------------------------------------------------------------------
# Every ended span is encoded once, and the spool is the only consumer of its text, so spans
# skip the tree: each part is written as the JSON text ``_dump(request_tree(...))`` would
# print for it, byte for byte (tests/foundation/test_otlp_tree.py holds the two equal).  A
# request's parts repeat from span to span (the resource, the scope, most attribute pairs:
# method, session, transport, versions), so their text is made once and kept.
_quote = json.encoder.encode_basestring  # json.dumps(text, ensure_ascii=False), in C
_pair_text: dict[tuple[str, str], str] = {}  # (key, text value) -> its KeyValue text
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_isfinite = math.isfinite
_float = float.__repr__  # what json writes for a finite float


def _span_attribute_items(span: Any) -> Any:
    # ReadableSpan.attributes is a MappingProxyType over the SDK's BoundedAttributes, a
    # MutableMapping whose items() walks the ABC's views (one __getitem__ per key); the plain
    # dict inside gives the same pairs in the same order.
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    if type(inner) is dict:
        return inner.items()
    return (span.attributes or {}).items()


def _attributes_text(items: Any, dropped: int) -> str:
    """``,"attributes":[...]`` (and the dropped count) as ``_put_attributes`` puts them."""
    parts: list[str] = []
    if items:
        for key, value in items:
            kind = type(value)
            if kind is str:
                text = _pair_text.get((key, value))
                if text is None:  # a request id, a path: often new, so no dict is built
                    text = f'{{"key":{_quote(key)},"value":{{"stringValue":{_quote(value)}}}}}'
                    kept(_pair_text, (key, value), text)
                parts.append(text)
                continue
            if type(key) is str:  # the other common values written directly too
                if kind is bool:
                    shown = '{"boolValue":true}}' if value else '{"boolValue":false}}'
                    parts.append('{"key":' + _quote(key) + ',"value":' + shown)
                    continue
                if kind is int and _INT64_MIN <= value <= _INT64_MAX:
                    parts.append(
                        '{"key":' + _quote(key) + ',"value":{"intValue":"' + str(value) + '"}}'
                    )
                    continue
                if kind is float and _isfinite(value):  # json's own text for a float
                    parts.append(
                        '{"key":' + _quote(key) + ',"value":{"doubleValue":' + _float(value) + "}}"
                    )
                    continue
            try:
                parts.append(_compact({"key": key, "value": otlp_tree.any_value(value)}))
            except TypeError:  # as attributes(): the SDK lets no such value through
                continue
    text = ',"attributes":[' + ",".join(parts) + "]" if parts else ""
    if dropped:
        text += f',"droppedAttributesCount":{dropped}'
    return text


def _event_text(event: Any) -> str:
    """``otlp_tree._event(event)`` as compact JSON text.  A sensor event's attribute list
    (``SharedAttributes``) is written from the text its log record's encoding left, or leaves
    it for the log record (export/log_text.py): made once for both signals."""
    attributes = event.attributes
    if type(attributes) is SharedAttributes:
        # a sensor record's or a detection's event (record/recorder.py, the SDK's ``Event``
        # around attributes that are no ``BoundedAttributes``: none dropped), its attribute
        # text kept for the log record
        timestamp, name = event.timestamp, event.name
        if timestamp and name:
            listed = attributes_text(attributes)
            return (
                '{"timeUnixNano":"'
                + str(timestamp)
                + '","name":'
                + _quote(name)
                + (',"attributes":' + listed + "}" if listed else "}")
            )
    head = f'"timeUnixNano":"{event.timestamp}"' if event.timestamp else ""
    if event.name:
        head += (',"name":' if head else '"name":') + _quote(event.name)
    dropped = event.dropped_attributes
    if type(attributes) is SharedAttributes:
        listed = attributes_text(attributes)
        text = ',"attributes":' + listed if listed else ""
        if dropped:
            text += f',"droppedAttributesCount":{dropped}'
    else:
        text = _attributes_text(attributes.items() if attributes else (), dropped)
    if not head:
        text = text[1:]
    return "{" + head + text + "}"


_sdk_span_types: tuple[type, ...] | None = None
_bounded: tuple[Any, Any] = (None, None)  # (BoundedAttributes, BoundedList) once loaded
_kind_text: dict[Any, str] = {}  # SpanKind -> ``,"kind":N`` (the enum's value is slow to read)
_status_code: dict[Any, int] = {}  # StatusCode -> its value


def _sdk_types() -> tuple[type, ...]:
    global _sdk_span_types
    if _sdk_span_types is None:
        global _bounded
        from opentelemetry.attributes import BoundedAttributes
        from opentelemetry.sdk import trace as sdk_trace
        from opentelemetry.sdk.util import BoundedList
        from opentelemetry.trace import SpanKind, StatusCode

        _bounded = (BoundedAttributes, BoundedList)

        _kind_text.update({kind: f',"kind":{kind.value + 1}' for kind in SpanKind})
        _status_code.update({code: code.value for code in StatusCode})
        _sdk_span_types = tuple(
            kind
            for kind in (sdk_trace.ReadableSpan, sdk_trace.Span, getattr(sdk_trace, "_Span", None))
            if isinstance(kind, type)
        )
    return _sdk_span_types


def _span_fields(span: Any) -> tuple[Any, ...]:
    """(context, parent, name, kind, start, end, events, links, status, dropped attributes,
    events, links) as the span's properties give them; read from the SDK's own fields when
    the span is exactly one of its classes, whose properties only return these (a dozen
    property calls and two copies per span otherwise)."""
    if type(span) in (_sdk_span_types or _sdk_types()):
        held, events, links = span._attributes, span._events, span._links
        bounded_attributes, bounded_list = _bounded
        return (
            span._context,
            span._parent,
            span._name,
            span._kind,
            span._start_time,
            span._end_time,
            events,
            links,
            span._status,
            held.dropped if isinstance(held, bounded_attributes) else 0,
            events.dropped if isinstance(events, bounded_list) else 0,
            links.dropped if isinstance(links, bounded_list) else 0,
        )
    return (
        span.get_span_context(),
        span.parent,
        span.name,
        span.kind,
        span.start_time,
        span.end_time,
        span.events,
        span.links,
        span.status,
        span.dropped_attributes,
        span.dropped_events,
        span.dropped_links,
    )


def _span_text(span: Any) -> str:
    """``otlp_tree._span(span)`` as compact JSON text, its keys in the same order."""
    (
        context,
        parent,
        name,
        kind,
        start_time,
        end_time,
        events,
        links,
        status,
        dropped_attributes,
        dropped_events,
        dropped_links,
    ) = _span_fields(span)
    text = f'{{"traceId":"{context.trace_id:032x}","spanId":"{context.span_id:016x}"'
    trace_state = context.trace_state
    if trace_state:
        text += ',"traceState":' + _quote(",".join(f"{k}={v}" for k, v in trace_state.items()))
    if parent is not None:
        text += f',"parentSpanId":"{parent.span_id:016x}"'
    if name:
        text += ',"name":' + _quote(name)
    text += _kind_text.get(kind) or f',"kind":{kind.value + 1}'
    if start_time:
        text += f',"startTimeUnixNano":"{start_time}"'
    if end_time:
        text += f',"endTimeUnixNano":"{end_time}"'
    text += _attributes_text(_span_attribute_items(span), dropped_attributes)
    if events:
        text += ',"events":[' + ",".join([_event_text(event) for event in events]) + "]"
    tail: otlp_tree.Tree = {}
    if dropped_events:
        tail["droppedEventsCount"] = dropped_events
    if links:
        tail["links"] = [otlp_tree._link(link) for link in links]
    if dropped_links:
        tail["droppedLinksCount"] = dropped_links
    if tail:  # rare on the request path: the tree's own text, its braces dropped
        text += "," + _compact(tail)[1:-1]
    status_code = status.status_code
    code = _status_code.get(status_code)
    if code is None:
        code = status_code.value
    if code or status.description:
        status_tree: otlp_tree.Tree = {}
        if code:
            status_tree["code"] = code
        if status.description:
            status_tree["message"] = status.description
        text += ',"status":' + _compact(status_tree)
    else:
        text += ',"status":{}'
    return text + f',"flags":{otlp_tree._span_flags(parent)}}}'


class EncodedSpan:
    """A finished span as its spool text, with what the request groups it by: what a batch
    processor in front of the spool queues instead of the span (``spill.py``).  A queued
    span is a graph of a dozen objects that lives until its batch is written (long enough
    to be promoted by the cyclic GC, and to be most of a server's memory); this is one
    object and one string, and the span itself dies young."""

    __slots__ = ("context", "instrumentation_scope", "resource", "text")

    def __init__(self, span: Any) -> None:
        if type(span) in (_sdk_span_types or _sdk_types()):  # as in _span_fields
            self.context = span._context
            self.resource = span._resource
            self.instrumentation_scope = span._instrumentation_scope
        else:
            self.context = span.context
            self.resource = span.resource
            self.instrumentation_scope = span.instrumentation_scope
        self.text = _span_text(span)


def _member_text(member: Any) -> str:
    return member.text if type(member) is EncodedSpan else _span_text(member)


def span_line(spans: Sequence[Any]) -> str:
    """The spool line of these spans: ``_dump(request_tree("traces", spans))``, built from
    text instead of a tree (export/request_text.py)."""
    return request_line("traces", spans, _member_text)


def span_lines(spans: Sequence[Any], max_bytes: int) -> Iterator[str]:
    """``span_line``, halving the batch until every line fits in ``max_bytes`` (a single
    span larger than that is written whole, as ``tree_to_lines`` does)."""
    line = span_line(spans)
    if not line:
        return
    if len(line) <= max_bytes or len(spans) < 2:
        yield line
        return
    middle = len(spans) // 2
    yield from span_lines(spans[:middle], max_bytes)
    yield from span_lines(spans[middle:], max_bytes)


def _request_type(signal: Signal) -> type[Message]:
    if signal == "traces":
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        return ExportTraceServiceRequest
    if signal == "logs":
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
            ExportLogsServiceRequest,
        )

        return ExportLogsServiceRequest
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    return ExportMetricsServiceRequest


def decode_line(signal: Signal, line: str | bytes) -> Message:
    """Parse one spool line back into its protobuf request (hex ids accepted).

    Raises ValueError when the line is not JSON or not that signal's export request."""
    try:
        tree = json.loads(line)
        if not isinstance(tree, dict):
            raise ValueError(f"not an OTLP/JSON {signal} export request")
        return tree_to_message(signal, tree)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def tree_to_message(signal: Signal, tree: dict[str, Any]) -> Message:
    """The protobuf request for an OTLP/JSON tree, built in one constructor call from plain
    data converted field by field by the descriptor (several times faster than
    ``json_format.ParseDict``, which is what keeps the write-ahead path as cheap as the SDK's
    own encoder).  Unknown fields are ignored, as the OTLP/JSON rules ask."""
    message_type = _request_type(signal)
    top = FIELDS[signal][0]
    if not isinstance(tree.get(top), list) or not tree[top]:
        raise ValueError(f"not an OTLP/JSON {signal} export request (no {top})")
    try:
        return message_type(**_fields(message_type.DESCRIPTOR, tree))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ValueError(f"not an OTLP/JSON {signal} export request ({exc})") from None


_HEX_ID_FIELDS = frozenset({"trace_id", "span_id", "parent_span_id"})
_Plan = dict[str, tuple[str, Any, bool]]
_plans: dict[Any, _Plan] = {}


def _plan(descriptor: Any) -> _Plan:
    """json name (and proto name) -> (field name, converter or message descriptor, repeated)."""
    plan = _plans.get(descriptor)
    if plan is not None:
        return plan
    from google.protobuf.descriptor import FieldDescriptor as Field

    plan = {}
    for field in descriptor.fields:
        kind: Any
        if field.type == Field.TYPE_MESSAGE:
            kind = field.message_type
        elif field.type == Field.TYPE_ENUM:
            kind = _enum_converter(field.enum_type)
        elif field.type in (Field.TYPE_DOUBLE, Field.TYPE_FLOAT):
            kind = float  # also "NaN", "Infinity", "-Infinity"
        elif field.type == Field.TYPE_BYTES:
            kind = bytes.fromhex if field.name in _HEX_ID_FIELDS else base64.b64decode
        elif field.type in (Field.TYPE_STRING, Field.TYPE_BOOL):
            kind = None
        else:  # every integer type; 64-bit ones arrive as strings
            kind = int
        repeated = _is_repeated(field)
        plan[field.json_name] = plan[field.name] = (field.name, kind, repeated)
    _plans[descriptor] = plan
    return plan


def _is_repeated(field: Any) -> bool:
    if hasattr(field, "is_repeated"):  # protobuf >= 5.28; ``label`` is gone in 7
        return bool(field.is_repeated)
    return bool(field.label == field.LABEL_REPEATED)


def _enum_converter(enum_type: Any) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, str) and not value.lstrip("-").isdigit():
            return int(enum_type.values_by_name[value].number)
        return int(value)

    return convert


def _fields(descriptor: Any, tree: dict[str, Any]) -> dict[str, Any]:
    plan = _plan(descriptor)
    out: dict[str, Any] = {}
    for key, value in tree.items():
        entry = plan.get(key)
        if entry is None or value is None:
            continue
        name, kind, repeated = entry
        if kind is None:
            out[name] = value
        elif callable(kind):
            out[name] = [kind(item) for item in value] if repeated else kind(value)
        elif repeated:
            out[name] = [_fields(kind, item) for item in value]
        else:
            out[name] = _fields(kind, value)
    return out


def count_items(signal: Signal, tree: dict[str, Any]) -> int:
    """Number of spans / log records / metrics in a decoded line."""
    return sum(1 for _ in _placed_leaves(signal, tree))
