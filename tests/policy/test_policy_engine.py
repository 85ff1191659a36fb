"""The compiled decider judging observations directly (no process, no sensor)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mcptrace.policy import model as m
from mcptrace.policy.engine import PolicyEngine
from mcptrace.policy.loader import parse_policy
from mcptrace.policy.matchers import AddressMatcher, compile_path_globs, glob_to_regex
from mcptrace.record import vocabulary as ev
from mcptrace.record.observation import Observation


def engine(text: str) -> PolicyEngine:
    return PolicyEngine(parse_policy(text, "p.toml"))


def opened(path: str, access: str = ev.READ) -> Observation:
    return Observation(ev.FILE_OPEN, ev.FILE, {ev.FILE_PATH: path, ev.FILE_ACCESS: access}, "open")


def connect(address: str, port: int, name: str = ev.NETWORK_CONNECT) -> Observation:
    attributes = {ev.SERVER_ADDRESS: address, ev.SERVER_PORT: port}
    return Observation(name, ev.NETWORK, dict(attributes), "socket.connect")


def rules(engine: PolicyEngine, observation: Observation, tool: str | None = None) -> list[str]:
    return [verdict.rule for verdict in engine.evaluate(observation, tool)]


def test_globs() -> None:
    matcher = compile_path_globs(["/srv/data/**", "*.pem", "/etc/*.conf", "**/.env"])
    assert matcher.match("/srv/data")
    assert matcher.match("/srv/data/a/b/c.txt")
    assert not matcher.match("/srv/database")
    assert matcher.match("/home/u/keys/server.pem")
    assert matcher.match("/etc/x.conf") and not matcher.match("/etc/sub/x.conf")
    assert matcher.match("/work/project/.env")
    assert glob_to_regex("[!a]b?") == "[^a]b[^/]"


def test_addresses() -> None:
    local = AddressMatcher(["loopback", "private"])
    assert local("127.0.0.1") and local("::1") and local("::ffff:127.0.0.1")
    assert local("10.2.3.4") and local("192.168.1.1") and local("fd00::1")
    assert local("localhost")
    assert not local("8.8.8.8") and not local("example.com")
    cidr = AddressMatcher(["203.0.113.0/24", "unix"])
    assert cidr("203.0.113.9") and not cidr("203.0.114.9")
    assert cidr("/var/run/docker.sock")


def test_first_matching_rule_decides_then_the_default() -> None:
    judge = engine(
        """
[defaults]
network = "deny"
[[rule]]
id = "local"
category = "network"
action = "allow"
addresses = ["loopback"]
[[rule]]
id = "https-to-github"
category = "network"
action = "allow"
hosts = ["*.github.com"]
ports = [443]
"""
    )
    assert rules(judge, connect("127.0.0.1", 8080)) == []
    assert rules(judge, connect("93.184.216.34", 443)) == ["default.network"]
    resolve = Observation(ev.NETWORK_RESOLVE, ev.NETWORK, {ev.SERVER_ADDRESS: "api.github.com"}, "")
    assert rules(judge, resolve) == []
    evil = Observation(ev.NETWORK_RESOLVE, ev.NETWORK, {ev.SERVER_ADDRESS: "evil.example"}, "")
    assert rules(judge, evil) == ["default.network"]
    # host-name rules follow the addresses a name resolved to
    assert rules(judge, connect("140.82.112.5", 443)) == ["default.network"]
    judge.remember_resolution("API.GitHub.com.", ["140.82.112.5"])
    assert rules(judge, connect("140.82.112.5", 443)) == []
    assert rules(judge, connect("140.82.112.5", 80)) == ["default.network"]
    # binding is judged only by rules that name it
    assert rules(judge, connect("0.0.0.0", 8000, ev.NETWORK_BIND)) == []


def test_paths_are_normalised_and_symlinks_followed(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "key").write_text("k")
    link = tmp_path / "innocent"
    link.symlink_to(secrets / "key")
    judge = engine(
        f"""
[[rule]]
id = "no-secrets"
category = "file_read"
paths = ["{secrets}/**"]
"""
    )
    assert rules(judge, opened(str(secrets / "key"))) == ["no-secrets"]
    assert rules(judge, opened(f"{tmp_path}/other/../secrets/key")) == ["no-secrets"]
    assert rules(judge, opened(str(link))) == ["no-secrets"]
    assert rules(judge, opened(str(secrets / "key"), ev.WRITE)) == []  # a read rule


def test_a_rule_on_a_symlinked_directory_holds_for_its_target(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    alias = tmp_path / "alias"
    alias.symlink_to(real)
    judge = engine(
        f"""
