"""End to end: a real MCP client and server under `mcptrace run --policy` (enforce/observe)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from policy_support import Recorded, drive, listener, pending_connections, write_policy

pytestmark = pytest.mark.slow

ENFORCE = """
[policy]
mode = "enforce"

[[rule]]
id = "no-secrets"
category = "file_read"
paths = ["{secrets}/**"]

[[rule]]
id = "no-egress-to-listener"
category = "network"
addresses = ["127.0.0.1"]
ports = [{port}]

[[rule]]
id = "no-subprocess"
category = "process"
executables = ["**"]
"""


def _secret(tmp_path: Path) -> Path:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    secret = secrets / "token.txt"
    secret.write_text("s3cr3t\n", encoding="utf-8")
    return secret


def _enforce_on_secrets(tmp_path: Path, secret: Path, rule_id: str, category: str) -> Path:
    """An enforcing policy with one deny rule over the secret's directory."""
    return write_policy(
        tmp_path,
        f"""
[policy]
mode = "enforce"

[[rule]]
id = "{rule_id}"
category = "{category}"
paths = ["{secret.parent}/**"]
""",
    )


def test_enforce_blocks_inside_the_tool_and_the_server_keeps_serving(
    tmp_path: Path, spool: Path
) -> None:
    secret = _secret(tmp_path)
    sock = listener()
    try:
        port = sock.getsockname()[1]
        policy = write_policy(tmp_path, ENFORCE.format(secrets=secret.parent, port=port))
        results, _ = drive(
            spool,
            policy,
            [
                ("read_file", {"path": str(secret)}),
                ("echo", {"text": "after-read"}),
                ("connect", {"port": port}),
                ("echo", {"text": "after-connect"}),
                ("spawn", {"word": "hello"}),
                ("echo", {"text": "after-spawn"}),
            ],
        )
        time.sleep(0.2)
        # the connect was refused before any packet: nothing reached the listener
        assert pending_connections(sock) == 0
    finally:
        sock.close()

    by_tool = {(r["tool"], r["text"]) for r in results if not r["error"]}
    assert ("echo", "after-read") in by_tool
    assert ("echo", "after-connect") in by_tool
    assert ("echo", "after-spawn") in by_tool
    errors = {r["tool"]: r["text"] for r in results if r["error"]}
    assert set(errors) == {"read_file", "connect", "spawn"}
    assert "no-secrets" in errors["read_file"]
    assert "s3cr3t" not in errors["read_file"]
    assert "no-egress-to-listener" in errors["connect"]
    assert "no-subprocess" in errors["spawn"]

    recorded = Recorded(spool)
    for tool, rule, event in [
        ("read_file", "no-secrets", "mcptrace.file.open"),
        ("connect", "no-egress-to-listener", "mcptrace.network.connect"),
        ("spawn", "no-subprocess", "mcptrace.process.spawn"),
    ]:
        span = recorded.tool_span(tool)
        violations = recorded.violations(tool)
        assert [v.attributes["mcptrace.policy.rule"] for v in violations] == [rule]
        assert violations[0].attributes["mcptrace.policy.action"] == "blocked"
        assert violations[0].attributes["mcptrace.policy.event"] == event
        assert span.attributes.get("error.type") == "tool_error"
        # blocked: the action itself never happened, so it is not recorded as done
        assert recorded.events(tool, event) == []
        warn = recorded.violation_logs(span)
        assert len(warn) == 1 and warn[0].severity_text == "WARN"
        assert warn[0].attributes["mcptrace.policy.rule"] == rule
    assert recorded.violations("read_file")[0].attributes["file.path"] == str(secret)
    assert recorded.violations("connect")[0].attributes["server.port"] == port


def test_truncate_and_utime_are_writes(tmp_path: Path, spool: Path) -> None:
    secret = _secret(tmp_path)
    before = secret.stat().st_mtime_ns
    policy = _enforce_on_secrets(tmp_path, secret, "read-only-secrets", "file_write")
    results, _ = drive(
        spool,
        policy,
        [("truncate_file", {"path": str(secret)}), ("touch_file", {"path": str(secret)})],
    )
    errors = {r["tool"]: r["text"] for r in results if r["error"]}
    assert set(errors) == {"truncate_file", "touch_file"}
    assert all("read-only-secrets" in text for text in errors.values())
    assert secret.read_text(encoding="utf-8") == "s3cr3t\n"
    assert secret.stat().st_mtime_ns == before
    recorded = Recorded(spool)
    for tool, event in [
        ("truncate_file", "mcptrace.file.truncate"),
        ("touch_file", "mcptrace.file.utime"),
    ]:
        (violation,) = recorded.violations(tool)
        assert violation.attributes["mcptrace.policy.event"] == event


