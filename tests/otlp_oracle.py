"""The reference OTLP/JSON mapping for tests: the SDK's protobuf encoders, then protobuf's
own JSON mapping, with ids turned into hex as OTLP/JSON wants them.  mcptrace's spool must
write exactly this tree, without protobuf (``mcptrace.export.otlp_tree``)."""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def encode_request(signal: str, items: Any) -> Message:
    """The protobuf request the OTLP exporters would send for these SDK items."""
    encoder = {"traces": encode_spans, "logs": encode_logs, "metrics": encode_metrics}[signal]
    return encoder(items)  # type: ignore[no-any-return,operator]


def _hex_ids(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {
            key: base64.b64decode(value).hex() if key in _ID_KEYS else _hex_ids(value)
            for key, value in tree.items()
        }
    if isinstance(tree, list):
        return [_hex_ids(item) for item in tree]
    return tree


def reference_tree(signal: str, items: Any) -> dict[str, Any]:
    mapped = json_format.MessageToDict(encode_request(signal, items), use_integers_for_enums=True)
    return _hex_ids(mapped)  # type: ignore[no-any-return]
