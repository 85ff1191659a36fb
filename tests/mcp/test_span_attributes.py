"""``set_span_attributes`` stores plain values directly: every span it touches must end up with
exactly what the SDK's ``set_attributes`` would have given it — the same attributes in the same
order, the same dropped count, the same warnings — for plain and unplain values, keys set again,
count and length limits within and out of reach, an ended span, and other span classes."""

from __future__ import annotations

import enum
import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.trace import NonRecordingSpan

from mcptrace.mcp.span_attributes import set_span_attributes


class Level(enum.IntEnum):
    HIGH = 2


class Text(str):
    pass


class OddKey(str):
    """A key with its own hash and an equality that says yes to everything."""

    def __hash__(self) -> int:
        return 7

    def __eq__(self, other: object) -> bool:
        return True


class OddInt(int):
    def __str__(self) -> str:
        return "not a number"

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = int.__hash__


class OddText(str):
    def __str__(self) -> str:
        return "something else"


PLAIN = {
    "mcp.method.name": "tools/call",
    "gen_ai.tool.name": "echo",
    "jsonrpc.request.id": "7",
    "mcp.protocol.version": "2025-06-18",
    "network.transport": "pipe",
    "server.port": 8080,
    "mcptrace.flag": True,
    "mcptrace.ratio": 0.5,
}
BATCHES: list[dict[Any, Any]] = [
    PLAIN,
    {"mcp.method.name": "tools/list", "extra": "x"},  # a key set again moves to the end
    {},
    {"long": "y" * 40},  # cut by a value length limit
    {"a": ["x", "y"]},  # a sequence: copied to a tuple
    {"a": None},
    {"a": b"raw"},
    {"a": Level.HIGH},  # an int subclass
    {"a": Text("t")},  # a str subclass
    {"": "empty key"},
    {3: "key not a str"},
    {"a": object()},
    # hostile plain values and keys: each stored as the SDK stores it
    {"nan": float("nan"), "inf": float("-inf"), "big": 2**200, "small": -(2**64)},
    {"bool": True, "int": 1, "zero": False},  # bool is an int: kept a bool
    {"lone": "\udc80\ud800", "ctl": "\x00\x1b[31m", "wide": "\U000e0041𝄞"},
    {"exact": "z" * 10, "over": "z" * 11},  # at and past a length limit of 10
    {"huge": "h" * 100_000},
    {OddKey("odd"): "a str subclass key with its own hash and equality"},
    {"a": OddInt(5), "b": OddText("shown")},  # subclasses with their own __str__ and __eq__
    {"dup": "1", OddKey("dup"): "2"},  # two keys its hash keeps apart, equal as text
]
LIMITS = [
    SpanLimits(),
    SpanLimits(max_span_attributes=4),
    SpanLimits(max_span_attributes=12),
    SpanLimits(max_attribute_length=10),
    SpanLimits(max_span_attributes=0),
]


# one provider per limits object, kept alive with it: a provider per span was most of the time
_tracers: dict[int, tuple[SpanLimits, Any]] = {}


def _span(limits: SpanLimits, start: dict[str, Any]) -> Any:
    held = _tracers.get(id(limits))
    if held is None or held[0] is not limits:
        held = _tracers[id(limits)] = (limits, TracerProvider(span_limits=limits).get_tracer("t"))
    return held[1].start_span("s", attributes=start)


def _state(span: Any) -> tuple[object, ...]:
    items = [(key, repr(value)) for key, value in span.attributes.items()]
    return items, span.dropped_attributes


@pytest.mark.parametrize("limits", range(len(LIMITS)))
def test_every_batch_stores_what_the_sdk_stores(
    limits: int, caplog: pytest.LogCaptureFixture
) -> None:
    for start in ({}, {"gen_ai.tool.name": "old", "z": 1}):
        for first in BATCHES:
            for second in BATCHES:
                expected_span = _span(LIMITS[limits], start)
                fast_span = _span(LIMITS[limits], start)
                caplog.clear()
                with caplog.at_level(logging.WARNING):
                    expected_span.set_attributes(first)
                    expected_span.set_attributes(second)
                expected_logs = [r.getMessage() for r in caplog.records]
                caplog.clear()
                with caplog.at_level(logging.WARNING):
                    set_span_attributes(fast_span, first)
                    set_span_attributes(fast_span, second)
                assert [r.getMessage() for r in caplog.records] == expected_logs
                assert _state(fast_span) == _state(expected_span), (start, first, second)


def test_an_ended_span_is_left_as_the_sdk_leaves_it(caplog: pytest.LogCaptureFixture) -> None:
    span = _span(SpanLimits(), {"a": "1"})
    span.end()
    with caplog.at_level(logging.WARNING):
        set_span_attributes(span, PLAIN)
    assert dict(span.attributes) == {"a": "1"}
    assert "ended span" in caplog.text


def test_plain_values_skip_the_sdks_cleaning_and_others_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fast path is taken (the SDK's set_attributes is not called) exactly when every
    value is plain and no limit is in reach."""
    calls: list[object] = []
    span = _span(SpanLimits(), {})
    original = type(span).set_attributes

    def counted(self: Any, attributes: Any) -> None:
        calls.append(attributes)
        original(self, attributes)

    monkeypatch.setattr(type(span), "set_attributes", counted)
    set_span_attributes(span, PLAIN)
    assert calls == [] and dict(span.attributes) == PLAIN
    set_span_attributes(span, {"a": ["x"]})
    assert len(calls) == 1 and span.attributes["a"] == ("x",)
    small = _span(SpanLimits(max_span_attributes=9), {})
    set_span_attributes(small, PLAIN)  # 8 of 9: within reach of nothing
    set_span_attributes(small, {"b": "1", "c": "2"})  # 10 > 9: the SDK drops the oldest
    assert len(calls) == 2 and small.dropped_attributes == 1


def test_another_span_class_goes_through_its_own_method() -> None:
    span = NonRecordingSpan(_span(SpanLimits(), {}).get_span_context())
    set_span_attributes(span, PLAIN)  # no-op span: nothing raised, nothing stored
    assert not span.is_recording()
