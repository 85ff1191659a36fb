"""A server span mcptrace starts gets its attributes right after its start, stored directly,
when nothing at the start reads them (``mcp/spans.py: _blind_start``): the SDK's own
samplers, only mcptrace's enriching processor with no-op inner starts and enrichers that say
``blind_start``.  The exported span must equal the one started with its attributes, over
attribute sets that need cleaning, cutting or dropping; and a sampler, a processor or an
enricher that reads attributes at the start must see them as before (the span started with
them), or the outcome differs and these tests fail.

Real SDK providers, tracers, batch processors and in-memory exporters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)

from mcptrace.export import enrich
from mcptrace.mcp import spans

ATTRIBUTES: list[dict[str, Any]] = [
    {"mcp.method.name": "tools/call", "gen_ai.tool.name": "echo", "jsonrpc.request.id": "7"},
    {"mcp.method.name": "tools/call", "n": 3, "f": 0.5, "b": True, "list": ["a", "b"]},
    {"mcp.method.name": "tools/call", "long": "x" * 300, "short": "y"},
    {f"k{n}": f"v{n}" for n in range(40)},
    {"mcp.method.name": "tools/call", "none": None, "": "empty key", "dict": {"a": 1}},
    {},
]
LIMITS = [
    SpanLimits(),
    SpanLimits(max_span_attributes=5),
    SpanLimits(max_span_attribute_length=16),
]
META = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


class CountingIds(IdGenerator):
    """The same ids in both runs, so a ratio sampler decides alike."""

    def __init__(self) -> None:
        self.next = 0x1234

    def generate_span_id(self) -> int:
        self.next += 1
        return self.next

    def generate_trace_id(self) -> int:
        self.next += 0x10000
        return self.next << 64


class SeesAttributes(Sampler):
    """A user's sampler that drops what a tool name asks it to."""

    def should_sample(  # type: ignore[override]
        self, parent_context: Any, trace_id: int, name: str, kind: Any = None,
        attributes: Any = None, links: Any = None, trace_state: Any = None,
    ) -> SamplingResult:  # fmt: skip
        drop = (attributes or {}).get("gen_ai.tool.name") == "echo"
        return SamplingResult(Decision.DROP if drop else Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "sees attributes"


class StartWatcher(SpanProcessor):
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.seen.append(dict(span.attributes or {}))


class BlindEnricher:
    blind_start = True

    def on_start(self, span: Span, parent_context: Context | None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        return None


class ReadingEnricher(StartWatcher):
    def on_end(self, span: ReadableSpan) -> None:
        return None


def _summary(span: ReadableSpan) -> tuple[Any, ...]:
    return (
        span.name,
        span.kind,
        list((span.attributes or {}).items()),
        span.dropped_attributes,
        span.parent.span_id if span.parent else None,
        [link.context.span_id for link in span.links],
        span.status.status_code,
    )


def _run(
    sampler: Sampler,
    limits: SpanLimits,
    attributes: dict[str, Any],
    blind: bool,
    extra: Sequence[SpanProcessor] = (),
    enrichers: Sequence[Any] = (BlindEnricher(),),
    monkeypatch: pytest.MonkeyPatch | None = None,
    inner: Sequence[SpanProcessor] = (),
) -> tuple[list[tuple[Any, ...]], bool]:
    assert monkeypatch is not None
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        sampler=sampler, span_limits=limits, id_generator=CountingIds(), shutdown_on_exit=False
    )
    provider.add_span_processor(
        enrich.EnrichingSpanProcessor([BatchSpanProcessor(exporter), *inner])
    )
    for processor in extra:
        provider.add_span_processor(processor)
    with monkeypatch.context() as patch:
        patch.setattr(enrich, "_enrichers", list(enrichers))
        patch.setattr(spans, "_tracer", provider.get_tracer("mcptrace.mcp"))
        taken = spans._blind_start()
        if not blind:
            patch.setattr(spans, "_blind_start", lambda: False)
        for meta in (META, None):
            with spans.handling_span("tools/call echo", attributes, meta):
                pass
        provider.force_flush()
    return [_summary(span) for span in exporter.get_finished_spans()], taken


@pytest.mark.parametrize("attributes", ATTRIBUTES, ids=range(len(ATTRIBUTES)))
@pytest.mark.parametrize("limits", LIMITS, ids=["default", "5 attributes", "16 characters"])
@pytest.mark.parametrize(
    "sampler",
    [
        ParentBased(ALWAYS_ON),
        ALWAYS_ON,
        ALWAYS_OFF,
        TraceIdRatioBased(0.5),
        ParentBased(ALWAYS_OFF),
    ],
    ids=["parent-based", "always-on", "always-off", "ratio", "parent-based-off"],
)
def test_the_span_is_the_one_started_with_its_attributes(
    attributes: dict[str, Any],
    limits: SpanLimits,
    sampler: Sampler,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast, taken = _run(sampler, limits, attributes, True, monkeypatch=monkeypatch)
    general, _ = _run(sampler, limits, attributes, False, monkeypatch=monkeypatch)
    assert taken  # the SDK's own samplers and mcptrace's processor: the fast path
    assert fast == general


def test_a_sampler_that_reads_attributes_still_sees_them(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, taken = _run(SeesAttributes(), SpanLimits(), ATTRIBUTES[0], True, monkeypatch=monkeypatch)
    general, _ = _run(SeesAttributes(), SpanLimits(), ATTRIBUTES[0], False, monkeypatch=monkeypatch)
    assert not taken and fast == general == []  # dropped by its tool name, as before
    assert (
        _run(ParentBased(SeesAttributes()), SpanLimits(), {}, True, monkeypatch=monkeypatch)[1]
        is False
    )


def test_a_processor_that_reads_attributes_at_start_still_sees_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watcher = StartWatcher()
    _, taken = _run(
        ALWAYS_ON, SpanLimits(), ATTRIBUTES[0], True, [watcher], monkeypatch=monkeypatch
    )
    assert not taken and watcher.seen == [ATTRIBUTES[0], ATTRIBUTES[0]]
    inside = StartWatcher()  # one behind mcptrace's enriching processor
    _, taken = _run(
        ALWAYS_ON, SpanLimits(), ATTRIBUTES[0], True, monkeypatch=monkeypatch, inner=[inside]
    )
    assert not taken and inside.seen == [ATTRIBUTES[0], ATTRIBUTES[0]]


def test_an_enricher_that_does_not_say_it_is_blind_still_sees_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reader = ReadingEnricher()
    _, taken = _run(
        ALWAYS_ON, SpanLimits(), ATTRIBUTES[0], True, enrichers=[reader], monkeypatch=monkeypatch
    )
    assert not taken and reader.seen == [ATTRIBUTES[0], ATTRIBUTES[0]]
