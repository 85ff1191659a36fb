"""A tool's child processes are judged as the tool's: a ``python -c`` child and a spawned
process-pool worker that read the SSH key get the detection, named for the tool that started
them, in a span under that tool's call; a pool squaring numbers gets nothing.

The child is instrumented (its parent passed it ``TRACEPARENT`` and ``MCPTRACE_PARENT_TOOL``):
its process span is judged when it exits, even when it only activated OpenTelemetry at exit.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from detect_support import HERE, RULE, detection_logs, drive, fake_home

from support import SPAN_KIND_SERVER, spans

pytestmark = pytest.mark.slow  # a real server per module: CI, not the fast loop

SERVER = HERE / "child_server.py"
KEY_RULE = "credential-access.ssh-private-key"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("children")
    home = fake_home(root)
    spool = root / "spool"
    calls = [
        ("child_steals", {}),
        ("child_installs", {}),
        ("worker_steals", {}),
        ("worker_squares", {}),
    ]
    results = drive(SERVER, spool, home, calls)
    assert [r["tool"] for r in results] == [name for name, _ in calls]
    assert not any(r["error"] for r in results), results
    return spool


def _by_call(spool: Path) -> dict[str, set[str]]:
    """Detection rules by the tool call whose span (or a span under it) they are linked to."""
    recorded = spans(spool)
    parent = {span.span_id: span.parent_span_id for span in recorded}
    tool = {
        span.span_id: span.name.removeprefix("tools/call ")
        for span in recorded
        if span.kind == SPAN_KIND_SERVER and span.name.startswith("tools/call ")
    }
    found: dict[str, set[str]] = {name: set() for name in tool.values()}
    for log in detection_logs(spool):
        span_id = log.span_id or ""
        for _ in range(16):
            if not span_id or span_id in tool:
                break
            span_id = parent.get(span_id, "")
        found.setdefault(tool.get(span_id, "<none>"), set()).add(log.attributes[RULE])
    return found


def test_a_python_c_child_reading_the_key_is_the_tools_detection(recorded: Path) -> None:
    assert KEY_RULE in _by_call(recorded)["child_steals"]


def test_a_spawned_pool_worker_reading_the_key_is_the_tools_detection(recorded: Path) -> None:
    assert KEY_RULE in _by_call(recorded)["worker_steals"]


def test_the_childs_detection_names_the_tool_that_started_it(recorded: Path) -> None:
    named = {
        log.attributes.get("gen_ai.tool.name")
        for log in detection_logs(recorded)
        if log.attributes[RULE] == KEY_RULE
    }
    assert named == {"child_steals", "worker_steals"}


def test_a_childs_unreported_spawn_sets_up_no_exfiltration(recorded: Path) -> None:
    """pip asks `uname` (a discovery command, not reported in a child) and then connects to
    its index: that is no exfiltration after collection."""
    found = _by_call(recorded)["child_installs"]
    assert "exfiltration.after-collection" not in found, found
    assert "discovery.system-commands" not in found, found


def test_a_pool_doing_ordinary_work_raises_nothing(recorded: Path) -> None:
    found = _by_call(recorded)
    assert found["worker_squares"] == set()
    assert "<none>" not in found, found
