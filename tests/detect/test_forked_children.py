"""What a tool's forked child does (a copy of the server, no new interpreter: no
``TRACEPARENT``) is judged as the tool's, on its call: the e06 class of the evasive corpus,
a shell ``execv``'d on a pseudo-terminal, was judged as no call's and left unreported."""

from __future__ import annotations

from typing import Any

import pytest
from detect_support import HERE, RULE, detection_logs, drive, fake_home

from support import spans

pytestmark = pytest.mark.slow  # a real server per module: CI, not the fast loop

SERVER = HERE / "forking_server.py"


@pytest.fixture(scope="module")
def by_tool(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    root = tmp_path_factory.mktemp("forked")
    home = fake_home(root)
    spool = root / "spool"
    calls: list[tuple[str, dict[str, Any]]] = [
        ("terminal", {"text": "hi"}),
        ("fork_and_exec_shell", {"key": str(home / ".ssh" / "id_rsa")}),
        ("fork_worker", {"n": 10}),
    ]
    results = drive(SERVER, spool, home, calls)
    assert [result["tool"] for result in results] == [name for name, _ in calls]
    tool_of = {
        span.span_id: span.name.removeprefix("tools/call ")
        for span in spans(spool)
        if span.name.startswith("tools/call ")
    }
    found: dict[str, set[str]] = {tool: set() for tool in tool_of.values()}
    for record in detection_logs(spool):
        tool = tool_of.get(record.span_id or "")
        if tool is not None:  # linked to the call that forked
            found[tool].add(str(record.attributes[RULE]))
            assert record.attributes.get("gen_ai.tool.name") == tool, record.attributes
    return found


@pytest.mark.parametrize(
    ("tool", "rule"),
    [
        ("terminal", "execution.shell"),
        ("fork_and_exec_shell", "credential-access.secret-in-command"),
    ],
)
def test_a_forked_childs_exec_is_judged_on_the_call(
    by_tool: dict[str, set[str]], tool: str, rule: str
) -> None:
    assert rule in by_tool[tool], by_tool


def test_a_forked_worker_doing_nothing_is_not_flagged(by_tool: dict[str, set[str]]) -> None:
    assert by_tool["fork_worker"] == set()
