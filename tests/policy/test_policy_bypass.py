"""The bypass corpus: every way we know to read a file in a denied directory, under enforce.

bypass_server.py (a real MCP server over stdio, run by a real client under ``mcptrace run
--policy``) has one tool per way; the policy denies reads of ``secret/``.  Each way is its
own test: its answer never holds the secret, and mcptrace recorded why (a violation on the
tool's span, a tamper event, or for what audit hooks cannot stop, the evidence README's
"Limits" names).  Runs on the C hook, and on the pure-Python one with
MCPTRACE_NATIVE_HOOK=false (a CI stage), on every supported Python (tests/run.sh).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from typing import Any

import pytest
from policy_support import VIOLATION, Recorded, drive, write_policy

from mcptrace.record import vocabulary as ev

pytestmark = pytest.mark.slow

ATTEMPTS_BLOCKED_IN_THE_TOOL = [
    "plain_open",
    "io_open",
    "pathlib_read",
    "open_code",
    "os_open_fdopen",
    "os_open_dir_fd",
    "opener_dir_fd",
    "codecs_open",
    "mmap_read",
    "shutil_copy",
    "tar_the_directory",
    "zip_the_file",
    "list_the_directory",
    "proc_self_root",
    "dotdot_through_a_symlink",
    "symlink_named_pyc",
    "loader_get_data",
    "loader_get_data_real_file",
    "symlink_swapped",
    "hard_link_made_before",
    "hard_link_made_by_the_tool",
    "import_from_the_directory",
    "importlib_spec_from_file",
    "runpy_run_path",
    "sqlite_database",
    "suppress_instrumentation",
    "sensor_paused",
    "paused_set_add",
    "sensor_switched_off",
    "uninstrument_the_sensor",
    "policy_slot_cleared",
    "set_decider_none",
    "subprocess_cat",
    "shell_cat",
    "child_isolated_mode",
    # a path that answers the check otherwise than the opener, and other spellings
    "fileio_flipping_path",
    "fileio_lying_str",
    "open_lying_str",
    "subprocess_flipping_argument",
    "subprocess_flipping_argument_late",
    "sqlite_flipping_path",
    "subprocess_lying_str",
    "io_fileio",
    "chdir_relative",
    "subprocess_cwd",
    "fwalk_dir_fd",
    "proc_self_fd_of_directory",
    "dev_fd_of_directory",
    "asyncio_subprocess",
]
# Blocked, but the library swallows the PermissionError and answers "nothing there".
ATTEMPTS_SWALLOWED = ["linecache_line", "glob_the_directory"]
# Blocked where the read happens: in another process or thread than the tool's call.
ATTEMPTS_BLOCKED_ELSEWHERE = [
    "child_opts_out",
    "child_policy_swapped",
    "child_bare_environment",
    "child_environ_edited",
    "forked_child",
    "multiprocessing_spawn",  # multiprocessing starts these through fork_exec, not Popen
    "multiprocessing_spawn_opted_out",
    "multiprocessing_forkserver",
    "collect_late_thread",  # the thread thread_outlives_its_tool started
    "thread_while_another_call_runs",
]
# Switches flipped from tool code: a tamper event naming the switch, on the tool's span.
TAMPERS = {
    "sensor_paused": ("sensor.pause",),
    "paused_set_add": ("sensor.pause",),
    "sensor_switched_off": ("sensor.active",),
    "policy_slot_cleared": ("policy.slot",),
    # refused while the lock holds; if the call before broke the lock too, the slot it then
    # clears is put back by the hook at once
    "set_decider_none": ("set_decider", "policy.slot"),
}
DENIALS = ("PermissionError", "PolicyViolation", "mcptrace policy", "blocked")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("bypass")
    token = "TOPSECRET-" + secrets.token_hex(8)
    secret_dir = base / "secret"
    (secret_dir / "inner").mkdir(parents=True)
    secret = secret_dir / "key.txt"
    secret.write_text(token + "\n", encoding="utf-8")
    (secret_dir / "secret_module.py").write_text(f"VALUE = {token!r}\n", encoding="utf-8")
    with sqlite3.connect(secret_dir / "store.db") as connection:
        connection.execute("create table secrets (value text)")
        connection.execute("insert into secrets values (?)", (token,))
    connection.close()
    work = base / "work"
    work.mkdir()
    os.link(secret, work / "hardlink")  # another name of the secret, made before the server
    policy = write_policy(
        base,
        f"""
