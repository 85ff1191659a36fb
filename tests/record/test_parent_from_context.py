"""A span start reads its parent's span context from the parent context's own entry when
that entry is an SDK span (``SpanRegistry.span_started``), and its span id and validity
from the span context's items: the state made must be the one ``get_current_span`` and the
span context's properties give — root, MCP client or not — for every parent below: none, an
empty context, live and ended SDK spans of each kind, a non-recording span (valid, invalid,
remote, as an extract from ``traceparent`` makes), the invalid span, a subclass of the SDK's
span and a parent the registry never saw — passed as the parent context, or current when
none is passed.  Real SDK tracers and spans."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import (
    INVALID_SPAN,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    TraceFlags,
    get_current_span,
    set_span_in_context,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from mcptrace.record import vocabulary as ev
from mcptrace.record.state import SpanRegistry, _Otel, is_mcp_client_span


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
        copy = NonRecordingSpan(live.get_span_context())  # (a context carried elsewhere)
        cases.append((f"non-recording of live {kind.name}", None, set_span_in_context(copy)))
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


def _check(registry: SpanRegistry, context: Context | None, label: str) -> list[tuple[Any, ...]]:
    """Children of every kind started in ``context``: their states against the reference
    (``get_current_span`` of the same context, the span context's properties)."""
    tracer = TracerProvider().get_tracer(ev.SDK_SCOPE)
    rows = []
    for kind in (SpanKind.SERVER, SpanKind.CLIENT, SpanKind.INTERNAL):
        span = tracer.start_span("child", context=context, kind=kind)
        reference = get_current_span(context).get_span_context()
        parent_state = registry.by_id.get(reference.span_id) if reference.is_valid else None
        made = registry.span_started(span, context)  # type: ignore[arg-type]
        expected_root = made if made.is_mcp or parent_state is None else parent_state.root
        expected_client = not made.is_mcp and (
            (parent_state is not None and parent_state.mcp_client)
            or is_mcp_client_span(kind, span.attributes, ev.SDK_SCOPE)
        )
        assert made.root is expected_root, (label, kind)
        assert made.mcp_client == expected_client, (label, kind)
        rows.append((label, kind.name, parent_state is not None))
    return rows


@pytest.mark.parametrize("items", [True, False], ids=["tuple items", "properties"])
def test_a_parent_read_from_its_context_entry_makes_the_same_state(
    items: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if _Otel.parent_span_context is None:
        _Otel.load()
    # this SDK's SpanContext has the layout the items are read by; another falls back to
    # the properties, with the same states
    assert _Otel.span_context_class is SpanContext
    if not items:
        monkeypatch.setattr(_Otel, "span_context_class", None)
    registry = SpanRegistry()
    registry.link_otel()
    rows = []
    for label, _parent, context in _parents(registry):
        rows.extend(_check(registry, context, label))
        if context is not None:  # the same parent as the current context, none passed
            token = otel_context.attach(context)
            try:
                rows.extend(_check(registry, None, "current " + label))
            finally:
                otel_context.detach(token)
    parented = {row[0] for row in rows if row[2]}
    assert {"live SERVER", "current live CLIENT", "subclass", "current subclass"} <= parented
    assert {"non-recording of live SERVER", "current non-recording of live CLIENT"} <= parented
    assert "none" not in parented and "current invalid span" not in parented


def test_an_unlinked_registry_asks_get_current_span() -> None:
    """Before OTel is linked the current context is not read directly (a patched runtime
    context, another ContextVar): get_current_span still finds the parent."""
    if _Otel.parent_span_context is None:
        _Otel.load()
    registry = SpanRegistry()
    parent = TracerProvider().get_tracer(ev.SDK_SCOPE).start_span("p", kind=SpanKind.SERVER)
    registry.span_started(parent, None)  # type: ignore[arg-type]
    token = otel_context.attach(set_span_in_context(parent))
    try:
        rows = _check(registry, None, "unlinked")
    finally:
        otel_context.detach(token)
    assert all(row[2] for row in rows)
