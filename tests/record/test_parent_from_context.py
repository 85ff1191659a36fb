"""A span start reads its parent's span context from the parent context's own entry when
that entry is an SDK span (``SpanRegistry.span_started``), and its span id and validity
from the span context's items: the state made must be the one ``get_current_span`` and the
span context's properties give — root, MCP client or not — for every parent below: none, an
empty context, live and ended SDK spans of each kind, a non-recording span (valid, invalid,
remote, as an extract from ``traceparent`` makes), the invalid span, a subclass of the SDK's
span and a parent the registry never saw.  Real SDK tracers and spans."""

from __future__ import annotations

from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import (
    INVALID_SPAN,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    TraceFlags,
    set_span_in_context,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from mcptrace.record import vocabulary as ev
from mcptrace.record.state import SpanRegistry, _Otel


class OwnSpan(SdkSpan):
    pass


def _parents(registry: SpanRegistry) -> list[tuple[str, Any, Context | None]]:
    """(label, the parent span or None, the parent context) for each case."""
    tracer = TracerProvider().get_tracer(ev.SDK_SCOPE)
    cases: list[tuple[str, Any, Context | None]] = [("none", None, None), ("empty", None, {})]  # type: ignore[list-item]
    for kind in (SpanKind.SERVER, SpanKind.CLIENT, SpanKind.INTERNAL):
        attributes = {ev.MCP_METHOD_NAME: "tools/call"}
        live = tracer.start_span("live", kind=kind, attributes=attributes)
        registry.span_started(live, None)  # type: ignore[arg-type]
        cases.append((f"live {kind.name}", live, set_span_in_context(live)))
        ended = tracer.start_span("ended", kind=kind, attributes=attributes)
        registry.span_started(ended, None)  # type: ignore[arg-type]
        ended.end()
        registry.span_ended(ended.get_span_context().span_id)
        cases.append((f"ended {kind.name}", ended, set_span_in_context(ended)))
        unseen = tracer.start_span("unseen", kind=kind)
        cases.append((f"unseen {kind.name}", unseen, set_span_in_context(unseen)))
    valid = SpanContext(0x1234, 0x5678, is_remote=False, trace_flags=TraceFlags(1))
    invalid = SpanContext(0, 0, is_remote=False)
    cases.append(("non-recording", None, set_span_in_context(NonRecordingSpan(valid))))
    cases.append(("non-recording invalid", None, set_span_in_context(NonRecordingSpan(invalid))))
    cases.append(("invalid span", None, set_span_in_context(INVALID_SPAN)))
    carrier = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    cases.append(("remote", None, TraceContextTextMapPropagator().extract(carrier)))
    own = OwnSpan("own", valid, kind=SpanKind.SERVER)
    own.start()
    registry.span_started(own, None)  # type: ignore[arg-type]
    cases.append(("subclass", own, set_span_in_context(own)))
    return cases


def _states(fast: bool) -> list[tuple[Any, ...]]:
    if _Otel.parent_span_context is None:
        _Otel.load()
    saved = _Otel.span_key, _Otel.span_context_class
    if not fast:  # no entry found, no items read: get_current_span and the properties
        _Otel.span_key, _Otel.span_context_class = "no such key", None
    try:
        registry = SpanRegistry()
        tracer = TracerProvider().get_tracer(ev.SDK_SCOPE)
        seen = []
        for label, parent, context in _parents(registry):
            for kind in (SpanKind.SERVER, SpanKind.CLIENT, SpanKind.INTERNAL):
                span = tracer.start_span("child", context=context, kind=kind)
                made = registry.span_started(span, context)  # type: ignore[arg-type]
                parent_state = (
                    registry.by_id.get(parent.get_span_context().span_id) if parent else None
                )
                seen.append(
                    (
                        label,
                        kind.name,
                        made.is_mcp,
                        made.mcp_client,
                        made.root is made,
                        parent_state is not None and made.root is parent_state.root,
                    )
                )
        return seen
    finally:
        _Otel.span_key, _Otel.span_context_class = saved


def test_a_parent_read_from_its_context_entry_makes_the_same_state() -> None:
    fast, general = _states(True), _states(False)
    assert fast == general
    rooted = {row[0] for row in fast if row[5]}
    assert {"live SERVER", "live CLIENT", "subclass"} <= rooted  # (the cases mean something)
