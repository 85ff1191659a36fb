"""Allowed repeats answered in C never outlive what made them allowed (the red-team corpus).

repeat_server.py (a real MCP server over stdio, driven by a real client under ``mcptrace run
--policy``, enforce mode) makes an allowed open a repeat the C hook answers by itself
(sensor/_fasthook.c, step 3), then changes one thing about that same open: where its path
leads, the working directory, the directory descriptor, the access, the tool's standing, the
process, the tool.  Every changed open must be judged again and refused, with a violation on
the tool's span.  The same corpus runs on the pure-Python hook, which must answer the same.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from policy_support import Recorded, drive, write_policy

pytestmark = pytest.mark.slow

# tool -> (the rule each changed attempt must violate, how many attempts come after the warm-up)
CHANGED = {
    "repeat_symlink_swapped": ("no-secrets", 2),
    "repeat_directory_link_swapped": ("no-secrets", 2),
    "repeat_hard_link_put_in_place": ("no-secrets", 2),
    "repeat_after_chdir": ("no-secrets", 2),
    "repeat_with_another_dir_fd": ("no-secrets", 2),
    "repeat_with_write_access": ("read-only", 8),
    "repeat_after_sensor_off": ("mcptrace.tamper", 3),
    "repeat_after_pause": ("mcptrace.tamper", 3),
    "repeat_after_slot_cleared": ("mcptrace.tamper", 3),
}
RELATIVE = {"repeat_after_chdir", "repeat_with_another_dir_fd"}
BENIGN = "harmless-benign-text"
ORIGINAL = "read-only-original"


@pytest.fixture(scope="module", params=["native", "python"])
def corpus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    base = tmp_path_factory.mktemp(f"repeats-{request.param}")
    token = "TOPSECRET-" + secrets.token_hex(8)
    secret_dir = base / "secret"
    secret_dir.mkdir()
    secret = secret_dir / "key.txt"
    secret.write_text(token)
    work = base / "work"
    for directory, name, text in [
        ("benign", "key.txt", BENIGN),
        ("readonly", "data.txt", ORIGINAL),
        ("shared", "data.txt", "shared-" + token),
    ]:
        (work / directory).mkdir(parents=True)
        (work / directory / name).write_text(text)
    # another name of a secret (repeat_server.py); not of key.txt, which keeps one name: a
    # file with several names is never answered in C, whatever else changed
    (secret_dir / "linked.txt").write_text(token)
    os.link(secret_dir / "linked.txt", work / "secret-alias")
    policy = write_policy(
        base,
        f"""
[policy]
mode = "enforce"

[[rule]]
id = "no-secrets"
category = "file_read"
paths = ["{secret_dir}/**/*.txt"]

[[rule]]
id = "read-only"
category = "file_write"
paths = ["{work}/readonly/**"]

