"""The terminal tree, its filters and the --json schema, on a recorded spool."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest
from spoolgen import BASE_NS
from view_support import assert_snapshot

from mcptrace.cli import main
from mcptrace.view.model import parse_since
from support import clean_env, mcptrace_cmd


def view(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(["view", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize(
    ("snapshot", "options"),
    [
        ("tree.txt", []),
        ("tree-tool-read.txt", ["--tool", "read_*"]),
        ("tree-category-network.txt", ["--category", "network"]),
        ("tree-category-policy-process.txt", ["--category", "policy,process"]),
        ("tree-limit.txt", ["--limit", "2"]),
    ],
)
def test_tree_matches_snapshot(
    recorded_spool: Path, capsys: pytest.CaptureFixture[str], snapshot: str, options: list[str]
) -> None:
    assert_snapshot(snapshot, view(capsys, str(recorded_spool), *options))


def test_tree_joins_client_and_server_spans_and_shows_what_each_call_did(
    recorded_spool: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = view(capsys, str(recorded_spool))
    lines = out.splitlines()
    # one session joining the client's and the server's session ids, one server-only session
    assert lines[0] == (
        "session c0ffee00-0000-4000-8000-000000000001 ⇄ 5e55e000-0000-4000-8000-000000000002"
    )
    fetch = next(line for line in lines if "tools/call fetch_url" in line)
    assert "140.0 ms" in fetch and "client ⇄ server 131.0 ms" in fetch
    assert "server span only" in next(line for line in lines if "10:00:05.000" in line)
    # the child span's connect rolls up into the tool call that contains it
    assert any("connect" in line and "api.internal:8443/tcp" in line for line in lines)
    # the sensor's own counters win over the detailed events it kept
    assert any("250 events: file 250 · dropped 247" in line for line in lines)
    # log-record twins of span events are not counted twice; start-up imports are shown apart
    assert any("3 events: file 2 · import 1" in line for line in lines)
    assert "outside any request  files-server" in out
    assert "notifications/initialized" not in out


def test_trace_filter_takes_an_id_or_a_prefix(
    recorded_spool: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(view(capsys, str(recorded_spool), "--json"))
    fetch = next(
        call
        for session in data["sessions"]
        for call in session["calls"]
        if call["tool"] == "fetch_url"
    )
    for given in (fetch["trace_id"], fetch["trace_id"][:10].upper()):
        out = view(capsys, str(recorded_spool), "--trace", given)
        calls = [line for line in out.splitlines() if "trace " in line]
        assert len(calls) == 1 and "tools/call fetch_url" in calls[0]
        assert "outside any request" not in out


def test_since_keeps_recent_requests(
    recorded_spool: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = view(capsys, str(recorded_spool), "--since", "2026-01-15T10:00:04Z")
    assert "10:00:05.000  tools/call read_file" in out
    assert "fetch_url" not in out
    # a duration counts back from now: the recorded spool is long past
    out = view(capsys, str(recorded_spool), "--since", "10m")
    assert out.startswith("no MCP requests in ")


def test_parse_since_accepts_durations_and_iso_times() -> None:
    from datetime import datetime, timezone

    now = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
    assert parse_since("1h30m", now) == int((now.timestamp() - 5400) * 1e9)
    assert parse_since("90s", now) == int((now.timestamp() - 90) * 1e9)
    assert parse_since("2026-01-15T10:00:00Z") == BASE_NS
    assert parse_since("2026-01-15T10:00:00") == BASE_NS  # naive means UTC, as printed
    assert parse_since("2026-01-15T11:00:00+01:00") == BASE_NS
    with pytest.raises(ValueError, match="expected a duration"):
        parse_since("yesterday")


def test_bad_options_give_one_clear_line(
    recorded_spool: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["view", str(recorded_spool), "--category", "disk"]) == 2
    assert "--category 'disk': expected one of detection, file, network" in capsys.readouterr().err
    assert main(["view", str(recorded_spool), "--since", "soon"]) == 2
    assert "--since 'soon'" in capsys.readouterr().err
    assert main(["view", str(tmp_path / "absent")]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "no spool at" in err


def test_default_spool_comes_from_the_settings(recorded_spool: Path) -> None:
    result = subprocess.run(
        mcptrace_cmd("view"),
        env=clean_env(MCPTRACE_SPOOL_DIR=str(recorded_spool)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "tools/call fetch_url" in result.stdout
    assert result.stderr == ""
    assert "\x1b[" not in result.stdout  # a pipe: no colours


def _run_in_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run with stdout on a pseudo-terminal, as a user at a shell would."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=60) == 0
    return b"".join(chunks).decode()


def test_colours_on_a_terminal_unless_no_color(recorded_spool: Path) -> None:
    args = mcptrace_cmd("view", str(recorded_spool))
    coloured = _run_in_terminal(args, clean_env(TERM="xterm"))
    assert "\x1b[31mERR\x1b[0m" in coloured
    plain = _run_in_terminal(args, clean_env(TERM="xterm", NO_COLOR="1"))
    assert "\x1b[" not in plain and "ERR" in plain


def test_json_schema(recorded_spool: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(view(capsys, str(recorded_spool), "--json"))
    assert data["schema"] == "mcptrace.view/1"
    assert set(data) == {
        "schema", "spool", "read", "limit", "filters", "summary", "sessions", "outside",
    }  # fmt: skip
    assert data["limit"] == 1000
    assert data["read"]["malformed"] == 0 and data["read"]["spans"] == 18
    summary = data["summary"]
    assert set(summary) == {
        "requests", "tool_calls", "tool_errors", "error_rate", "p95_duration_ms", "tools",
        "hosts_contacted", "files_written", "processes_spawned", "module_mismatches",
        "violations", "detections", "clients", "events", "dropped",
    }  # fmt: skip
    assert summary["tool_calls"] == 5 and summary["tool_errors"] == 2
    assert summary["hosts_contacted"] == ["api.internal:8443", "example.org:443"]
    assert summary["files_written"] == ["/srv/out/report.md", "/srv/out/tmp.json"]
    assert summary["processes_spawned"] == ["/bin/sh -c 'ls -l /tmp'"]
    assert summary["module_mismatches"] == ["plugins.evil", "requests"]
    assert summary["violations"] == [
        {"rule": "no-subprocess", "action": "observed", "count": 1},
        {"rule": "project-root-only", "action": "blocked", "count": 1},
    ]
    assert summary["dropped"] == 247
    first, lone = data["sessions"]
    assert set(first) == {
        "key", "session_ids", "services", "clients", "transport", "start", "end", "requests",
        "errors", "requests_not_shown", "calls",
    }  # fmt: skip
    assert first["services"] == ["agent", "files-server"] and first["transport"] == "pipe"
    assert lone["session_ids"] == ["5e55e000-0000-4000-8000-000000000003"]
    call = next(c for c in first["calls"] if c["tool"] == "fetch_url")
    assert set(call) == {
        "name", "method", "tool", "trace_id", "request_id", "start", "start_unix_nano",
        "duration_ms", "status", "error_type", "error_message", "transport", "client",
        "server", "activity",
    }  # fmt: skip
    assert call["start"] == "2026-01-15T10:00:00.300Z" and call["duration_ms"] == 140.0
    assert set(call["client"]) == {"span_id", "session_id", "service", "duration_ms"}
    assert call["client"]["service"] == "agent" and call["server"]["service"] == "files-server"
    assert call["activity"]["counts"] == {"network": 4, "import": 1}
    assert {"category": "import", "action": "mismatch", "target": "requests", "count": 1,
            "flagged": True} in call["activity"]["items"]  # fmt: skip
    assert lone["calls"][0]["client"] is None and lone["calls"][0]["status"] == "error"
    assert data["outside"][0]["service"] == "files-server"


def test_json_respects_filters(recorded_spool: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(view(capsys, str(recorded_spool), "--json", "--category", "policy"))
    calls = [c for s in data["sessions"] for c in s["calls"]]
    assert [c["tool"] for c in calls] == ["run_script", "read_file"]
    assert all(set(c["activity"]["counts"]) == {"policy"} for c in calls)
    assert data["filters"]["categories"] == ["policy"]
    assert data["outside"] == []


def test_malformed_and_partial_lines_are_skipped(
    recorded_spool: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    for path in recorded_spool.iterdir():
        (spool / path.name).write_bytes(path.read_bytes())
    with (spool / "traces-99999999T000000-1-0001.jsonl").open("w") as handle:
        handle.write('{"resourceSpans": [\n{"truncated": ')
    data = json.loads(view(capsys, str(spool), "--json"))
    assert data["read"]["malformed"] == 1
    assert data["summary"]["tool_calls"] == 5


def test_an_empty_spool_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    assert view(capsys, str(spool)) == f"no MCP requests in {spool}\n"
    data = json.loads(view(capsys, str(spool), "--json"))
    assert data["sessions"] == [] and data["summary"]["requests"] == 0


def test_a_closed_pipe_ends_quietly(recorded_spool: Path) -> None:
    # `mcptrace view | head -1`: the reader goes away before the output is written
    process = subprocess.Popen(
        mcptrace_cmd("view", str(recorded_spool)),
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    assert process.stderr.read() == b""
    assert process.wait(timeout=60) == 0


@pytest.mark.parametrize("limit", ["1", "2", "3"])
def test_requests_beyond_the_limit_still_count_in_totals_and_summary(
    recorded_spool: Path, capsys: pytest.CaptureFixture[str], limit: str
) -> None:
    everything = json.loads(view(capsys, str(recorded_spool), "--json", "--limit", "0"))
    limited = json.loads(view(capsys, str(recorded_spool), "--json", "--limit", limit))
    assert limited["summary"] == everything["summary"]
    for full, part in zip(everything["sessions"], limited["sessions"], strict=True):
        for key in ("session_ids", "services", "start", "end", "requests", "errors"):
            assert part[key] == full[key], key
    shown = [c for s in limited["sessions"] for c in s["calls"]]
    assert len(shown) == int(limit)
    # the most recent ones, both halves joined
    assert shown == [c for s in everything["sessions"] for c in s["calls"]][-int(limit) :]


def test_requests_folded_before_their_other_half_arrives(recorded_spool: Path) -> None:
    """With no patience, requests are folded while waiting for their other half: when it
    comes, its events, errors and session still count (durations are the half seen)."""
    from mcptrace.view.jsonout import model_dict
    from mcptrace.view.model import Filters, build_model

    filters = Filters()
    full = model_dict(build_model(recorded_spool, filters, limit=0), filters)
    early = model_dict(build_model(recorded_spool, filters, limit=1, patience=0), filters)
    exact = ("requests", "tool_calls", "tool_errors", "events", "dropped", "hosts_contacted",
             "files_written", "processes_spawned", "module_mismatches", "violations")  # fmt: skip
    for key in exact:
        assert early["summary"][key] == full["summary"][key], key
    assert [t["name"] for t in early["summary"]["tools"]] == [
        t["name"] for t in full["summary"]["tools"]
    ]
    for whole, folded in zip(full["sessions"], early["sessions"], strict=True):
        assert (folded["requests"], folded["errors"]) == (whole["requests"], whole["errors"])
        assert sorted(folded["session_ids"]) == sorted(whole["session_ids"])


def test_coalesced_repeats_count_as_the_events_they_stand_for() -> None:
    from mcptrace.view.model import Activity

    activity = Activity()
    opened = {"file.path": "/etc/app.toml", "mcptrace.file.access": "read"}
    activity.add_event("mcptrace.file.open", BASE_NS, {**opened, "mcptrace.event.repeats": 4})
    activity.add_event("mcptrace.file.open", BASE_NS + 1, opened)
    # the span's own counter (6 opens) agrees: nothing is added twice
    activity.add_span_counters({"mcptrace.events.file.count": 6}, dict(activity.counts))
    assert activity.counts == {"file": 6}
    assert [(d.target, d.count) for d in activity.details_in(["file"])] == [("/etc/app.toml", 6)]
