"""`mcptrace policy check|test`, and `mcptrace run` refusing a broken policy."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from policy_support import drive, listener, write_policy

from support import PYTHON, clean_env, mcptrace_cmd

BROKEN_SEMANTIC = """\
[policy]
mode = "enforce"

[[rule]]
id = "egress"
category = "network"
adresses = ["loopback"]
"""
BROKEN_SYNTAX = '[policy]\nmode = "enforce\n'


def mcptrace(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        mcptrace_cmd(*args), env=clean_env(), capture_output=True, text=True, timeout=60
    )


def test_check_accepts_a_good_policy(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        '[policy]\nmode = "enforce"\n[defaults]\nprocess = "deny"\n'
        '[[rule]]\nid = "a"\ncategory = "file_read"\npaths = ["~/.ssh/**"]\n',
    )
    result = mcptrace("policy", "check", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"{path}: valid; mode enforce, applies to tool_calls, 1 rules (1 enforced), "
        "default deny: process"
    )


def test_check_explains_every_problem_with_its_line(tmp_path: Path) -> None:
    path = write_policy(tmp_path, BROKEN_SEMANTIC)
    result = mcptrace("policy", "check", str(path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == (
        f"{path}:7:1: rule 'egress': unknown key 'adresses' for a network rule "
        "(did you mean 'addresses'?)"
    )
    assert lines[-1] == f"{path}: 1 problem; not valid"
    syntax = write_policy(tmp_path, BROKEN_SYNTAX, "syntax.toml")
    result = mcptrace("policy", "check", str(syntax))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{syntax}:2:")


@pytest.mark.parametrize(("text", "line"), [(BROKEN_SEMANTIC, 7), (BROKEN_SYNTAX, 2)])
def test_run_refuses_to_start_with_a_broken_policy(
    tmp_path: Path, spool: Path, text: str, line: int
) -> None:
    path = write_policy(tmp_path, text)
    marker = tmp_path / "started"
    result = subprocess.run(
        mcptrace_cmd(
            "run",
            "--spool",
            str(spool),
            "--policy",
            str(path),
            "--",
            PYTHON,
            "-c",
            f"open({str(marker)!r}, 'w').close()",
        ),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert not marker.exists()
    [message] = result.stderr.splitlines()
    assert message.startswith(f"mcptrace: MCPTRACE_POLICY: {path}:{line}:")
    assert message.endswith("(the command was not started)")


@pytest.mark.slow
def test_policy_test_replays_a_spool(tmp_path: Path, spool: Path) -> None:
    secret = tmp_path / "secrets" / "key.txt"
    secret.parent.mkdir()
    secret.write_text("k\n")
    sock = listener()
    port = sock.getsockname()[1]
    try:
        results, _ = drive(
            spool,
            None,  # recorded without any policy
            [
                ("read_file", {"path": str(secret)}),
                ("read_file_trusted", {"path": str(secret)}),
                ("connect", {"port": port}),
                ("echo", {"text": "x"}),
            ],
        )
    finally:
        sock.close()
    assert not any(r["error"] for r in results)
    policy = write_policy(
        tmp_path,
        f"""
[policy]
mode = "enforce"

[[rule]]
id = "trusted"
category = "file_read"
action = "allow"
paths = ["{secret.parent}/**"]
tools = ["read_file_trusted"]

[[rule]]
id = "no-secrets"
category = "file_read"
paths = ["{secret.parent}/**"]

[[rule]]
id = "watch-loopback"
category = "network"
addresses = ["loopback"]
ports = [{port}]
mode = "observe"
""",
    )
    result = mcptrace("policy", "test", str(policy), "--spool", str(spool))
    assert result.returncode == 0, result.stderr
    assert "would block 1 x rule 'no-secrets' (file_read) in tools: read_file" in result.stdout
    assert f"e.g. read_file: {secret}" in result.stdout
    assert "would report 1 x rule 'watch-loopback' (network) in tools: connect" in result.stdout
    report = json.loads(
        mcptrace("policy", "test", str(policy), "--spool", str(spool), "--json").stdout
    )
    assert report["blocked"] == 1
    assert {(f["rule"], f["action"]) for f in report["findings"]} == {
        ("no-secrets", "blocked"),
        ("watch-loopback", "observed"),
    }


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["enforce", "observe"])
def test_a_broken_policy_in_a_running_server(tmp_path: Path, spool: Path, mode: str) -> None:
    """Enforce-intended: fail closed inside tools (server lives on); observe: fail open."""
    secret = tmp_path / "data.txt"
    secret.write_text("data\n")
    broken = write_policy(tmp_path, f'[policy]\nmode = "{mode}"\n[defaults]\nnetwork = "nope"\n')
    results, run = drive(
        spool,
        None,
        [("echo", {"text": "alive"}), ("read_file", {"path": str(secret)})],
        SERVER_POLICY=str(broken),
    )
    assert results[0] == {"tool": "echo", "error": False, "text": "alive"}
    reports = [line for line in run.stderr.splitlines() if "MCPTRACE_POLICY" in line]
    assert len(reports) == 1 and f"{broken}:4:1:" in reports[0]
    if mode == "enforce":
        assert results[1]["error"] and "policy-invalid.file_read" in results[1]["text"]
        assert "blocked until it is fixed" in reports[0]
    else:
        assert results[1] == {"tool": "read_file", "error": False, "text": "data"}
        assert "running without the policy" in reports[0]
