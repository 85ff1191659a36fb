"""Add attributes, events or a new name to spans on their way to the exporters.

A finished span is immutable, yet the sensor's events for a tool call are only known when
the call ends, and mcp 2.x creates its own spans that we enrich rather than duplicate.  The
``EnrichingSpanProcessor`` sits in front of the export processors: enrichers see each span
start (still mutable) and end, and what they return is merged into the span the exporters
receive.

Finishers get the final span last and may return a changed copy (the redaction of what
other tracers, such as the mcp SDK's own, wrote from user data).

Sinks are processors that want the finished, enriched span but are no exporter (the MCP
operation metrics, one histogram point recorded as each span ends).

Usage::

    register_enricher(my_enricher)        # has on_start(span, parent_context) and on_end(span)
    register_sink(my_span_processor)      # on_end(span) sees each finished span
    provider.add_span_processor(EnrichingSpanProcessor([BatchSpanProcessor(exporter)]))
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Status
from opentelemetry.util.types import AttributeValue


@dataclass
class Additions:
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    name: str | None = None
    status: Status | None = None

    def merge(self, other: Additions) -> None:
        self.attributes.update(other.attributes)
        self.events.extend(other.events)
        self.name = other.name or self.name
        self.status = other.status or self.status


class SpanEnricher(Protocol):
    # An enricher may say ``blind_start = True`` (a class attribute): its ``on_start`` reads
    # no attribute of a SERVER span mcptrace's own tracer starts (mcp/spans.py), which may
    # then get them right after its start.

    def on_start(self, span: Span, parent_context: Context | None) -> None: ...

    def on_end(self, span: ReadableSpan) -> Additions | None: ...


SpanFinisher = Callable[[ReadableSpan], ReadableSpan]

_enrichers: list[SpanEnricher] = []
_finishers: list[SpanFinisher] = []
_sinks: list[SpanProcessor] = []
_enrichers_lock = threading.Lock()


def _new_lock_in_child() -> None:
    global _enrichers_lock
    _enrichers_lock = threading.Lock()  # a thread of the parent's may have held it


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)


def register_enricher(enricher: SpanEnricher) -> None:
    with _enrichers_lock:
        if enricher not in _enrichers:
            _enrichers.append(enricher)


def unregister_enricher(enricher: SpanEnricher) -> None:
    with _enrichers_lock:
        if enricher in _enrichers:
            _enrichers.remove(enricher)


def register_finisher(finisher: SpanFinisher) -> None:
    with _enrichers_lock:
        if finisher not in _finishers:
            _finishers.append(finisher)


def unregister_finisher(finisher: SpanFinisher) -> None:
    with _enrichers_lock:
        if finisher in _finishers:
            _finishers.remove(finisher)


def register_sink(processor: SpanProcessor) -> None:
    with _enrichers_lock:
        if processor not in _sinks:
            _sinks.append(processor)


def unregister_sink(processor: SpanProcessor) -> None:
    """Stop feeding ``processor`` and flush it (it is not shut down: it may be re-added)."""
    with _enrichers_lock:
        if processor not in _sinks:
            return
        _sinks.remove(processor)
    processor.force_flush()


def apply(span: ReadableSpan, additions: Additions) -> ReadableSpan:
    """A copy of ``span`` with the additions merged in (events sorted by time)."""
    attributes: dict[str, Any] = dict(span.attributes or {})
    attributes.update(additions.attributes)
    events: Sequence[Event] = span.events
    if additions.events:
        events = sorted([*span.events, *additions.events], key=lambda event: event.timestamp)
    return ReadableSpan(
        name=additions.name or span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=additions.status or span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class EnrichingSpanProcessor(SpanProcessor):
    """Runs the registered enrichers, then hands the (possibly new) span to ``inner``."""

    def __init__(self, inner: Sequence[SpanProcessor]) -> None:
        self.inner = list(inner)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for enricher in _enrichers:
            try:
                enricher.on_start(span, parent_context)
            except Exception:  # an enricher bug must not cost the span
                pass
        for processor in self.inner:
            processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        combined: Additions | None = None
        for enricher in _enrichers:
            try:
                extra = enricher.on_end(span)
            except Exception:
                continue
            if extra is not None:
                if combined is None:
                    combined = Additions()
                combined.merge(extra)
        final = apply(span, combined) if combined is not None else span
        for finisher in _finishers:
            try:
                final = finisher(final)
            except Exception:  # a finisher bug must not cost the span
                pass
        for processor in self.inner:
            processor.on_end(final)
        for sink in _sinks:
            sink.on_end(final)

    def shutdown(self) -> None:
        # sinks first: what they record from spans (metrics) must be in before the other
        # providers shut down after this one
        for processor in [*_sinks, *self.inner]:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all([processor.force_flush(timeout_millis) for processor in [*_sinks, *self.inner]])
