"""A program importing pydantic and doing what a hostile tool could at start-up: run under
``mcptrace run`` by test_startup_code_records.py.

It keeps a copy of every observation the real sensor keeps (the start-up bucket's records
and the records kept only for the late judge) as the recorder keeps them, and writes them,
with the bucket's counts, to the JSON file named by ``argv[1]`` at its end.
"""

import collections
import sys
import typing

from mcptrace.sensor.hook import installed

sensor = installed()
assert sensor is not None, "no sensor in this process"
recorder = sensor.recorder
kept: list[tuple[str, typing.Any]] = []


class Copying(collections.deque):  # type: ignore[type-arg]
    """The recorder's queue, also remembering what went in (the log thread empties it)."""

    label = ""

    def append(self, item: typing.Any) -> None:
        kept.append((self.label, item[0] if self.label == "pending" else item))
        super().append(item)


pending = Copying(recorder.pending)
pending.label = "pending"
judge_only = Copying(recorder.judge_only, maxlen=recorder.judge_only.maxlen)
judge_only.label = "judge_only"
recorder.pending, recorder.judge_only = pending, judge_only

# OpenTelemetry set up (as importing mcp does): the detections judge start-up records from now
import dataclasses  # noqa: E402
import json  # noqa: E402

import opentelemetry.trace  # noqa: E402, F401
import pydantic  # noqa: E402  (library machinery generating code: recorded, marked)


class Item(pydantic.BaseModel):
    name: str
    parent: typing.Optional["Item"] = None  # a forward reference
    tags: "list[str]" = []


@dataclasses.dataclass
class Point:
    x: int
    y: "float" = 0.0


Item.model_rebuild()
typing.get_type_hints(Point)

# what a tool could do: a string exec'd, a compiled string importing by name, and a forward
# reference whose evaluation imports (typing compiles it: library code, judged all the same)
namespace: dict[str, typing.Any] = {}
exec("value = __import__('os').getcwd()", namespace)
compiled = compile("value = __import__('base64').b64decode('aGk=')", "<payload>", "exec")
exec(compiled, namespace)
typing.get_type_hints(
    type("Hinted", (), {"__annotations__": {"v": "__import__('os').sep and int"}})
)


def plain(value: typing.Any) -> typing.Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


startup = sensor.registry.startup
with recorder.lock:
    rows = [
        {
            "queue": label,
            "name": record[1][0],
            "category": record[1][1],
            "audit_event": record[1][3],
            "attributes": {key: plain(value) for key, value in record[1][2].items()},
            "how": record[2],
        }
        for label, record in kept
    ]
    summary = {
        "records": rows,
        "counts": dict(startup.counts),
        "kept": dict(startup.kept),
        "dropped": startup.dropped,
        "span_cap": recorder.span_cap,
        "errors": sensor.errors,
    }
with open(sys.argv[1], "w") as handle:
    json.dump(summary, handle)
