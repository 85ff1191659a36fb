"""The span registry lets go of ended spans: a server's memory and the cyclic GC's work must
not grow with the calls it served."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind
from opentelemetry.trace import set_span_in_context as trace_context

from mcptrace.record import vocabulary as ev
from mcptrace.record.state import ENDED_SPANS_KEPT, SpanRegistry, SpanState


def _serve(registry: SpanRegistry, calls: int) -> list[weakref.ref[Any]]:
    tracer = TracerProvider().get_tracer(ev.MCPTRACE_SCOPE)
    refs = []
    for n in range(calls):
        span = tracer.start_span(
            f"tools/call t{n}",
            kind=SpanKind.SERVER,
            attributes={ev.MCP_METHOD_NAME: "tools/call", ev.GEN_AI_TOOL_NAME: f"t{n}"},
        )
        state = registry.span_started(span, None)  # type: ignore[arg-type]
        assert state.is_mcp and state.root is state  # a root: a cycle of its own
        span.end()
        assert registry.span_ended(span.get_span_context().span_id) is state
        refs.append(weakref.ref(span))
        del span, state
    return refs


def test_ended_spans_past_the_kept_ones_are_freed_without_a_collection() -> None:
    registry = SpanRegistry()
    gc.collect()
    gc.disable()
    try:
        refs = _serve(registry, ENDED_SPANS_KEPT + 50)
        alive = [ref() is not None for ref in refs]
    finally:
        gc.enable()
    assert alive == [False] * 50 + [True] * ENDED_SPANS_KEPT
    assert len(registry.ended) == ENDED_SPANS_KEPT


def test_a_late_record_for_a_span_no_longer_kept_still_finds_its_call() -> None:
    registry = SpanRegistry()
    tracer = TracerProvider().get_tracer(ev.MCPTRACE_SCOPE)
    first = tracer.start_span(
        "tools/call first", kind=SpanKind.SERVER, attributes={ev.MCP_METHOD_NAME: "tools/call"}
    )
    registry.span_started(first, None)  # type: ignore[arg-type]
    first.end()
    registry.span_ended(first.get_span_context().span_id)
    _serve(registry, ENDED_SPANS_KEPT + 1)
    assert first not in registry.ended
    state, how = registry.attribute_without_span(first)
    assert how == ev.CONTEXT and state.key is first and state.ended and state.is_mcp
    assert state.span_context == first.get_span_context()


def _states() -> int:
    return sum(isinstance(thing, SpanState) for thing in gc.get_objects())


def test_the_states_of_ended_roots_past_the_kept_ones_are_freed_without_a_collection() -> None:
    # A root's state is its own root (a cycle): evicted as such, each would wait for a full
    # collection, which a busy server may not run for thousands of calls.
    registry = SpanRegistry()
    _serve(registry, ENDED_SPANS_KEPT + 10)  # the shared ended roots exist from here on
    gc.collect()
    before = _states()
    gc.disable()
    try:
        _serve(registry, 500)
        after = _states()
    finally:
        gc.enable()
    assert after == before  # 500 more calls, still only the kept ones (and the shared roots)


def test_a_record_on_its_way_to_an_evicted_root_finds_an_ended_root_of_its_kind() -> None:
    registry = SpanRegistry()
    tracer = TracerProvider().get_tracer(ev.MCPTRACE_SCOPE)
    first = tracer.start_span(
        "tools/call first", kind=SpanKind.SERVER, attributes={ev.MCP_METHOD_NAME: "tools/call"}
    )
    held = registry.span_started(first, None)  # type: ignore[arg-type]
    child = tracer.start_span("inner", context=trace_context(first))
    child_state = registry.span_started(child, trace_context(first))  # type: ignore[arg-type]
    assert child_state.root is held
    child.end()
    registry.span_ended(child.get_span_context().span_id)
    first.end()
    registry.span_ended(first.get_span_context().span_id)
    _serve(registry, ENDED_SPANS_KEPT + 1)
    assert held.key is None and held.root is not held  # no cycle left
    assert held.root.ended and held.root.is_mcp and not held.root.mcp_client
    assert child_state.root is held  # a child's root is no cycle: kept as it was
