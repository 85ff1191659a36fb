"""Opt-in capture of tool arguments/results with redaction and truncation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp_pairs import run_stdio_pair

from mcptrace.record.redact import REDACTED, redact_argv, redact_url, truncate
from mcptrace.record.redact import redact_data as redact

AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
OPENAI_KEY = "sk-proj-4fGh8JkLmNoPqRsTuVwXyZ0123456789"
BEARER = "Bearer ya29.a0AfH6SMBx-very-long-oauth-token-value"


def test_redacts_secret_keys_at_any_depth() -> None:
    data = {
        "user": "alice",
        "password": "hunter2",
        "config": {"db": {"Password": "pg-pass", "host": "db.internal"}, "API_KEY": "abc123"},
        "headers": [{"Authorization": "whatever"}, {"X-Client-Secret": "s3cr3t"}],
        "access_token": "opaque",
        "count": 3,
    }
    out = redact(data)
    assert out["user"] == "alice" and out["count"] == 3
    assert out["password"] == REDACTED
    assert out["config"]["db"] == {"Password": REDACTED, "host": "db.internal"}
    assert out["config"]["API_KEY"] == REDACTED
    assert out["headers"] == [{"Authorization": REDACTED}, {"X-Client-Secret": REDACTED}]
    assert out["access_token"] == REDACTED
    assert data["password"] == "hunter2"  # the caller's data is untouched


@pytest.mark.parametrize("secret", [AWS_KEY_ID, AWS_SECRET, JWT, OPENAI_KEY, BEARER])
def test_redacts_secret_looking_values_under_innocent_keys(secret: str) -> None:
    out = redact({"note": f"use {secret} for the call", "list": [secret]})
    assert secret not in json.dumps(out)
    assert REDACTED in out["note"] and out["note"].startswith("use ")
    assert out["list"] == [REDACTED] or REDACTED in out["list"][0]


def test_leaves_ordinary_values_alone() -> None:
    data = {
        "path": "/home/alice/projects/mcptrace/src/mcptrace/mcp/capture.py",
        "sha": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "text": "The quick brown fox jumps over the lazy dog",
    }
    assert redact(data) == data


def test_extra_redact_keys() -> None:
    assert redact({"ssn": "123-45-6789", "name": "bob"}, ["SSN"]) == {
        "ssn": REDACTED,
        "name": "bob",
    }


def test_truncation_is_utf8_safe_and_marked() -> None:
    text = "é" * 100
    cut = truncate(text, 50)
    assert len(cut.encode()) <= 50 and cut.endswith("...[truncated]")
    assert truncate("short", 50) == "short"


def test_command_and_url_never_carry_credentials() -> None:
    args = redact_argv(["server", "--token", "abc", "--api-key=xyz", f"--x={OPENAI_KEY}"])
    assert args[:3] == ["server", "--token", REDACTED]
    assert args[3] == f"--api-key={REDACTED}"
    assert OPENAI_KEY not in " ".join(args)
    url = redact_url("https://user:pw@example.com:8443/mcp?token=abc&x=1")
    assert url == "https://example.com:8443/mcp?token=[REDACTED]&x=1"


def _spool_text(spool: Path) -> str:
    return "".join(p.read_text() for p in spool.glob("*.jsonl"))


@pytest.mark.slow
def test_capture_off_by_default(tmp_path: Path) -> None:
    pair = run_stdio_pair(tmp_path / "spool", calls="login")
    for span in pair.named("tools/call login"):
        assert "gen_ai.tool.call.arguments" not in span.attributes
        assert "gen_ai.tool.call.result" not in span.attributes
    assert "hunter2-very-secret" not in _spool_text(tmp_path / "spool")


@pytest.mark.slow
def test_capture_on_records_redacted_arguments_and_results(tmp_path: Path) -> None:
    pair = run_stdio_pair(
        tmp_path / "spool",
        calls="login",
        env={"MCPTRACE_CAPTURE_ARGUMENTS": "true", "MCPTRACE_CAPTURE_MAX_BYTES": "2048"},
    )
    spans = pair.named("tools/call login")
    assert len(spans) == 2
    for span in spans:
        arguments = json.loads(span.attributes["gen_ai.tool.call.arguments"])
        assert arguments == {"username": "alice", "password": REDACTED, "api_key": REDACTED}
        result = span.attributes["gen_ai.tool.call.result"]
        assert "alice" in result and "Bearer abcdefghij" not in result
    text = _spool_text(tmp_path / "spool")
    for secret in (
        "hunter2-very-secret",
        "sk-proj-abcdefghijklmnopqrstuvwx",
        "abcdefghijklmnopqrstuvwxyz012345",
    ):
        assert secret not in text


@pytest.mark.slow
def test_capture_truncates(tmp_path: Path) -> None:
    pair = run_stdio_pair(
        tmp_path / "spool",
        calls="login",
        env={"MCPTRACE_CAPTURE_ARGUMENTS": "true", "MCPTRACE_CAPTURE_MAX_BYTES": "32"},
    )
    for span in pair.named("tools/call login"):
        value = span.attributes["gen_ai.tool.call.arguments"]
        assert len(value.encode()) <= 32 and value.endswith("...[truncated]")
