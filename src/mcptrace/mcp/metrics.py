"""The four MCP duration histograms (seconds), derived from MCP spans as they end.

Usage::

    register_sink(operation_metrics_sink())      # every MCP CLIENT/SERVER span -> one point
    record_session(SERVER, seconds, attributes)  # called by sessions.py when a session ends

Deriving operation durations from the spans keeps one source of truth for both mcp majors
(mcptrace's 1.x spans, mcp 2.x's own, fastmcp's) and costs one histogram point per span.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import metrics
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import (
    SpanContext,
    SpanKind,
    get_current_span,
)

from mcptrace.export.histograms import ApiHistogram, PlainHistogram
from mcptrace.export.lazy_metrics import LazyMeterProvider
from mcptrace.mcp.semconv import SCOPE_VERSION
from mcptrace.record.vocabulary import (
    ERROR_TYPE,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROMPT_NAME,
    GEN_AI_TOOL_NAME,
    JSONRPC_PROTOCOL_VERSION,
    MCP_CLIENT_OPERATION_DURATION,
    MCP_CLIENT_SESSION_DURATION,
    MCP_METHOD_NAME,
    MCP_PROTOCOL_VERSION,
    MCP_RESOURCE_URI,
    MCP_SERVER_OPERATION_DURATION,
    MCP_SERVER_SESSION_DURATION,
    MCP_SPAN_SCOPES,
    MCPTRACE_CLIENT_NAME,
    MCPTRACE_CLIENT_VERSION,
    MCPTRACE_SCOPE,
    NETWORK_PROTOCOL_NAME,
    NETWORK_PROTOCOL_VERSION,
    NETWORK_TRANSPORT,
    RPC_RESPONSE_STATUS_CODE,
    SERVER_ADDRESS,
    SERVER_PORT,
)

# Semconv's advisory buckets for MCP durations.
BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# The convention's operation-metric attributes (mcp.resource.uri only on opt-in, and never
# mcp.session.id: cardinality); each side adds its own peer.
OPERATION_ATTRIBUTES = (
    MCP_METHOD_NAME,
    GEN_AI_TOOL_NAME,
    GEN_AI_PROMPT_NAME,
    ERROR_TYPE,
    RPC_RESPONSE_STATUS_CODE,
    GEN_AI_OPERATION_NAME,
    JSONRPC_PROTOCOL_VERSION,
    MCP_PROTOCOL_VERSION,
    NETWORK_PROTOCOL_NAME,
    NETWORK_PROTOCOL_VERSION,
    NETWORK_TRANSPORT,
)
CLIENT_OPERATION_ATTRIBUTES = (*OPERATION_ATTRIBUTES, SERVER_ADDRESS, SERVER_PORT)
# who called, per client (the principal stays on spans: one series per user is too many)
SERVER_OPERATION_ATTRIBUTES = (*OPERATION_ATTRIBUTES, MCPTRACE_CLIENT_NAME, MCPTRACE_CLIENT_VERSION)
SESSION_ATTRIBUTES = (
    ERROR_TYPE,
    JSONRPC_PROTOCOL_VERSION,
    MCP_PROTOCOL_VERSION,
    NETWORK_PROTOCOL_NAME,
    NETWORK_PROTOCOL_VERSION,
    NETWORK_TRANSPORT,
)
CLIENT_SESSION_ATTRIBUTES = (*SESSION_ATTRIBUTES, SERVER_ADDRESS, SERVER_PORT)


class _Histograms:
    """Created on first use so the meter comes from the provider activation installed.

    Under mcptrace's own provider each is a ``PlainHistogram`` (aggregated in plain Python,
    exported by the SDK's readers: export/histograms.py); under any other provider (a
    program's own SDK set up before mcptrace) an instrument of that provider's meter.
    """

    def __init__(self) -> None:
        self._made: dict[str, PlainHistogram | ApiHistogram] = {}

    def get(self, name: str, description: str) -> PlainHistogram | ApiHistogram:
        histogram = self._made.get(name)
        if histogram is None:
            provider = metrics.get_meter_provider()
            if isinstance(provider, LazyMeterProvider):
                histogram = provider.histograms.histogram(
                    (MCPTRACE_SCOPE, SCOPE_VERSION), name, "s", description, BUCKETS
                )
            else:
                meter = provider.get_meter(MCPTRACE_SCOPE, SCOPE_VERSION)
                histogram = ApiHistogram(meter, name, "s", description, BUCKETS)
            self._made[name] = histogram
        return histogram


_histograms = _Histograms()
_CLIENT_OPERATION = (MCP_CLIENT_OPERATION_DURATION, "Duration of MCP requests, client side")
_SERVER_OPERATION = (MCP_SERVER_OPERATION_DURATION, "Duration of MCP requests, server side")
_CLIENT_OPERATION_WITH_URI = (*CLIENT_OPERATION_ATTRIBUTES, MCP_RESOURCE_URI)
_SERVER_OPERATION_WITH_URI = (*SERVER_OPERATION_ATTRIBUTES, MCP_RESOURCE_URI)


def record_operation(
    kind: SpanKind,
    seconds: float,
    attributes: Mapping[str, Any],
    span_context: SpanContext | None = None,
) -> None:
    """One operation-duration point; ``span_context``: the span its exemplar links to."""
    client = kind is SpanKind.CLIENT
    name, description = _CLIENT_OPERATION if client else _SERVER_OPERATION
    names: tuple[str, ...]
    if MCP_RESOURCE_URI in attributes and _resource_uri_opted_in():
        names = _CLIENT_OPERATION_WITH_URI if client else _SERVER_OPERATION_WITH_URI
    else:
        names = CLIENT_OPERATION_ATTRIBUTES if client else SERVER_OPERATION_ATTRIBUTES
    _histograms.get(name, description).record(seconds, attributes, names, span_context)


def _resource_uri_opted_in() -> bool:
    from mcptrace.activation import current_settings

    return current_settings().metrics_resource_uri


def record_session(client_side: bool, seconds: float, attributes: Mapping[str, Any]) -> None:
    try:
        if client_side:
            name, description = MCP_CLIENT_SESSION_DURATION, "Duration of MCP sessions, client side"
        else:
            name, description = MCP_SERVER_SESSION_DURATION, "Duration of MCP sessions, server side"
        names = CLIENT_SESSION_ATTRIBUTES if client_side else SESSION_ATTRIBUTES
        # as the SDK's record without a context: the exemplar links to the current span
        current = get_current_span().get_span_context()
        _histograms.get(name, description).record(
            seconds, attributes, names, current if current.is_valid else None
        )
    except Exception:
        pass


def _is_mcp_scope(span: ReadableSpan) -> bool:
    scope = span.instrumentation_scope
    return scope is not None and scope.name in MCP_SPAN_SCOPES


class OperationMetrics(SpanProcessor):
    """Records the operation duration of each finished MCP span as it ends.

    A sink of the enriching processor (``operation_metrics_sink``): it sees the span's final
    attributes, and records the point right there, with no queue or thread of its own (a
    batch processor in front of it only added a second copy of every span's trip through a
    queue), into a plain-Python aggregation (export/histograms.py: a few µs, against ≈20 µs
    for the SDK's ``record``).  Each measurement carries its span's context, so
    trace-based exemplars link the metric to the trace.
    """

    def on_end(self, span: ReadableSpan) -> None:
        try:
            if type(span) is ReadableSpan:  # its fields, as its properties give them
                kind, start, end = span._kind, span._start_time, span._end_time
            else:
                kind, start, end = span.kind, span.start_time, span.end_time
            if kind is not SpanKind.SERVER and kind is not SpanKind.CLIENT:
                return
            # ReadableSpan.attributes is a read-only view of the SDK's BoundedAttributes,
            # where each `in` and lookup goes through the Mapping ABC; the plain dict
            # inside answers the same, and a point looks up a dozen of them per span.
            attributes = getattr(getattr(span, "_attributes", None), "_dict", None)
            if type(attributes) is not dict:
                attributes = span.attributes or {}
            if MCP_METHOD_NAME not in attributes or not _is_mcp_scope(span):
                return
            if start is None or end is None:
                return
            record_operation(kind, (end - start) / 1e9, attributes, span.context)
        except Exception:  # a metric must never cost the span behind it
            pass


def operation_metrics_sink() -> OperationMetrics:
    return OperationMetrics()
