"""A span start reads an SDK span's fields rather than its properties (``record/state.py:
_span_parts``): the span state made from them — MCP request or not, MCP client or not, its
root, its context — must be the one the properties give, for spans of every kind, scope,
attribute set and parent below, for a subclass of the SDK's span (read through its
properties) and after attributes were cut by limits.  Real SDK tracers and spans."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.trace import SpanKind, set_span_in_context

from mcptrace.record import state as state_module
from mcptrace.record import vocabulary as ev
from mcptrace.record.state import SpanRegistry, _Otel, _span_parts

SCOPES = [ev.SDK_SCOPE, ev.MCPTRACE_SCOPE, ev.FASTMCP_SCOPE, "someone.else", ""]
KINDS = [SpanKind.SERVER, SpanKind.CLIENT, SpanKind.INTERNAL]
ATTRIBUTES: list[dict[str, Any]] = [
    {},
    {ev.MCP_METHOD_NAME: "tools/call", ev.GEN_AI_TOOL_NAME: "echo"},
    {"http.method": "GET"},
    {ev.MCP_METHOD_NAME: ""},
]


def _states(fast: bool, limits: SpanLimits) -> list[tuple[Any, ...]]:
    if _Otel.parent_span_context is None:
        _Otel.load()
    saved = _Otel.sdk_span
    if not fast:
        _Otel.sdk_span = None
    try:
        registry = SpanRegistry()
        seen = []
        for scope in SCOPES:
            tracer = TracerProvider(span_limits=limits).get_tracer(scope)
            for parent_kind in (None, *KINDS):
                for kind in KINDS:
                    for attributes in ATTRIBUTES:
                        parent = context = None
                        if parent_kind is not None:
                            parent = tracer.start_span(
                                "parent", kind=parent_kind, attributes=attributes
                            )
                            registry.span_started(parent, None)  # type: ignore[arg-type]
                            context = set_span_in_context(parent)
                        span = tracer.start_span(
                            "s", context=context, kind=kind, attributes=attributes
                        )
                        made = registry.span_started(span, context)  # type: ignore[arg-type]
                        parent_state = (
                            registry.by_id.get(parent.context.span_id) if parent else None
                        )
                        seen.append(
                            (
                                scope,
                                parent_kind,
                                kind,
                                sorted(attributes),
                                made.is_mcp,
                                made.mcp_client,
                                made.root is made,
                                parent_state is not None and made.root is parent_state.root,
                                made.span_context == span.get_span_context(),
                            )
                        )
        return seen
    finally:
        _Otel.sdk_span = saved


@pytest.mark.parametrize("limits", [SpanLimits(), SpanLimits(max_span_attributes=1)])
def test_span_states_from_fields_equal_those_from_properties(limits: SpanLimits) -> None:
    assert _states(True, limits) == _states(False, limits)


def test_the_parts_are_the_properties() -> None:
    if _Otel.parent_span_context is None:
        _Otel.load()
    tracer = TracerProvider().get_tracer(ev.SDK_SCOPE)
    span = tracer.start_span("s", kind=SpanKind.CLIENT, attributes=ATTRIBUTES[1])
    context, scope, kind, attributes = _span_parts(span)
    assert type(attributes) is dict  # read from the fields: the fast path is taken
    assert (context, scope, kind) == (
        span.get_span_context(),
        span.instrumentation_scope,
        span.kind,
    )
    assert attributes == dict(span.attributes or {})


def test_a_subclass_of_the_sdk_span_is_read_through_its_properties() -> None:
    if _Otel.parent_span_context is None:
        _Otel.load()
    sdk_span: Any = _Otel.sdk_span

    class Renamed(sdk_span):  # type: ignore[misc, valid-type]
        @property
        def kind(self) -> SpanKind:
            return SpanKind.SERVER

    tracer = TracerProvider().get_tracer(ev.MCPTRACE_SCOPE)
    template = tracer.start_span("s", kind=SpanKind.INTERNAL, attributes=ATTRIBUTES[1])
    span = Renamed(
        "renamed",
        template.get_span_context(),
        kind=SpanKind.INTERNAL,
        attributes=ATTRIBUTES[1],
        instrumentation_scope=template.instrumentation_scope,
    )
    assert _span_parts(span)[2] is SpanKind.SERVER
    assert SpanRegistry().span_started(span, None).is_mcp  # type: ignore[arg-type]
    assert state_module._Otel is _Otel
