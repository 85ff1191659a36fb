"""Threads carry their tool: work a tool hands to another thread lands on that tool's span.

A real MCP client makes waves of concurrent calls to threads_server.py over stdio.  Some
calls leave threads running after they return while other calls are in flight; the rest
use plain threads, a Thread subclass, ThreadPoolExecutor, loop.run_in_executor,
anyio.to_thread and _thread.start_new_thread inside the call.  Every file opened is named
after the call's tag, so each recorded open can be checked against the span it landed on.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from helpers import HERE, Recorded

from mcptrace.record import vocabulary as ev
from support import PYTHON, SPAN_KIND_SERVER, clean_env, mcptrace_cmd, run_under_mcptrace

pytestmark = pytest.mark.slow

SERVER = HERE / "threads_server.py"
DRIVER = HERE / "drive_concurrent.py"
LINGER = 40  # opens by each lingering thread, 10 ms apart: ~0.4 s, past its call
BUSY = 40
INSIDE = 5  # opens per thread for work that finishes inside the call (4 threads: 20 events)
VIOLATION = "mcptrace.policy.violation"


def linger(tool: str, work: Path, tag: str) -> tuple[str, dict[str, Any]]:
    return tool, {"directory": str(work), "tag": tag, "count": LINGER, "interval": 0.01}


def busy(work: Path, tag: str) -> tuple[str, dict[str, Any]]:
    return "busy", {"directory": str(work), "tag": tag, "count": BUSY, "interval": 0.01}


def inside(tool: str, work: Path, tag: str) -> tuple[str, dict[str, Any]]:
    return tool, {"directory": str(work), "tag": tag, "count": INSIDE}


def opens_inside(tool: str) -> int:
    return INSIDE if tool == "low_level_thread" else 4 * INSIDE


INSIDE_TOOLS = (
    "plain_threads",
    "executor_map",
    "run_in_executor",
    "anyio_to_thread",
    "low_level_thread",
    "mp_thread_pool",  # its workers were started by an earlier call (tag mpFirst)
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recorded, Path, dict[str, str]]:
    work = tmp_path_factory.mktemp("threads")
    spool = work / "spool"
    files = work / "files"
    files.mkdir()
    waves = [
        [linger("linger", files, "plainA"), busy(files, "busyA")],
        [linger("linger_subclass", files, "subB"), busy(files, "busyB")],
        [linger("linger_pool", files, "poolC"), busy(files, "busyC")],
        [linger("linger", files, "forbidden1"), busy(files, "busyD")],
        [("drain", {"seconds": 20})],
        [inside("mp_thread_pool", files, "mpFirst")],
        [inside(tool, files, f"in{index}") for index, tool in enumerate(INSIDE_TOOLS)],
        [linger("linger", files, "lastE")],
        [("drain", {"seconds": 20})],
        [inside("poke_background", files, "bgF")],
    ]
    tags = [args["tag"] for wave in waves for _, args in wave if "tag" in args]
    for tag in tags:
        for index in range(max(LINGER, BUSY)):
            (files / f"{tag}-{index}").write_text("x")
    policy = work / "policy.toml"
    policy.write_text(
        '[policy]\nmode = "observe"\n\n[[rule]]\nid = "no-forbidden"\n'
        f'category = "file_read"\npaths = ["{files}/forbidden*"]\n'
    )
    result = run_under_mcptrace(
        [PYTHON, str(DRIVER), str(SERVER), json.dumps(waves)],
        spool,
        "--policy",
        str(policy),
        env=clean_env(MCPTRACE_CAPTURE_ARGUMENTS="true"),
        timeout=240,
    )
    results = json.loads(result.stdout.splitlines()[-1])
    assert not [item for item in results if item["error"]], result.stderr
    recorded = Recorded(spool)
    span_of_tag: dict[str, str] = {}
    for span in recorded.spans:
        if span.kind != SPAN_KIND_SERVER or not span.name.startswith("tools/call"):
            continue
        arguments = json.loads(span.attributes.get("gen_ai.tool.call.arguments", "{}"))
        if "tag" in arguments:
            span_of_tag[arguments["tag"]] = span.span_id
    assert sorted(span_of_tag) == sorted(tags), recorded.span_names()
    return recorded, files, span_of_tag


def tag_of(path: str) -> str:
    return os.path.basename(path).rsplit("-", 1)[0]


def opens(recorded: Recorded, files: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(where, span id, attributes) of every recorded open of a test file."""
    found = []
    for span in recorded.spans:
        for event in span.events:
            path = str(event.attributes.get(ev.FILE_PATH, ""))
            if event.name == ev.FILE_OPEN and path.startswith(str(files)):
                found.append(("span event", span.span_id, event.attributes))
    for record in recorded.sensor_logs(ev.FILE_OPEN):
        if str(record.attributes.get(ev.FILE_PATH, "")).startswith(str(files)):
            found.append(("log record", record.span_id, record.attributes))
    return found