[[rule]]
id = "alias"
category = "file_write"
paths = ["{alias}/**"]
"""
    )
    assert rules(judge, opened(str(real / "f"), ev.CREATE)) == ["alias"]
    assert rules(judge, opened(str(alias / "f"), ev.APPEND)) == ["alias"]


def test_tool_scope_and_modes() -> None:
    judge = engine(
        """
[policy]
mode = "enforce"
[[rule]]
id = "git-in-vcs-tools"
category = "process"
action = "allow"
executables = ["git"]
tools = ["vcs_*"]
[[rule]]
id = "no-spawn"
category = "process"
executables = ["**"]
[[rule]]
id = "watch-pickle"
category = "code"
operations = ["pickle"]
globals = ["os.*", "subprocess.*"]
mode = "observe"
"""
    )
    git = Observation(
        ev.PROCESS_SPAWN,
        ev.PROCESS,
        {ev.PROCESS_EXECUTABLE_PATH: "/usr/bin/git", ev.PROCESS_COMMAND_ARGS: ["git", "log"]},
        "subprocess.Popen",
    )
    assert rules(judge, git, "vcs_log") == []
    assert rules(judge, git, "summarise") == ["no-spawn"]
    assert rules(judge, git, None) == ["no-spawn"]
    [verdict] = judge.evaluate(git, "summarise")
    assert verdict.enforce and "no-spawn" in verdict.describe()
    pickled = Observation(
        ev.CODE_DESERIALIZE,
        ev.CODE,
        {ev.DESERIALIZE_FORMAT: "pickle", ev.DESERIALIZE_GLOBAL: "os.system"},
        "pickle.find_class",
    )
    [verdict] = judge.evaluate(pickled, None)
    assert verdict.rule == "watch-pickle" and not verdict.enforce
    safe = pickled._replace(
        attributes={**pickled.attributes, ev.DESERIALIZE_GLOBAL: "datetime.date"}
    )
    assert judge.evaluate(safe, None) == []


def test_events_no_rule_touches_are_not_judged() -> None:
    judge = engine(
        """
[[rule]]
id = "x"
category = "process"
executables = ["curl"]
"""
    )
    assert set(judge.judges) == {ev.PROCESS_SPAWN, ev.PROCESS_EXEC}
    assert judge.evaluate(opened("/etc/passwd"), None) == []
    assert m.FILE_READ not in judge.active


def test_argument_patterns() -> None:
    judge = engine(
        """
[[rule]]
id = "no-curl-upload"
category = "process"
executables = ["curl"]
arguments = ["(^| )(-T|--upload-file|-d|--data)( |$)"]
"""
    )

    def spawn(*argv: str) -> Observation:
        return Observation(
            ev.PROCESS_SPAWN,
            ev.PROCESS,
            {ev.PROCESS_EXECUTABLE_PATH: argv[0], ev.PROCESS_COMMAND_ARGS: list(argv)},
            "subprocess.Popen",
        )

    assert rules(judge, spawn("/usr/bin/curl", "-T", "f", "https://x")) == ["no-curl-upload"]
    assert rules(judge, spawn("/usr/bin/curl", "https://x")) == []
    assert os.path.basename("/usr/bin/curl") == "curl"


def test_violations_from_threads_sharing_a_span_are_all_counted() -> None:
    """A count is a read then a write: threads breaking rules in one span at once (attribution
    inferred) and the sensor counting the same span must not lose counts."""
    import threading

    from opentelemetry.trace import SpanContext, TraceFlags

    from mcptrace.policy.engine import Verdict
    from mcptrace.policy.record import ViolationRecorder
    from mcptrace.record.state import SpanState

    violations = ViolationRecorder(span_events_per_category=2)  # most are counted, not kept
    state = SpanState(SpanContext(1, 2, False, TraceFlags(1)), is_mcp=True)
    verdict = Verdict("no-secrets", m.FILE_READ, "/secret", enforce=False)
    per_thread, threads = 5_000, 4

    def break_rules() -> None:
        for _ in range(per_thread):
            violations.record(opened("/secret"), verdict, False, state, ev.INFERRED)

    workers = [threading.Thread(target=break_rules) for _ in range(threads)]
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(previous)
    total = per_thread * threads
    assert state.counts[ev.POLICY_CATEGORY_NAME] == total
    assert len(violations.pending) + state.dropped == total
