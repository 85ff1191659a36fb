"""Detections end to end: a real server under `mcptrace run`, a throwaway HOME, loopback only."""

from __future__ import annotations

from pathlib import Path

import pytest
from detect_support import (
    HERE,
    RULE,
    SEVERITY,
    detection_logs,
    detections_by_tool,
    drive,
    fake_home,
    loopback_sink,
)

from support import EXAMPLES, PYTHON, run_under_mcptrace

SERVER = HERE / "detect_server.py"
WARNING_OR_WORSE = {"warning", "error", "critical"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[dict]]]:
    root = tmp_path_factory.mktemp("detect")
    home = fake_home(root)
    spool = root / "spool"
    with loopback_sink() as port:
        calls = [
            ("read_key", {}),
            ("steal_and_send", {"port": port}),
            ("persist", {}),
            ("setuid", {}),
            ("obfuscated", {}),
            ("unpickle", {}),
            ("shell", {}),
            ("wipe", {}),
            ("poisoned", {}),
            ("schema_poisoned", {"a": 2}),
            ("injected_answer", {}),
            ("benign", {"text": "one two three"}),
        ]
        results = drive(SERVER, spool, home, calls)
    assert [result["tool"] for result in results] == [name for name, _ in calls]
    return spool, detections_by_tool(spool)


EXPECTED = {
    "read_key": "credential-access.ssh-private-key",
    "steal_and_send": "exfiltration.after-collection",
    "persist": "persistence.shell-startup",
    "setuid": "privilege-escalation.setuid",
    "obfuscated": "execution.dynamic-code",
    "unpickle": "execution.unpickle-dangerous",
    "shell": "execution.shell",
    "wipe": "impact.destructive-delete",
    "poisoned": "initial-access.tool-poisoning",
    "schema_poisoned": "initial-access.tool-poisoning",  # in a parameter's description
    "injected_answer": "initial-access.tool-result-injection",  # in what it returned
}


@pytest.mark.parametrize("tool", sorted(EXPECTED))
def test_each_guilty_tool_has_its_detection_on_its_span(
    recorded: tuple[Path, dict[str, list[dict]]], tool: str
) -> None:
    _, by_tool = recorded
    rules = {event[RULE] for event in by_tool[tool]}
    assert EXPECTED[tool] in rules, by_tool[tool]
    assert any(event[SEVERITY] in WARNING_OR_WORSE for event in by_tool[tool])
    for event in by_tool[tool]:
        assert event["gen_ai.tool.name"] == tool
        assert event["mcptrace.detection.reason"]


def test_detection_carries_technique_and_subject(
    recorded: tuple[Path, dict[str, list[dict]]],
) -> None:
    _, by_tool = recorded
    (key_read,) = [e for e in by_tool["read_key"] if e[RULE] == EXPECTED["read_key"]]
    assert key_read["mcptrace.detection.technique"] == "T1552.004"
    assert key_read["file.path"].endswith("/.ssh/id_rsa")
    assert key_read["mcptrace.detection.severity"] == "critical"
    assert "id_rsa" in key_read["mcptrace.detection.reason"]


def test_benign_tool_has_no_detection(recorded: tuple[Path, dict[str, list[dict]]]) -> None:
    _, by_tool = recorded
    assert by_tool["benign"] == []


def test_every_detection_is_also_a_log_record_in_the_tool_span_context(
    recorded: tuple[Path, dict[str, list[dict]]],
) -> None:
    spool, by_tool = recorded
    records = detection_logs(spool)
    on_spans = sorted(
        (e["gen_ai.tool.name"], e[RULE]) for events in by_tool.values() for e in events
    )
    in_logs = sorted((r.attributes["gen_ai.tool.name"], r.attributes[RULE]) for r in records)
    assert in_logs == on_spans
    critical = [r for r in records if r.attributes[SEVERITY] == "critical"]
    assert critical and all(r.severity_number >= 17 for r in critical)  # ERROR and up
    assert all(r.span_id for r in records)


@pytest.mark.slow
def test_policy_file_overrides_and_silences_per_tool(tmp_path: Path) -> None:
    home = fake_home(tmp_path)
    policy = tmp_path / "policy.toml"
    policy.write_text(
        "[[detection]]\n"
        'id = "execution.shell"\n'
        'except_tools = ["shell"]\n'
        "[[detection]]\n"
        'id = "credential-access.ssh-private-key"\n'
        'severity = "notice"\n'
        "[[detection]]\n"
        'id = "team.tmp-writes"\n'
        'severity = "warning"\n'
        'reason = "wrote a scratch file {path}"\n'
        'events = ["file.open"]\n'
        'access = ["write"]\n'
        'paths = ["/tmp/**"]\n'
        'tools = ["benign"]\n'
    )
    spool = tmp_path / "spool"
    drive(
        SERVER,
        spool,
        home,
        [("shell", {}), ("read_key", {}), ("benign", {"text": "a b"})],
        "--policy",
        str(policy),
    )
    by_tool = detections_by_tool(spool)
    assert "execution.shell" not in {e[RULE] for e in by_tool["shell"]}
    (key,) = [e for e in by_tool["read_key"] if e[RULE] == "credential-access.ssh-private-key"]
    assert key[SEVERITY] == "notice"
    assert {e[RULE] for e in by_tool["benign"]} == {"team.tmp-writes"}


@pytest.mark.slow
def test_detections_can_be_switched_off(tmp_path: Path) -> None:
    home = fake_home(tmp_path)
    spool = tmp_path / "spool"
    drive(SERVER, spool, home, [("read_key", {})], MCPTRACE_DETECTIONS="false")
    assert detections_by_tool(spool)["read_key"] == []


def test_broken_detection_rule_is_one_clear_line(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[[detection]]\nid = "x"\nseverity = "loud"\nevents = ["file.open"]\n')
    result = run_under_mcptrace(["true"], tmp_path / "spool", "--policy", str(policy), check=False)
    assert result.returncode != 0
    assert "severity = 'loud'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_example_servers_raise_no_detection(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    run_under_mcptrace([PYTHON, str(EXAMPLES / "client.py")], spool)
    by_tool = detections_by_tool(spool)
    assert by_tool and all(events == [] for events in by_tool.values()), by_tool


def test_view_shows_detections_first(recorded: tuple[Path, dict[str, list[dict]]]) -> None:
    import subprocess

    from support import clean_env, mcptrace_cmd

    spool, _ = recorded
    shown = subprocess.run(
        mcptrace_cmd("view", str(spool)), env=clean_env(), capture_output=True, text=True
    )
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("detections (")
    first_session = next(i for i, line in enumerate(lines) if line.startswith("session "))
    listed = "\n".join(lines[1:first_session])
    for tool, rule in EXPECTED.items():
        assert f"{tool}: {rule}" in listed
    assert listed.index("critical") < listed.index("warning")  # most severe first
    report = spool.parent / "report.html"
    subprocess.run(
        mcptrace_cmd("view", str(spool), "--html", str(report)), env=clean_env(), check=True
    )
    html = report.read_text()
    assert html.index('id="detections"') < html.index('id="summary"')
    assert "credential-access.ssh-private-key" in html
