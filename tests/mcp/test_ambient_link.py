"""A handled message's SERVER span links the ambient span (an HTTP server span around it)
when its MCP parent, from ``_meta``, is another span; the middleware reads the ambient span
once per message and hands it to ``handling_span``: the span's parent and links must be
those ``handling_span`` finds reading it itself, with and without an ambient span, with and
without a parent in ``_meta``, and with a parent that is the ambient span.  Real SDK spans."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mcptrace.mcp import spans
from mcptrace.mcp.propagation import ambient_span

SENDER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _handled(
    monkeypatch: pytest.MonkeyPatch, with_ambient: bool, meta: Any, passed: bool
) -> list[tuple[Any, ...]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test.http")
    with monkeypatch.context() as patch:
        patch.setattr(spans, "_tracer", provider.get_tracer("mcptrace.mcp"))
        outer = tracer.start_span("GET /mcp", kind=trace.SpanKind.SERVER) if with_ambient else None
        token = otel_context.attach(trace.set_span_in_context(outer)) if outer else None
        try:
            if meta == "ambient" and outer is not None:  # the sender's parent is the ambient
                context = outer.get_span_context()
                meta = {"traceparent": f"00-{context.trace_id:032x}-{context.span_id:016x}-01"}
            elif meta == "ambient":
                meta = None
            handling = (
                spans.handling_span("tools/call echo", {}, meta, ambient_span())
                if passed
                else spans.handling_span("tools/call echo", {}, meta)
            )
            with handling:
                pass
        finally:
            if token is not None:
                otel_context.detach(token)
            if outer is not None:
                outer.end()
    ambient_id = outer.get_span_context().span_id if outer else None
    return [
        (
            span.name,
            span.parent.span_id if span.parent else None,
            span.parent.span_id == ambient_id if span.parent else None,
            [link.context.span_id == ambient_id for link in span.links],
        )
        for span in exporter.get_finished_spans()
        if span.name == "tools/call echo"
    ]


@pytest.mark.parametrize("with_ambient", [True, False])
@pytest.mark.parametrize("meta", [{"traceparent": SENDER}, None, {}, "ambient"])
def test_the_ambient_span_read_once_links_the_same(
    monkeypatch: pytest.MonkeyPatch, with_ambient: bool, meta: Any
) -> None:
    read_by_caller = _handled(monkeypatch, with_ambient, meta, passed=True)
    read_itself = _handled(monkeypatch, with_ambient, meta, passed=False)
    assert [row[2:] for row in read_by_caller] == [row[2:] for row in read_itself]
    (row,) = read_by_caller
    linked = with_ambient and isinstance(meta, dict) and "traceparent" in meta
    assert row[3] == ([True] if linked else [])
