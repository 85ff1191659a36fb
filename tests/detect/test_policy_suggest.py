"""`mcptrace policy suggest`: learn from a run, enforce on the same workload, block the new."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from detect_support import HERE, loopback_sink

from support import PYTHON, clean_env, logs, mcptrace_cmd, run_under_mcptrace

SERVER = HERE / "suggest_server.py"
DRIVER = HERE / "drive_server.py"


def workload(data: Path, read: str) -> list[tuple[str, dict[str, object]]]:
    return [
        ("report", {}),
        ("save", {"text": "hello"}),
        ("notify", {}),
        ("run_program", {}),
        ("read_file", {"path": read}),
        ("report", {}),
    ]


def run(tmp: Path, name: str, calls: list, *options: str) -> tuple[Path, list[dict]]:
    import json

    data = tmp / "data"
    spool = tmp / name
    with loopback_sink() as port:
        result = run_under_mcptrace(
            [PYTHON, str(DRIVER), str(SERVER), json.dumps(calls)],
            spool,
            *options,
            env=clean_env(SUGGEST_DATA=str(data), SUGGEST_PORT=str(port)),
        )
    line = [line for line in result.stdout.splitlines() if line.startswith("[")][-1]
    return spool, json.loads(line)


def blocked(spool: Path) -> list[dict]:
    return [
        record.attributes
        for record in logs(spool)
        if record.event_name == "mcptrace.policy.violation"
        and record.attributes.get("mcptrace.policy.action") == "blocked"
    ]


def suggest(spool: Path, out: Path, *extra: str) -> str:
    result = subprocess.run(
        mcptrace_cmd("policy", "suggest", "--spool", str(spool), "-o", str(out), *extra),
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return out.read_text()


@pytest.mark.slow
def test_suggestion_allows_the_same_workload_and_blocks_anything_new(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (data / name).write_text(name.upper())
    calls = workload(data, str(data / "a.txt"))
    learned, first = run(tmp_path, "observe", calls)
    assert not any(result["error"] for result in first), first
    policy = tmp_path / "policy.toml"
    text = suggest(learned, policy)
    assert 'mode = "enforce"' in text and 'network = "deny"' in text
    assert 'tools = ["run_program"]' in text and "true" in text
    assert f'"{data.resolve()}/*"' in text  # three files in one folder: a glob
    check = subprocess.run(
        mcptrace_cmd("policy", "check", str(policy)),
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr

    # the same workload under the suggestion: nothing blocked, every answer the same
    again, second = run(tmp_path, "enforce", calls, "--policy", str(policy))
    assert blocked(again) == []
    assert [r["text"] for r in second if r["tool"] != "save"] == [
        r["text"] for r in first if r["tool"] != "save"
    ]
    assert not any(result["error"] for result in second), second

    # something new: another file, another program, the tool's own exec of a decoded string,
    # each blocked inside its tool, in one run: the SDK handling one refusal (logging its
    # traceback: linecache reads, dataclasses compiling) is machinery, never blocked itself
    snippet = base64.b64encode(b"result = 6 * 7").decode()
    new = [
        ("read_file", {"path": "/etc/hostname"}),
        ("run_program", {"program": "id"}),
        ("run_snippet", {"code": snippet}),
        ("report", {}),
    ]
    spool, third = run(tmp_path, "new", new, "--policy", str(policy))
    assert [result["error"] for result in third] == [True, True, True, False], third
    assert third[3]["text"] == first[0]["text"]
    rules = {v["mcptrace.policy.rule"] for v in blocked(spool)}
    assert rules == {"default.file_read", "default.process", "default.code"}, blocked(spool)


@pytest.mark.slow
def test_suggestion_for_one_tool_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("A")
    learned, _ = run(tmp_path, "observe", workload(data, str(data / "a.txt")))
    text = suggest(learned, tmp_path / "one.toml", "--tool", "run_*")
    assert 'tools = ["run_program"]' in text
    assert 'tools = ["report"]' not in text and 'tools = ["notify"]' not in text


def test_suggest_on_an_empty_spool_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = subprocess.run(
        mcptrace_cmd("policy", "suggest", "--spool", str(tmp_path / "empty")),
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "no MCP server requests" in result.stderr


@pytest.mark.slow
def test_suggest_and_test_find_the_spool_as_view_does(tmp_path: Path) -> None:
    """Without --spool: MCPTRACE_SPOOL_DIR, else $XDG_STATE_HOME/mcptrace/spool."""
    import shutil

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("A")
    learned, _ = run(tmp_path, "observe", workload(data, str(data / "a.txt")))
    state = tmp_path / "state"
    shutil.copytree(learned, state / "mcptrace" / "spool")

    def policy(*args: str, **env: str) -> str:
        result = subprocess.run(
            mcptrace_cmd("policy", *args),
            env=clean_env(**env),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def body(text: str) -> str:  # past the header naming the spool and the time
        return text[text.index("[policy]") :]

    explicit = body(policy("suggest", "--spool", str(learned)))
    assert 'tools = ["run_program"]' in explicit
    assert body(policy("suggest", MCPTRACE_SPOOL_DIR=str(learned))) == explicit
    assert body(policy("suggest", XDG_STATE_HOME=str(state))) == explicit
    rules = tmp_path / "suggested.toml"
    rules.write_text(explicit)
    tested = policy("test", str(rules), "--spool", str(learned))
    assert policy("test", str(rules), XDG_STATE_HOME=str(state)) == tested.replace(
        str(learned), str(state / "mcptrace" / "spool")
    )
