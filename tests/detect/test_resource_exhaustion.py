"""A tool call that exhausts the server while it runs (CPU, processes, threads, descriptors,
memory) is flagged on that call, from the sensor's own counters; an ordinary slow call, and
one that runs after another leaked descriptors, are not."""

from __future__ import annotations

from typing import Any

import pytest
from detect_support import HERE, RULE, detection_logs, detections_by_tool, drive, fake_home

SERVER = HERE / "exhaustion_server.py"
EXHAUSTION = "impact.resource-exhaustion"
LIMITS = "cpu=2,processes=8,threads=16,descriptors=64,memory=100,written=bogus"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, list[dict]], list[Any]]:
    root = tmp_path_factory.mktemp("exhaustion")
    home = fake_home(root)
    spool = root / "spool"
    calls = [
        ("wait_a_moment", {"path": str(SERVER)}),
        ("burn", {"seconds": 4}),
        ("spawn_sleepers", {"count": 12}),
        ("thread_bomb", {"count": 24}),
        ("leak_pipes", {"count": 60}),  # 120 descriptors, kept after the call
        ("wait_a_moment", {"path": str(SERVER)}),
        ("grow_memory", {"megabytes": 160}),
    ]
    results = drive(SERVER, spool, home, calls, MCPTRACE_RESOURCE_LIMITS=LIMITS)
    assert [result["tool"] for result in results] == [name for name, _ in calls]
    assert not [result for result in results if result.get("error")], results
    return detections_by_tool(spool), detection_logs(spool)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tool", "kind"),
    [
        ("burn", "cpu"),
        ("spawn_sleepers", "processes"),
        ("thread_bomb", "threads"),
        ("leak_pipes", "descriptors"),
        ("grow_memory", "memory"),
    ],
)
def test_each_exhaustion_is_flagged_on_its_call(
    run: tuple[dict[str, list[dict]], list[Any]], tool: str, kind: str
) -> None:
    by_tool, _ = run
    found = [e for e in by_tool[tool] if e[RULE] == EXHAUSTION]
    assert [e["mcptrace.resource.kind"] for e in found] == [kind], by_tool[tool]
    assert found[0]["mcptrace.detection.severity"] == "warning"
    assert "limit" in found[0]["mcptrace.detection.reason"]


@pytest.mark.slow
def test_ordinary_slow_calls_are_not_flagged(run: tuple[dict[str, list[dict]], list[Any]]) -> None:
    by_tool, _ = run
    # the second call runs with the pipes leak_pipes left open: they are its baseline
    assert by_tool["wait_a_moment"] == []


@pytest.mark.slow
def test_a_call_that_never_ends_is_flagged_while_it_runs(
    run: tuple[dict[str, list[dict]], list[Any]],
) -> None:
    _, records = run
    # each finding is also a log record linked to the call, emitted while the call still ran
    # (a CPU loop that never returns has no span end to carry it)
    assert len([r for r in records if r.attributes.get(RULE) == EXHAUSTION]) == 5