[[rule]]
id = "sandboxed"
category = "file_read"
tools = ["sandbox_*"]
paths = ["{work}/shared/**"]
""",
    )
    arguments = {"secret": str(secret), "work": str(work)}
    # the tools that flip a switch last: a tamper taints the call it is attributed to
    switches = [name for name in CHANGED if CHANGED[name][0] == "mcptrace.tamper"]
    calls: list[Any] = [[name, arguments] for name in CHANGED if name not in switches]
    calls += [
        ["repeat_after_a_protected_name_is_added", arguments],
        ["repeat_in_forked_child", arguments],
        ["@together", [["trusted_reader", arguments], ["sandbox_reader", arguments]]],
        ["@together", [["trusted_task", arguments], ["sandbox_task", arguments]]],
        *[[name, arguments] for name in switches],
    ]
    spool = base / "spool"
    results, completed = drive(
        spool,
        policy,
        calls,
        timeout=300,
        SERVER_SCRIPT="repeat_server.py",
        MCPTRACE_MAX_EVENTS_PER_SPAN="4",  # 32 file records per span, then counting only
        MCPTRACE_NATIVE_HOOK="true" if request.param == "native" else "false",
    )
    answers = {}
    for result in results:
        assert not result["error"], result
        answers[result["tool"]] = json.loads(result["text"])
    return {
        "native": request.param == "native",
        "token": token,
        "answers": answers,
        "recorded": Recorded(spool),
        "readonly": work / "readonly" / "data.txt",
        "stderr": completed.stderr,
    }


def _refused(answer: str, token: str) -> bool:
    return token not in answer and answer.startswith("refused: PermissionError")


@pytest.mark.parametrize("tool", sorted(CHANGED))
def test_a_changed_repeat_is_judged_again(corpus: dict[str, Any], tool: str) -> None:
    rule, changed = CHANGED[tool]
    answer = corpus["answers"][tool]
    attempts = answer["attempts"]
    assert attempts[0] in (BENIGN, ORIGINAL), attempts[0]  # the warm-up was allowed
    after = attempts[1 : 1 + changed]
    assert len(after) == changed and all(_refused(a, corpus["token"]) for a in after), attempts
    violations = corpus["recorded"].violations(tool)
    assert any(v.attributes["mcptrace.policy.rule"] == rule for v in violations), [
        v.attributes for v in violations
    ]
    # the warm-up's repeats were answered in C on the C hook (never on the Python one), but
    # for relative paths: those always go to Python
    assert (answer["fast"] > 0) == (corpus["native"] and tool not in RELATIVE), answer


def test_write_access_after_read_repeats_left_the_file_alone(corpus: dict[str, Any]) -> None:
    attempts = corpus["answers"]["repeat_with_write_access"]["attempts"]
    assert attempts[-1] == ORIGINAL  # reading it stays allowed after the refusals
    assert corpus["readonly"].read_text() == ORIGINAL


def test_a_file_given_a_second_name_is_judged_by_python_again(corpus: dict[str, Any]) -> None:
    answer = corpus["answers"]["repeat_after_a_protected_name_is_added"]
    assert answer["attempts"][-1] == "answered in C after the link: 0", answer
    assert (answer["fast"] > 0) == corpus["native"], answer  # before the link it was


def test_a_forked_child_does_not_inherit_remembered_verdicts(corpus: dict[str, Any]) -> None:
    answer = corpus["answers"]["repeat_in_forked_child"]
    warmed, *child, parent_after = answer["attempts"]
    assert warmed == BENIGN and parent_after == BENIGN, answer
    assert child[0] == BENIGN, child  # the child may read it as its parent did ...
    assert all(_refused(a, corpus["token"]) for a in child[1:]), child  # ... until it tampers


@pytest.mark.parametrize(
    ("trusted_tool", "sandbox_tool"),
    [("trusted_reader", "sandbox_reader"), ("trusted_task", "sandbox_task")],
    ids=["threads", "asyncio-tasks"],
)
def test_another_tools_remembered_verdict_does_not_hold_for_this_one(
    corpus: dict[str, Any], trusted_tool: str, sandbox_tool: str
) -> None:
    trusted = corpus["answers"][trusted_tool]
    sandbox = corpus["answers"][sandbox_tool]
    assert trusted["attempts"] == ["shared-" + corpus["token"]], trusted
    assert (trusted["fast"] > 0) == corpus["native"], trusted
    assert sandbox["attempts"][0] == BENIGN, sandbox
    assert all(_refused(a, corpus["token"]) for a in sandbox["attempts"][1:]), sandbox
    rules = {v.attributes["mcptrace.policy.rule"] for v in corpus["recorded"].violations(
        sandbox_tool
    )}  # fmt: skip
    assert rules == {"sandboxed"}, rules
    assert not corpus["recorded"].violations(trusted_tool)


def test_nothing_breaks_on_the_way(corpus: dict[str, Any]) -> None:
    assert "Traceback" not in corpus["stderr"], corpus["stderr"][-3000:]
    assert os.path.exists(corpus["readonly"])
    assert not Path(corpus["readonly"]).with_suffix(".new").exists()
