"""OTLP/JSON lines: the encoding the Collector's file exporter writes and ``otlpjsonfile`` reads.

One ``Export*ServiceRequest`` per line, produced by the opentelemetry-proto encoders and
protobuf's JSON mapping, with the OTLP/JSON deviations from plain proto3 JSON applied:
trace and span ids are hex (not base64), enums are integers, 64-bit integers are strings.

Usage::

    for line in encode_lines("traces", spans, max_bytes=1 << 20):
        spool.write(line)
    request = decode_line("traces", line)  # protobuf message, e.g. for replay
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValueList
from opentelemetry.sdk.metrics.export import MetricsData

from mcptrace.config import Signal

_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})
REQUEST_TYPES: dict[str, type[Message]] = {
    "traces": ExportTraceServiceRequest,
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
}
# The top-level repeated field of each request, used to split oversized batches.
_TOP_FIELD = {"traces": "resourceSpans", "logs": "resourceLogs", "metrics": "resourceMetrics"}
_LEAF_FIELD = {"traces": "spans", "logs": "logRecords", "metrics": "metrics"}
_SCOPE_FIELD = {"traces": "scopeSpans", "logs": "scopeLogs", "metrics": "scopeMetrics"}


def _convert(item: dict[str, Any], convert: Callable[[str], str]) -> None:
    for key in _ID_KEYS:
        value = item.get(key)
        if isinstance(value, str):
            item[key] = convert(value)


def _leaves(signal: Signal, tree: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for resource in tree.get(_TOP_FIELD[signal], ()):
        for scope in resource.get(_SCOPE_FIELD[signal], ()):
            yield from scope.get(_LEAF_FIELD[signal], ())


def _ids(signal: Signal, tree: dict[str, Any], convert: Callable[[str], str]) -> dict[str, Any]:
    """Rewrite the id fields in place, visiting only where OTLP has ids (the rest of the
    tree, mostly attributes, is never walked): spans and their links, log records, and
    the exemplars of metric data points."""
    for leaf in _leaves(signal, tree):
        if signal == "metrics":
            for data in leaf.values():
                if isinstance(data, dict):
                    for point in data.get("dataPoints", ()):
                        for exemplar in point.get("exemplars", ()):
                            _convert(exemplar, convert)
            continue
        _convert(leaf, convert)
        for link in leaf.get("links", ()):
            _convert(link, convert)
    return tree


def _b64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()


def _hex_to_b64(value: str) -> str:
    return base64.b64encode(bytes.fromhex(value)).decode("ascii")


class _KeyValueJson:
    """protobuf's JSON mapping of attribute KeyValue messages, memoized by their wire bytes.

    Most attributes of MCP spans and sensor records repeat from item to item (method,
    transport, session, attribution, ...), and the JSON mapping walks two messages per
    attribute in Python.  KeyValues not seen before are mapped in one ``MessageToDict`` call
    per request (gathered into a ``KeyValueList``: a nested message maps exactly as it does
    alone); later identical KeyValues reuse that result.  Bounded: the memo starts over past
    ``LIMIT`` entries (≈0.6 MiB; values that never repeat, such as request ids or module
    hashes, only cycle through it, and the repeating ones are back after one batch).
    """

    LIMIT = 1024

    def __init__(self) -> None:
        self.memo: dict[bytes, dict[str, Any]] = {}

    def take(self, groups: list[Any]) -> list[list[dict[str, Any]] | None]:
        """The JSON of every KeyValue of each repeated field in ``groups`` (None for an empty
        one); the fields are emptied."""
        memo = self.memo
        taken: list[list[dict[str, Any]] | None] = []
        misses = KeyValueList()
        miss_index: dict[bytes, int] = {}
        holes: list[tuple[list[Any], int, int]] = []  # (list, position, index in misses)
        for attributes in groups:
            if not attributes:
                taken.append(None)
                continue
            out: list[Any] = []
            for key_value in attributes:
                wire = key_value.SerializeToString()
                mapped = memo.get(wire)
                if mapped is None:
                    index = miss_index.get(wire)
                    if index is None:
                        index = miss_index[wire] = len(miss_index)
                        misses.values.append(key_value)  # a copy
                    holes.append((out, len(out), index))
                out.append(mapped)
            del attributes[:]
            taken.append(out)
        if holes:
            tree = json_format.MessageToDict(misses, use_integers_for_enums=True)
            mapped_misses: list[dict[str, Any]] = tree.get("values", [])
            for out, position, index in holes:
                out[position] = mapped_misses[index]
            if len(memo) + len(miss_index) > self.LIMIT:
                memo.clear()
            for wire, index in miss_index.items():
                if len(memo) >= self.LIMIT:
                    break
                memo[wire] = mapped_misses[index]
        return taken


_KEY_VALUES = _KeyValueJson()


def _lift_attributes(signal: Signal, message: Any) -> list[list[dict[str, Any]] | None]:
    """Take the attributes of spans (and their events and links) or log records out of the
    request, already mapped to JSON, in the order ``_splice_attributes`` puts them back."""
    groups: list[Any] = []
    if signal == "traces":
        for resource in message.resource_spans:
            for scope in resource.scope_spans:
                for span in scope.spans:
                    groups.append(span.attributes)
                    groups.extend(event.attributes for event in span.events)
                    groups.extend(link.attributes for link in span.links)
    else:
        for resource in message.resource_logs:
            for scope in resource.scope_logs:
                groups.extend(record.attributes for record in scope.log_records)
    return _KEY_VALUES.take(groups)


def _splice_attributes(
    signal: Signal, tree: dict[str, Any], lifted: list[list[dict[str, Any]] | None]
) -> None:
    slots: list[dict[str, Any]] = []
    for leaf in _leaves(signal, tree):
        slots.append(leaf)
        if signal == "traces":
            slots.extend(leaf.get("events", ()))
            slots.extend(leaf.get("links", ()))
    if len(slots) != len(lifted):  # cannot happen: the tree mirrors the message
        raise ValueError("attribute splice out of step with the request")
    for slot, attributes in zip(slots, lifted, strict=True):
        if attributes is not None:
            slot["attributes"] = attributes


def message_to_json(signal: Signal, message: Message) -> dict[str, Any]:
    """protobuf's JSON mapping of a request, ids in hex.  Consumes a traces or logs
    request: their item attributes are moved out (memoized mapping) and spliced back."""
    if signal == "metrics":
        tree = json_format.MessageToDict(message, use_integers_for_enums=True)
        return _ids(signal, tree, _b64_to_hex)
    lifted = _lift_attributes(signal, message)
    tree = json_format.MessageToDict(message, use_integers_for_enums=True)
    _splice_attributes(signal, tree, lifted)
    return _ids(signal, tree, _b64_to_hex)


def encode_request(signal: Signal, items: Any) -> Message:
    if signal == "traces":
        return encode_spans(items)
    if signal == "logs":
        return encode_logs(items)
    return encode_metrics(items)


def _dump(tree: dict[str, Any]) -> str:
    return json.dumps(tree, separators=(",", ":"), ensure_ascii=False) + "\n"


def _split(signal: Signal, tree: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Halve a request by its leaf items, keeping resource and scope; None if indivisible."""
    leaves: list[tuple[dict[str, Any], dict[str, Any], Any]] = []
    for resource in tree.get(_TOP_FIELD[signal], []):
        for scope in resource.get(_SCOPE_FIELD[signal], []):
            leaves.extend((resource, scope, leaf) for leaf in scope.get(_LEAF_FIELD[signal], []))
    if len(leaves) < 2:
        return None
    middle = len(leaves) // 2
    return [_rebuild(signal, part) for part in (leaves[:middle], leaves[middle:])]