def test_observe_lets_the_same_actions_through_and_records_them(
    tmp_path: Path, spool: Path
) -> None:
    secret = _secret(tmp_path)
    sock = listener()
    try:
        port = sock.getsockname()[1]
        text = ENFORCE.format(secrets=secret.parent, port=port).replace("enforce", "observe")
        policy = write_policy(tmp_path, text)
        results, _ = drive(
            spool,
            policy,
            [
                ("read_file", {"path": str(secret)}),
                ("connect", {"port": port}),
                ("spawn", {"word": "hello"}),
            ],
        )
        time.sleep(0.2)
        assert pending_connections(sock) == 1  # the control: an allowed connect does arrive
    finally:
        sock.close()
    assert [r["error"] for r in results] == [False, False, False]
    assert [r["text"] for r in results] == ["s3cr3t", "connected", "hello"]

    recorded = Recorded(spool)
    for tool, rule, event in [
        ("read_file", "no-secrets", "mcptrace.file.open"),
        ("connect", "no-egress-to-listener", "mcptrace.network.connect"),
        ("spawn", "no-subprocess", "mcptrace.process.spawn"),
    ]:
        violations = recorded.violations(tool)
        assert [v.attributes["mcptrace.policy.rule"] for v in violations] == [rule]
        assert violations[0].attributes["mcptrace.policy.action"] == "observed"
        assert recorded.events(tool, event), f"the {event} itself is recorded too"
        assert recorded.tool_span(tool).attributes.get("error.type") is None


def test_rules_scoped_to_tools(tmp_path: Path, spool: Path) -> None:
    secret = _secret(tmp_path)
    policy = write_policy(
        tmp_path,
        f"""
[policy]
mode = "enforce"

[[rule]]
id = "trusted-may-read"
category = "file_read"
action = "allow"
paths = ["{secret.parent}/**"]
tools = ["*_trusted"]

[[rule]]
id = "others-may-not"
category = "file_read"
paths = ["{secret.parent}/**"]

[[rule]]
id = "echo-spawn-only-in-spawn"
category = "process"
executables = ["echo"]
tools = ["read_file*"]
""",
    )
    results, _ = drive(
        spool,
        policy,
        [
            ("read_file", {"path": str(secret)}),
            ("read_file_trusted", {"path": str(secret)}),
            ("spawn", {"word": "fine"}),
        ],
    )
    assert results[0]["error"] and "others-may-not" in results[0]["text"]
    assert results[1] == {"tool": "read_file_trusted", "error": False, "text": "s3cr3t"}
    assert results[2] == {"tool": "spawn", "error": False, "text": "fine"}
    recorded = Recorded(spool)
    assert recorded.violations("read_file_trusted") == []
    assert recorded.violations("spawn") == []
    [violation] = recorded.violations("read_file")
    assert violation.attributes["gen_ai.tool.name"] == "read_file"
    assert violation.attributes["mcptrace.policy.rule"] == "others-may-not"


def test_defaults_code_and_native(tmp_path: Path, spool: Path) -> None:
    policy = write_policy(
        tmp_path,
        """
[policy]
mode = "enforce"

[defaults]
native = "deny"

[[rule]]
id = "no-eval"
category = "code"
operations = ["compile"]
""",
    )
    results, _ = drive(spool, policy, [("eval_code", {"expression": "6 * 7"}), ("load_native", {})])
    assert results[0]["error"] and "no-eval" in results[0]["text"]
    assert results[1]["error"] and "default.native" in results[1]["text"]
    recorded = Recorded(spool)
    assert recorded.violations("load_native")[0].attributes["mcptrace.policy.rule"] == (
        "default.native"
    )


def test_the_policy_cannot_be_switched_off_from_a_tool(tmp_path: Path, spool: Path) -> None:
    secret = _secret(tmp_path)
    policy = _enforce_on_secrets(tmp_path, secret, "no-secrets", "file_read")
    results, _ = drive(
        spool,
        policy,
        [
            ("remove_policy", {}),
            ("read_file", {"path": str(secret)}),
            ("rebind_policy_then_read", {"path": str(secret)}),
        ],
    )
    assert results[0]["error"], "set_decider(None) from a tool must be refused"
    assert results[1]["error"] and "no-secrets" in results[1]["text"]
    assert results[2]["error"] and "no-secrets" in results[2]["text"]
    recorded = Recorded(spool)
    tamper = recorded.events("remove_policy", "mcptrace.sensor.tamper")
    assert tamper and tamper[0].attributes["mcptrace.tamper.target"] == "set_decider"


