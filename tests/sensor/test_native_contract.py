"""The C hook (sensor/_fasthook.c) reads Python state by attribute name: its contract table
(next to its state struct) must name exactly the attributes it interns, and each must exist
on the Python class with the type the C code expects."""

from __future__ import annotations

import re
from pathlib import Path

from opentelemetry.trace import SpanContext, TraceFlags

from mcptrace.record.recorder import Recorder
from mcptrace.record.state import SpanRegistry, SpanState
from mcptrace.sensor.hook import Sensor

SOURCE = Path(__file__).resolve().parents[2] / "src" / "mcptrace" / "sensor" / "_fasthook.c"
CONTRACT_LINE = re.compile(r"NATIVE_CONTRACT\s+(\w+)\.(\w+)\s+(.+?)\s{2,}")


def contract(text: str) -> dict[str, tuple[str, str]]:
    """attribute -> (class, type) from the NATIVE_CONTRACT lines."""
    return {match[2]: (match[1], match[3]) for match in CONTRACT_LINE.finditer(text)}


def interned(text: str) -> set[str]:
    return set(re.findall(r'PyUnicode_InternFromString\("(\w+)"\)', text))


def test_the_table_names_exactly_what_the_c_code_interns() -> None:
    text = SOURCE.read_text(encoding="utf-8")
    table = contract(text)
    assert set(table) == interned(text)
    assert {"active", "kept", "root", "counts", "dropped", "startup", "in_flight"} <= set(table)


def test_the_python_classes_keep_their_side() -> None:
    state = SpanState(SpanContext(1, 2, False, TraceFlags(1)), is_mcp=True)
    sensor = Sensor({"file"})
    expected = {
        "bool": bool,
        "dict[str, int]": dict,
        "dict[int, SpanState]": dict,
        "int": int,
        "str": str,
        "SpanState": SpanState,
        "object": object,
    }
    owners = {
        "Sensor": sensor,
        "SpanState": state,
        "Recorder": Recorder(4),
        "SpanRegistry": SpanRegistry(),
        "globals": None,
    }
    for attribute, (owner, kind) in contract(SOURCE.read_text(encoding="utf-8")).items():
        instance = owners[owner]
        if owner == "globals":  # a frame's module globals: step 4 reads the module's name
            assert attribute == "__name__" and isinstance(globals()[attribute], str)
            continue
        if owner == "SpanState":
            assert attribute in SpanState.__slots__
        else:
            assert attribute in vars(instance), (owner, attribute)
        assert isinstance(getattr(instance, attribute), expected[kind]), (owner, attribute)


def test_a_renamed_slot_is_caught() -> None:
    text = SOURCE.read_text(encoding="utf-8").replace('"dropped"', '"discarded"')
    assert set(contract(text)) != interned(text)