[policy]
mode = "enforce"

[[rule]]
id = "no-secrets"
category = "file_read"
paths = ["{secret_dir}/**"]
""",
    )
    arguments = {"secret": str(secret), "work": str(work)}
    calls: list[Any] = [
        [name, arguments] for name in ATTEMPTS_BLOCKED_IN_THE_TOOL + ATTEMPTS_SWALLOWED
    ]
    calls += [[name, arguments] for name in ATTEMPTS_BLOCKED_ELSEWHERE[:8]]
    calls += [["thread_outlives_its_tool", arguments], ["collect_late_thread", arguments]]
    calls += [
        [
            "@together",
            [["wait_a_while", arguments], ["thread_while_another_call_runs", arguments]],
        ],
        ["ctypes_libc_open", arguments],
        ["plain_open", {"secret": str(work / "hardlink") + ".missing", "work": str(work)}],
    ]
    spool = base / "spool"
    results, completed = drive(spool, policy, calls, timeout=600, SERVER_SCRIPT="bypass_server.py")
    return {
        "token": token,
        "results": {result["tool"]: result for result in results[:-1]},
        "last": results[-1],
        "recorded": Recorded(spool),
        "stderr": completed.stderr,
    }


def _assert_denied(corpus: dict[str, Any], name: str, said: bool = True) -> dict[str, Any]:
    result = corpus["results"][name]
    assert corpus["token"] not in result["text"], f"{name} read the secret: {result}"
    assert not said or any(word in result["text"] for word in DENIALS), f"{name}: {result}"
    return result


@pytest.mark.parametrize("name", ATTEMPTS_BLOCKED_IN_THE_TOOL + ATTEMPTS_SWALLOWED)
def test_blocked_inside_the_tool(corpus: dict[str, Any], name: str) -> None:
    swallowed = name in ATTEMPTS_SWALLOWED
    result = _assert_denied(corpus, name, said=not swallowed)
    assert result["error"] or swallowed, result
    recorded: Recorded = corpus["recorded"]
    violations = [
        event
        for span in recorded.tool_spans(name)  # plain_open runs twice: the last reads no secret
        for event in span.events
        if event.name == VIOLATION
    ]
    assert violations, f"{name}: no violation on its span"
    assert all(v.attributes["mcptrace.policy.action"] == "blocked" for v in violations)


@pytest.mark.parametrize("name", ATTEMPTS_BLOCKED_ELSEWHERE)
def test_blocked_in_other_processes_and_threads(corpus: dict[str, Any], name: str) -> None:
    _assert_denied(corpus, name)


@pytest.mark.parametrize(("name", "switches"), sorted(TAMPERS.items()))
def test_switches_flipped_by_a_tool_are_tamper_events(
    corpus: dict[str, Any], name: str, switches: tuple[str, ...]
) -> None:
    recorded: Recorded = corpus["recorded"]
    span = recorded.tool_span(name)
    tampers = [e for e in span.events if e.name == ev.SENSOR_TAMPER]
    assert any(e.attributes.get("mcptrace.tamper.target") in switches for e in tampers), [
        e.attributes for e in tampers
    ]
    rules = {e.attributes.get("mcptrace.policy.rule") for e in span.events if e.name == VIOLATION}
    assert "mcptrace.tamper" in rules, rules  # what the tool did next was denied for it


def test_the_server_keeps_serving_after_every_attempt(corpus: dict[str, Any]) -> None:
    last = corpus["last"]  # plain_open of a missing file outside the denied directory
    assert last["tool"] == "plain_open" and last["error"], last


def test_libc_through_ctypes_is_evidence_only(corpus: dict[str, Any]) -> None:
    """C code calling libc is not audited: the read succeeds, the symbol lookup is recorded."""
    result = corpus["results"]["ctypes_libc_open"]
    assert corpus["token"] in result["text"], result  # if this fails, the README's Limits lie
    span = corpus["recorded"].tool_span("ctypes_libc_open")
    symbols = [
        e.attributes.get(ev.NATIVE_SYMBOL_NAME) for e in span.events if e.name == ev.NATIVE_SYMBOL
    ]
    assert "open" in symbols and "read" in symbols, symbols