def _rebuild(
    signal: Signal, leaves: Sequence[tuple[dict[str, Any], dict[str, Any], Any]]
) -> dict[str, Any]:
    resources: dict[int, dict[str, Any]] = {}
    scopes: dict[int, dict[str, Any]] = {}
    for resource, scope, leaf in leaves:
        new_resource = resources.get(id(resource))
        if new_resource is None:
            new_resource = {k: v for k, v in resource.items() if k != _SCOPE_FIELD[signal]}
            new_resource[_SCOPE_FIELD[signal]] = []
            resources[id(resource)] = new_resource
        new_scope = scopes.get(id(scope))
        if new_scope is None:
            new_scope = {k: v for k, v in scope.items() if k != _LEAF_FIELD[signal]}
            new_scope[_LEAF_FIELD[signal]] = []
            scopes[id(scope)] = new_scope
            new_resource[_SCOPE_FIELD[signal]].append(new_scope)
        new_scope[_LEAF_FIELD[signal]].append(leaf)
    return {_TOP_FIELD[signal]: list(resources.values())}


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
    if signal == "metrics" and isinstance(items, MetricsData) and not items.resource_metrics:
        return
    tree = message_to_json(signal, encode_request(signal, items))
    if not tree:
        return
    yield from tree_to_lines(signal, tree, max_bytes)


def decode_line(signal: Signal, line: str | bytes) -> Message:
    """Parse one spool line back into its protobuf request (hex ids accepted)."""
    tree = _ids(signal, json.loads(line), _hex_to_b64)
    message = REQUEST_TYPES[signal]()
    json_format.ParseDict(tree, message, ignore_unknown_fields=True)
    return message


def count_items(signal: Signal, tree: dict[str, Any]) -> int:
    """Number of spans / log records / metric data points in a decoded line."""
    total = 0
    for resource in tree.get(_TOP_FIELD[signal], []):
        for scope in resource.get(_SCOPE_FIELD[signal], []):
            total += len(scope.get(_LEAF_FIELD[signal], []))
    return total
