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
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from mcptrace.config import Signal
from mcptrace.export.otlp_tree import FIELDS, request_tree

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
    tree = request_tree(signal, items)
    if not tree:
        return
    yield from tree_to_lines(signal, tree, max_bytes)


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
    tree = json.loads(line)
    if not isinstance(tree, dict):
        raise ValueError(f"not an OTLP/JSON {signal} export request")
    return tree_to_message(signal, tree)


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