def test_no_event_lands_on_another_calls_span(
    run: tuple[Recorded, Path, dict[str, str]],
) -> None:
    recorded, files, span_of_tag = run
    found = opens(recorded, files)
    wrong = [
        (where, tag_of(str(attributes[ev.FILE_PATH])), attributes[ev.ATTRIBUTION])
        for where, span_id, attributes in found
        if span_id != span_of_tag[tag_of(str(attributes[ev.FILE_PATH]))]
    ]
    assert not wrong, f"{len(wrong)} of {len(found)} opens on a wrong span: {wrong[:10]}"


def test_every_open_is_recorded_once_as_a_log_record(
    run: tuple[Recorded, Path, dict[str, str]],
) -> None:
    recorded, files, _ = run
    logged: Counter[str] = Counter()
    for where, _, attributes in opens(recorded, files):
        if where == "log record":  # one record per repeated open on a thread, counted
            logged[tag_of(str(attributes[ev.FILE_PATH]))] += 1 + attributes.get(ev.EVENT_REPEATS, 0)
    for tag in ("plainA", "subB", "poolC", "forbidden1", "lastE"):
        assert logged[tag] == LINGER, (tag, logged)
    for tag in ("busyA", "busyB", "busyC", "busyD"):
        assert logged[tag] == BUSY, (tag, logged)
    for index in range(len(INSIDE_TOOLS)):
        assert logged[f"in{index}"] == opens_inside(INSIDE_TOOLS[index]), (index, logged)


def test_work_inside_the_call_is_on_its_span_by_context(
    run: tuple[Recorded, Path, dict[str, str]],
) -> None:
    recorded, _, span_of_tag = run
    by_span = {span.span_id: span for span in recorded.spans}
    for index, tool in enumerate(INSIDE_TOOLS):
        span = by_span[span_of_tag[f"in{index}"]]
        events = [e for e in span.events if e.name == ev.FILE_OPEN]
        total = sum(1 + e.attributes.get(ev.EVENT_REPEATS, 0) for e in events)
        assert total == opens_inside(tool), (tool, [e.attributes for e in events][:3])
        assert {e.attributes[ev.ATTRIBUTION] for e in events} == {"context"}, tool


def test_after_the_call_returned_events_are_log_records_marked_ended(
    run: tuple[Recorded, Path, dict[str, str]],
) -> None:
    recorded, files, _ = run
    for tag in ("plainA", "subB", "poolC", "lastE"):
        records = [
            attributes
            for where, span_id, attributes in opens(recorded, files)
            if where == "log record" and tag_of(str(attributes[ev.FILE_PATH])) == tag
        ]
        assert {r[ev.ATTRIBUTION] for r in records} == {"context"}, tag
        late = [r for r in records if r.get(ev.SPAN_ENDED) is True]
        assert late, f"{tag}: no open after its call ended (the test's timing is off)"


def test_a_violation_by_a_lingering_thread_is_charged_to_its_tool(
    run: tuple[Recorded, Path, dict[str, str]],
) -> None:
    recorded, _, span_of_tag = run
    violations = [record for record in recorded.logs if record.event_name == VIOLATION]
    assert len(violations) == LINGER, [v.attributes for v in violations][:3]
    assert {v.span_id for v in violations} == {span_of_tag["forbidden1"]}
    assert {v.attributes.get("gen_ai.tool.name") for v in violations} == {"linger"}
    for span in recorded.spans:
        on_span = [e for e in span.events if e.name == VIOLATION]
        if on_span:
            assert span.span_id == span_of_tag["forbidden1"], span.name


def test_a_thread_started_outside_any_call_is_inferred(
    run: tuple[Recorded, Path, dict[str, str]],
) -> None:
    """The one case left to inference: no tool started the thread, one call is in flight."""
    recorded, files, span_of_tag = run
    found = [
        (where, span_id, attributes)
        for where, span_id, attributes in opens(recorded, files)
        if tag_of(str(attributes[ev.FILE_PATH])) == "bgF"
    ]
    assert found
    for _, span_id, attributes in found:
        assert span_id == span_of_tag["bgF"]
        assert attributes[ev.ATTRIBUTION] == "inferred"


def test_the_view_shows_what_a_calls_threads_did_after_it_returned(
    run: tuple[Recorded, Path, dict[str, str]],
) -> None:
    _, files, span_of_tag = run
    spool = files.parent / "spool"
    result = subprocess.run(
        mcptrace_cmd("view", str(spool), "--tool", "linger*", "--json", "--limit", "0"),
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    calls = [call for s in json.loads(result.stdout)["sessions"] for call in s["calls"]]
    for tag in ("plainA", "subB", "poolC", "forbidden1", "lastE"):
        (call,) = [c for c in calls if c["server"]["span_id"] == span_of_tag[tag]]
        items = [i for i in call["activity"]["items"] if i["category"] == "file"]
        late = [i for i in items if i["action"] == "read (after return)"]
        assert late, (tag, items[:3])
        assert all(tag_of(i["target"]) == tag for i in items)
        assert call["activity"]["counts"]["file"] == LINGER, (tag, call["activity"]["counts"])
    (forbidden,) = [c for c in calls if c["server"]["span_id"] == span_of_tag["forbidden1"]]
    assert forbidden["activity"]["counts"].get("policy") == LINGER
