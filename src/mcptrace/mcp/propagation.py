"""W3C trace context and baggage in ``params._meta`` (SEP-414), as plain dicts.

Usage::

    meta = dict(params.get("_meta") or {}); inject_meta(meta)     # sending side
    parent = extract_meta(params.get("_meta"))                     # receiving side

The receiving side parents its span to the extracted context and links the ambient one
(e.g. an HTTP server span): one HTTP request may carry several MCP messages, so the MCP
context, not the transport's, is the parent.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import get_global_textmap
from opentelemetry.propagators.textmap import DefaultGetter
from opentelemetry.trace import Link, SpanContext

from mcptrace.activation import parent_context

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
BAGGAGE = "baggage"


def inject_meta(meta: MutableMapping[str, Any], context: Context | None = None) -> None:
    """Write ``context`` (default: the current one) into meta with the configured propagators
    (``OTEL_PROPAGATORS``; W3C traceparent, tracestate and baggage by default)."""
    try:
        get_global_textmap().inject(meta, context=context)
    except Exception:
        pass


def extract_meta(meta: Any) -> Context | None:
    """The context carried by a ``_meta`` mapping (or pydantic Meta), None when it has none."""
    if meta is None:
        return None
    try:
        if not isinstance(meta, Mapping):
            extra = getattr(meta, "model_extra", None)
            meta = extra if isinstance(extra, Mapping) else None
            if meta is None:
                return None
        propagator = get_global_textmap()
        if _is_default_pair(propagator):
            # the default W3C pair: the same two extracts the composite runs, the baggage
            # one skipped when there is no baggage (it would return the context as is),
            # with a getter answering as the default one does without its ABC checks
            if TRACEPARENT not in meta and BAGGAGE not in meta and TRACESTATE not in meta:
                return None
            trace_context, baggage = propagator._propagators  # type: ignore[attr-defined]
            context: Context = trace_context.extract(meta, None, _GETTER)
            if meta.get(BAGGAGE) is not None:
                context = baggage.extract(meta, context, _GETTER)
        else:
            if TRACEPARENT not in meta and not any(key in meta for key in propagator.fields):
                return None
            context = propagator.extract(meta)
    except Exception:
        return None
    if not trace.get_current_span(context).get_span_context().is_valid:
        return None
    return context


class _MappingGetter(DefaultGetter):
    """``DefaultGetter``'s answers, a text value answered without its ``Iterable`` check."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get(key, None)
        if type(value) is str:
            return [value]
        return super().get(carrier, key)


_GETTER = _MappingGetter()
_checked: list[Any] = [None, False]  # the global propagator last checked, its verdict


def _is_default_pair(propagator: Any) -> bool:
    """Whether ``propagator`` is the SDK's composite of exactly its W3C trace context and
    baggage propagators, in that order (``OTEL_PROPAGATORS`` unset, or
    ``tracecontext,baggage``): checked once per global propagator object."""
    if propagator is _checked[0]:
        return bool(_checked[1])
    verdict = _pair_of_defaults(propagator)
    _checked[:] = [propagator, verdict]
    return verdict


def _pair_of_defaults(propagator: Any) -> bool:
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    if type(propagator) is not CompositePropagator:
        return False
    parts = getattr(propagator, "_propagators", None)
    return (
        isinstance(parts, (list, tuple))
        and len(parts) == 2
        and type(parts[0]) is TraceContextTextMapPropagator
        and type(parts[1]) is W3CBaggagePropagator
    )


def carries_baggage(meta: Any) -> bool:
    """Whether a ``_meta`` mapping (or pydantic Meta) has a W3C baggage entry."""
    if meta is not None and not isinstance(meta, Mapping):
        meta = getattr(meta, "model_extra", None)
    return isinstance(meta, Mapping) and BAGGAGE in meta


def ambient_span() -> SpanContext | None:
    """The current span (e.g. an HTTP server span), unless it is only the context this
    process inherited from its parent in TRACEPARENT (that one is no transport span)."""
    ambient = trace.get_current_span().get_span_context()
    if not ambient.is_valid:
        return None
    inherited = parent_context()
    if (
        inherited is not None
        and trace.get_current_span(inherited).get_span_context().span_id == ambient.span_id
    ):
        return None
    return ambient


_UNKNOWN: Any = object()


def ambient_links(parent: Context | None, ambient: Any = _UNKNOWN) -> list[Link] | None:
    """A link to the ambient span (HTTP request, ...) when the MCP parent differs from it;
    ``ambient``: ``ambient_span()`` if the caller has it already, in the same context."""
    if parent is None:
        return None
    if ambient is _UNKNOWN:
        ambient = ambient_span()
    if ambient is None:
        return None
    if ambient.span_id == trace.get_current_span(parent).get_span_context().span_id:
        return None
    return [Link(ambient)]