def test_egress_allow_list_by_host_name(tmp_path: Path, spool: Path) -> None:
    """A host-name rule also covers the addresses that name resolved to, nothing else."""
    sock = listener()
    try:
        port = sock.getsockname()[1]
        policy = write_policy(
            tmp_path,
            """
[policy]
mode = "enforce"

[defaults]
network = "deny"

[[rule]]
id = "only-localhost-by-name"
category = "network"
action = "allow"
hosts = ["localhost"]
""",
        )
        results, _ = drive(
            spool,
            policy,
            [
                ("connect", {"port": port}),  # 127.0.0.1, never resolved from an allowed name
                ("connect_host", {"host": "localhost", "port": port}),
                ("connect_host", {"host": "nonexistent.invalid", "port": port}),
            ],
        )
        time.sleep(0.2)
        assert pending_connections(sock) == 1  # only the allowed one arrived
    finally:
        sock.close()
    assert results[0]["error"] and "default.network" in results[0]["text"]
    assert results[1] == {"tool": "connect_host", "error": False, "text": "connected"}
    assert results[2]["error"] and "default.network" in results[2]["text"]
    assert "resolve nonexistent.invalid" in results[2]["text"]


# The spellings the C library takes for 127.0.0.1 without asking DNS (inet_aton), the
# unspecified address Linux connects to this host, and a name it resolves by itself: handed to
# socket.connect/sendto directly, no audited getaddrinfo turns them into the IP a rule names.
LOOPBACK_SPELLINGS = ["2130706433", "127.1", "0x7f000001", "0177.0.0.1", "0.0.0.0", "LOCALHOST"]


def test_an_address_rule_holds_however_the_address_is_spelled(tmp_path: Path, spool: Path) -> None:
    sock = listener()
    try:
        port = sock.getsockname()[1]
        policy = write_policy(
            tmp_path,
            """
[policy]
mode = "enforce"

[[rule]]
id = "no-loopback-ip"
category = "network"
addresses = ["127.0.0.1"]
""",
        )
        calls = [("connect_raw", {"host": host, "port": port}) for host in LOOPBACK_SPELLINGS]
        calls += [("send_udp", {"host": host, "port": port}) for host in LOOPBACK_SPELLINGS]
        calls += [("connect_raw", {"host": "127.0.0.2", "port": port})]  # not the rule's
        results, _ = drive(spool, policy, calls)
        time.sleep(0.2)
        assert pending_connections(sock) == 0
    finally:
        sock.close()
    for (_tool, arguments), result in zip(calls[:-1], results, strict=False):
        assert result["error"] and "no-loopback-ip" in result["text"], (arguments, result)
    assert "no-loopback-ip" not in results[-1]["text"]  # refused by the kernel, not the rule


def test_extended_attributes_are_writes(tmp_path: Path, spool: Path) -> None:
    protected = tmp_path / "protected"
    protected.mkdir()
    target = protected / "file.txt"
    target.write_text("x")
    try:
        os.setxattr(target, "user.probe", b"1")
    except OSError:
        pytest.skip("this filesystem has no user extended attributes")
    os.removexattr(target, "user.probe")
    policy = write_policy(
        tmp_path,
        f"""
[policy]
mode = "enforce"

[[rule]]
id = "read-only-protected"
category = "file_write"
paths = ["{protected}/**"]
""",
    )
    results, _ = drive(spool, policy, [("set_xattr", {"path": str(target)})])
    assert results[0]["error"] and "read-only-protected" in results[0]["text"], results
    assert os.listxattr(target) == []


def test_a_host_rule_holds_for_every_spelling_dns_is_asked_the_same(
    tmp_path: Path, spool: Path
) -> None:
    # a trailing dot, upper case, fullwidth letters and an ideographic full stop all make
    # getaddrinfo ask DNS for evil.example: the look-up is refused before it leaves
    policy = write_policy(
        tmp_path,
        """
[policy]
mode = "enforce"

[[rule]]
id = "no-evil"
category = "network"
hosts = ["evil.example"]
""",
    )
    spellings = [
        "evil.example.",
        "EVIL.Example",
        "\uff45\uff56\uff49\uff4c.example",
        "evil\u3002example",
    ]
    results, _ = drive(
        spool, policy, [("connect_host", {"host": host, "port": 80}) for host in spellings]
    )
    for host, result in zip(spellings, results, strict=True):
        assert result["error"] and "no-evil" in result["text"], (host, result)
