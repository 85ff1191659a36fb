"""``_meta`` context extraction (mcp/propagation.py) and the handling span (mcp/spans.py).

With the default propagators (W3C trace context and baggage), ``extract_meta`` runs the two
SDK extracts itself, skipping the composite and the baggage extract when there is no
baggage: for every carrier it must give what the SDK's composite gives.  Any other global
propagator is used as configured.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import baggage, context, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from mcptrace.mcp import spans
from mcptrace.mcp.propagation import extract_meta


class Text(str):
    """A str subclass (the getter answers it as text, as the SDK's does)."""


TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
SPAN_ID = "b7ad6b7169203331"
VALID = f"00-{TRACE_ID}-{SPAN_ID}-01"

CARRIERS: list[dict[str, Any]] = [
    {},
    {"progressToken": 3},
    {"traceparent": VALID},
    {"traceparent": f"00-{TRACE_ID}-{SPAN_ID}-00"},  # not sampled
    {"traceparent": f"01-{TRACE_ID}-{SPAN_ID}-01-extra"},  # a later version may add fields
    {"traceparent": f"00-{TRACE_ID}-{SPAN_ID}-01-extra"},  # version 00 may not
    {"traceparent": f"ff-{TRACE_ID}-{SPAN_ID}-01"},  # forbidden version
    {"traceparent": f"00-{'0' * 32}-{SPAN_ID}-01"},  # all-zero ids
    {"traceparent": f"00-{TRACE_ID}-{'0' * 16}-01"},
    {"traceparent": f"00-{TRACE_ID.upper()}-{SPAN_ID}-01"},  # upper case hex
    {"traceparent": f" {VALID} "},
    {"traceparent": VALID[:-1]},
    {"traceparent": ""},
    {"traceparent": None},
    {"traceparent": 7},
    {"traceparent": [VALID, "garbage"]},  # a list: its first element
    {"traceparent": ("garbage", VALID)},
    {"traceparent": VALID, "tracestate": "vendor=v1,other=2"},
    {"traceparent": VALID, "tracestate": "not a tracestate"},
    {"traceparent": VALID, "tracestate": ["a=1", "b=2"]},
    {"traceparent": VALID, "tracestate": ""},
    {"tracestate": "vendor=v1"},  # no parent
    {"traceparent": VALID, "baggage": "user=alice,tenant=t%201;prop=1"},
    {"traceparent": VALID, "baggage": ""},
    {"traceparent": VALID, "baggage": "no equals sign"},
    {"traceparent": VALID, "baggage": ["a=1", "b=2"]},
    {"traceparent": VALID, "baggage": "k=" + "v" * 9000},  # over the header limit
    {"traceparent": VALID, "baggage": ",".join(f"k{n}=v" for n in range(200))},
    {"traceparent": VALID, "baggage": None},
    {"baggage": "user=alice"},  # baggage without a parent
    {"traceparent": "garbage", "baggage": "user=alice"},
    # hostile carriers
    {"traceparent": VALID + "\n"},
    {"traceparent": VALID.replace("0", "\uff10")},  # fullwidth digits
    {"traceparent": VALID.replace("0", "\u0660")},  # Arabic-Indic digits (str.isdigit)
    {"traceparent": VALID + "-" + "x" * 1_000_000},  # huge
    {"traceparent": b"00-" + TRACE_ID.encode() + b"-" + SPAN_ID.encode() + b"-01"},  # bytes
    {"traceparent": {"value": VALID}},  # a mapping: iterated, its keys
    {"traceparent": Text(VALID)},  # a str subclass
    {"Traceparent": VALID},  # another case: not the field
    {"traceparent": VALID, "tracestate": ",".join(f"k{n}=v" for n in range(40))},  # > 32
    {"traceparent": VALID, "tracestate": "a=1,a=2"},  # a duplicate key
    {"traceparent": VALID, "tracestate": "k=" + "v" * 100_000},
    {"traceparent": VALID, "tracestate": 7},
    {"traceparent": VALID, "tracestate": None},
    {"traceparent": VALID, "baggage": "a=1,a=2,A=3"},  # duplicate keys
    {"traceparent": VALID, "baggage": "k=%ZZ,j=%41,\u00e9=\u00e9"},  # bad escapes, non-ASCII
    {"traceparent": VALID, "baggage": b"user=alice"},
    {"traceparent": VALID, "baggage": 7},
    {"traceparent": VALID, "baggage": {"user": "alice"}},
    {"traceparent": VALID, "baggage": Text("user=alice")},
    {"traceparent": VALID, "baggage": "=,;=;,k"},
    {"traceparent": 0, "baggage": 0},
]


class _Meta:
    """A pydantic-like ``_meta`` object: its extra fields hold the carrier."""

    def __init__(self, extra: Any) -> None:
        self.model_extra = extra


def _reference(meta: Any) -> Context | None:
    """What extract_meta returned through the SDK's composite of the default pair."""
    if meta is None:
        return None
    if not isinstance(meta, dict):
        meta = meta.model_extra if isinstance(meta.model_extra, dict) else None
        if meta is None:
            return None
    composite = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    if not any(key in meta for key in composite.fields):
        return None
    try:
        extracted = composite.extract(meta)
    except Exception:  # (a traceparent of no text: the SDK raises, nothing is extracted)
        return None
    if not trace.get_current_span(extracted).get_span_context().is_valid:
        return None
    return extracted


def _seen(extracted: Context | None) -> Any:
    if extracted is None:
        return None
    span_context = trace.get_current_span(extracted).get_span_context()
    trace_state = tuple(span_context.trace_state.items())
    return span_context, trace_state, dict(baggage.get_all(extracted))


@pytest.mark.parametrize("carrier", CARRIERS, ids=range(len(CARRIERS)))
def test_the_default_pair_extracts_as_the_sdks_composite(carrier: dict[str, Any]) -> None:
    assert isinstance(propagate.get_global_textmap(), CompositePropagator)
    for meta in (carrier, _Meta(carrier)):
        assert _seen(extract_meta(meta)) == _seen(_reference(meta))
    # (a tracestate or baggage of no text makes the SDK's extract raise: no parent, as there)
    siblings = (carrier.get(key) for key in ("tracestate", "baggage"))
    texts = all(value is None or isinstance(value, (str, list)) for value in siblings)
    if carrier.get("traceparent") in (VALID, [VALID, "garbage"]) and texts:
        assert extract_meta(carrier) is not None  # the corpus reaches the valid path


def test_a_valid_parent_and_its_baggage_are_extracted() -> None:
    extracted = extract_meta({"traceparent": VALID, "baggage": "user=alice"})
    span_context, _, entries = _seen(extracted)
    assert f"{span_context.trace_id:032x}" == TRACE_ID and span_context.is_remote
    assert entries == {"user": "alice"}


class _HeaderPropagator(TextMapPropagator):
    """A program's own propagator: its parent in ``x-parent`` (``trace-span`` in hex)."""

    def extract(self, carrier: Any, context: Context | None = None, getter: Any = None) -> Context:
        value = carrier.get("x-parent") if isinstance(carrier, dict) else None
        if not isinstance(value, str):
            return context or Context()
        trace_id, span_id = (int(part, 16) for part in value.split("-"))
        parent = trace.SpanContext(trace_id, span_id, is_remote=True)
        return trace.set_span_in_context(trace.NonRecordingSpan(parent), context or Context())

    def inject(self, carrier: Any, context: Context | None = None, setter: Any = None) -> None:
        pass

    @property
    def fields(self) -> set[str]:
        return {"x-parent"}


@pytest.mark.parametrize(
    "configured",
    [
        lambda: _HeaderPropagator(),
        lambda: CompositePropagator([_HeaderPropagator(), W3CBaggagePropagator()]),
        lambda: CompositePropagator([W3CBaggagePropagator(), TraceContextTextMapPropagator()]),
        lambda: CompositePropagator([TraceContextTextMapPropagator()]),
    ],
    ids=["own", "own-and-baggage", "reordered", "trace-context-only"],
)
def test_any_other_global_propagator_is_used_as_configured(configured: Any) -> None:
    original = propagate.get_global_textmap()
    propagator = configured()
    propagate.set_global_textmap(propagator)
    try:
        own = {"x-parent": f"{TRACE_ID}-{SPAN_ID}", "baggage": "user=alice"}
        for carrier in [own, *CARRIERS]:
            try:
                expected: Context | None = propagator.extract(carrier)
            except Exception:
                expected = None
            valid = trace.get_current_span(expected).get_span_context().is_valid
            names = {"traceparent", *propagator.fields}
            wanted = expected if valid and any(key in carrier for key in names) else None
            assert _seen(extract_meta(carrier)) == _seen(wanted)
    finally:
        propagate.set_global_textmap(original)


def test_the_handling_span_is_current_with_the_senders_baggage_and_ends_on_leaving() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    original = spans._tracer
    spans._tracer = provider.get_tracer("mcptrace-test")
    before = context.get_current()
    try:
        meta = {"traceparent": VALID, "baggage": "user=alice"}
        with spans.handling_span("tools/call echo", {"a": 1}, meta) as span:
            assert trace.get_current_span() is span
            assert baggage.get_baggage("user") == "alice"
        assert context.get_current() == before and not exporter.get_finished_spans()[0].events
        with pytest.raises(KeyError), spans.handling_span("tools/call boom", {}, None) as span:
            raise KeyError("boom")
        assert context.get_current() == before
        first, second = exporter.get_finished_spans()
        assert first.name == "tools/call echo" and dict(first.attributes or {}) == {"a": 1}
        assert f"{first.parent.span_id:016x}" == SPAN_ID  # type: ignore[union-attr]
        assert second.name == "tools/call boom" and second.parent is None
        assert second.end_time is not None and not second.events  # recorded by the caller
    finally:
        spans._tracer = original
