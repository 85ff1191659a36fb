"""Who called: clientInfo attributes, and the HTTP principal hashed with a keyed hash (in clear
only on opt-in), with a per-install key kept 0600 next to the hash cache."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mcptrace.config import ConfigError, load_settings
from mcptrace.mcp.callers import PrincipalReader, client_info_attributes


class Request:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = {k.lower(): v for k, v in headers.items()}


def test_client_info_from_wire_dicts_and_models() -> None:
    assert client_info_attributes({"name": "claude-code", "version": "2.1.0"}) == {
        "mcptrace.mcp.client.name": "claude-code",
        "mcptrace.mcp.client.version": "2.1.0",
    }

    class Model:
        name, version = "cursor", "1.0"

    assert client_info_attributes(Model())["mcptrace.mcp.client.name"] == "cursor"
    # hostile or missing values: nothing invented, nothing unbounded
    assert client_info_attributes(None) == {}
    assert client_info_attributes({"name": 3, "version": ["x"]}) == {}
    long = client_info_attributes({"name": "n" * 10_000})
    assert len(long["mcptrace.mcp.client.name"]) == 256
    # the peer's text is the program's input like any other: redacted before it is cut
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    for name in (f"agent {token}", "x" * 240 + " " + token, f"https://bot:{token}@example.com"):
        recorded = client_info_attributes({"name": name, "version": name})
        assert token[:12] not in str(recorded), name
        assert recorded["mcptrace.mcp.client.name"].startswith(name[:5])


def test_principal_is_a_keyed_hash_by_default() -> None:
    reader = PrincipalReader("header:x-user", clear=False, key=b"k" * 32)
    found = reader.attributes(Request({"X-User": "alice@example.com"}))
    expected = hmac.new(b"k" * 32, b"alice@example.com", hashlib.sha256).hexdigest()[:32]
    assert found == {"enduser.pseudo.id": expected}
    assert "alice" not in str(found)
    other_key = PrincipalReader("header:x-user", clear=False, key=b"z" * 32)
    assert other_key.attributes(Request({"X-User": "alice@example.com"})) != found
    assert reader.attributes(Request({})) == {}  # no header: nothing


def test_principal_in_clear_only_on_opt_in() -> None:
    reader = PrincipalReader("header:x-user", clear=True, key=None)
    assert reader.attributes(Request({"X-User": "alice"})) == {"user.id": "alice"}


def test_principal_source_is_validated() -> None:
    assert load_settings(env={"MCPTRACE_PRINCIPAL": "header:x-user"}).principal == "header:x-user"
    assert load_settings(env={"MCPTRACE_PRINCIPAL": "auth"}).principal == "auth"
    with pytest.raises(ConfigError, match="header:NAME or auth"):
        load_settings(env={"MCPTRACE_PRINCIPAL": "cookie"})


def test_install_key_is_made_once_with_owner_only_permissions(tmp_path: Path) -> None:
    cache = tmp_path / "state" / "hash-cache.sqlite3"
    code = textwrap.dedent(
        """
        from mcptrace.mcp.callers import principal_attributes
        class R: headers = {"x-user": "bob"}
        print(principal_attributes(R())["enduser.pseudo.id"])
        """
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MCPTRACE_")},
        "MCPTRACE_HASH_CACHE": str(cache),
        "MCPTRACE_PRINCIPAL": "header:x-user",
    }
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout and len(first.stdout.strip()) == 32
    key = cache.parent / "principal.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_bytes()) == 32
    expected = hmac.new(key.read_bytes(), b"bob", hashlib.sha256).hexdigest()[:32]
    assert first.stdout.strip() == expected
