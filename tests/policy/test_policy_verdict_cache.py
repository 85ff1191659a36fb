"""The per-event check made cheap without changing a verdict: one combined path matcher per
category, a plain open's verdicts kept while its path leads to the same file, and a judged
open past its span's log cap only counted (as without a policy).

Engine tests over real files (symlinks swapped, hard links, tools); the hook's part in a real
``mcptrace run --policy`` process, compared with the same process without a policy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mcptrace.policy import model as m
from mcptrace.policy.engine import PolicyEngine
from mcptrace.policy.loader import parse_policy
from mcptrace.policy.matchers import compile_path_globs
from mcptrace.record import vocabulary as ev
from mcptrace.record.observation import Observation

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_policy import policy_text


def _open(path: Path | str, access: str = ev.READ, **extra: Any) -> Observation:
    attributes = {ev.FILE_PATH: str(path), ev.FILE_ACCESS: access, **extra}
    return Observation(ev.FILE_OPEN, ev.FILE, attributes, "open")


def _rules(engine: PolicyEngine, observation: Observation, tool: str | None = "t") -> list[str]:
    return [verdict.rule for verdict in engine.evaluate(observation, tool)]


def test_the_combined_matcher_selects_exactly_what_the_rules_do() -> None:
    engine = PolicyEngine(parse_policy(policy_text(50), "bench.toml"))
    home = os.path.expanduser("~")
    paths = [
        "/dev/null", "/etc/shadow", "/etc/passwd", "/etc/x/y", "/usr/lib/a.so", "/usr",
        f"{home}/.ssh/id_rsa", f"{home}/.ssh", f"{home}/.config/app3/x", f"{home}/.config/app4",
        "/srv/key.pem", "/srv/key.pem.bak", "/w/.env11", "/w/.env1", "/w/x/.env99",
        "/lib/libevil7.so.1", "/lib/libevil7.s", "", "/", "relative/x.pem", "/a\nb.pem",
    ]  # fmt: skip
    selected = 0
    for category in (m.FILE_READ, m.FILE_WRITE):
        for path in paths:
            expected = tuple(
                rule
                for rule in engine.rules[category]
                if rule.paths.match(path)  # type: ignore[attr-defined]
            )
            assert engine._rules_for(category, path) == expected, (category, path)
            selected += bool(expected)
    assert selected >= 8  # the corpus does reach rules, not only the fast "none" answer
    assert compile_path_globs(["/a/**"]).match("/a/b")


@pytest.fixture
def secret_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "secret"
    directory.mkdir()
    (directory / "key.txt").write_text("k")
    return directory


def _engine(secret_dir: Path, **rule: Any) -> PolicyEngine:
    deny = m.Rule("no-secrets", m.FILE_READ, paths=(f"{secret_dir}/**",), **rule)
    return PolicyEngine(m.Policy(mode=m.ENFORCE, rules=(deny,)))


def test_a_kept_verdict_follows_the_file_the_path_leads_to(
    tmp_path: Path, secret_dir: Path
) -> None:
    engine = _engine(secret_dir)
    benign = tmp_path / "benign.txt"
    benign.write_text("b")
    link = tmp_path / "link"
    link.symlink_to(benign)
    for _ in range(3):
        assert _rules(engine, _open(link)) == []
    assert (str(link), ev.READ) in engine._open_verdicts  # kept
    for target, expected in [
        (secret_dir / "key.txt", ["no-secrets"]),
        (benign, []),
        (secret_dir / "key.txt", ["no-secrets"]),
    ]:
        link.unlink()
        link.symlink_to(target)
        for _ in range(2):
            assert _rules(engine, _open(link)) == expected, target
    # a harmless file replaced by a second name of the protected one (a hard link)
    plain = tmp_path / "plain.txt"
    plain.write_text("p")
    assert _rules(engine, _open(plain)) == []
    plain.unlink()
    os.link(secret_dir / "key.txt", plain)
    engine.hard_links.refresh_seconds = 0
    for _ in range(2):
        assert _rules(engine, _open(plain)) == ["no-secrets"]
    assert (str(plain), ev.READ) not in engine._open_verdicts or engine._open_verdicts[
        (str(plain), ev.READ)
    ][0] != (os.stat(plain).st_dev, os.stat(plain).st_ino)  # a multi-name file: not kept
    # a path that leads nowhere yet (then is created as a link to the secret)
    later = tmp_path / "later"
    assert _rules(engine, _open(later)) == []
    later.symlink_to(secret_dir / "key.txt")
    assert _rules(engine, _open(later)) == ["no-secrets"]


def test_verdicts_are_kept_per_tool_when_rules_name_tools(secret_dir: Path) -> None:
    engine = _engine(secret_dir, tools=("vcs_*",))
    key = secret_dir / "key.txt"
    for _ in range(2):
        assert _rules(engine, _open(key), "vcs_git") == ["no-secrets"]
        assert _rules(engine, _open(key), "other") == []
        assert _rules(engine, _open(key), None) == []
        assert _rules(engine, _open(key), "vcs_hg") == ["no-secrets"]
    for access in (ev.WRITE, ev.READ_WRITE):  # the access is part of the key
        assert _rules(engine, _open(key, access), "vcs_git") == (
            ["no-secrets"] if access == ev.READ_WRITE else []
        )


def test_opens_with_more_than_a_path_and_an_access_are_judged_every_time(
    tmp_path: Path,
) -> None:
    source = tmp_path / "module.py"
    source.write_text("x = 1")
    engine = PolicyEngine(
        m.Policy(mode=m.ENFORCE, defaults={m.FILE_READ: m.DENY}, rules=())
    )  # every read denied, except library machinery reading Python sources
    library = _open(source, **{ev.ORIGIN: ev.LIBRARY})
    for _ in range(2):
        assert _rules(engine, _open(source)) == ["default.file_read"]
        assert _rules(engine, library) == []
        assert _rules(engine, _open(source)) == ["default.file_read"]
    path_object = _open(source, **{ev.PATH_OBJECT: "Sneaky"})
    assert "mcptrace.path-object" in _rules(engine, path_object)
    assert list(engine._open_verdicts) == [(str(source), ev.READ)]


# -- the hook: a judged open past the cap is counted, a denied one still blocked ------------

TOOL = textwrap.dedent(
    """
    import json, os, sys
    from mcptrace import activation
    from mcptrace.record.recorder import active
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    secret, count = sys.argv[1], int(sys.argv[2])
    activation.activate()
    tracer = trace.get_tracer("test.policy-cap")
    attributes = {"mcp.method.name": "tools/call", "gen_ai.tool.name": "opener"}
    with tracer.start_as_current_span("tools/call opener", kind=SpanKind.SERVER,
                                      attributes=attributes) as span:
        for _ in range(count):
            with open(os.devnull, "rb"):
                pass
        try:
            open(secret).close()
            blocked = False
        except PermissionError:
            blocked = True
        root = active()[0].by_span[span].root
        active()[1].drain and active()[1].drain()
        print(json.dumps({"blocked": blocked, "counts": root.counts, "dropped": root.dropped}))
    """
)


def _tool_run(tmp_path: Path, secret: Path, count: int, policy: Path | None) -> dict[str, Any]:
    script = tmp_path / "tool.py"
    script.write_text(TOOL)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MCPTRACE_"))}
    run = [sys.executable, "-m", "mcptrace.cli", "run", "--spool", str(tmp_path / "spool")]
    if policy is not None:
        run += ["--policy", str(policy)]
    result = subprocess.run(
        [*run, "--", sys.executable, str(script), str(secret), str(count)],
        env=environ, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


@pytest.mark.slow
def test_past_the_cap_a_judged_open_is_counted_and_a_denied_one_blocked(
    tmp_path: Path, secret_dir: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'[policy]\nmode = "enforce"\n\n[[rule]]\nid = "no-secrets"\n'
        f'category = "file_read"\npaths = ["{secret_dir}/**"]\n'
    )
    count = 600  # past the span's log cap (256 file records)
    judged = _tool_run(tmp_path, secret_dir / "key.txt", count, policy)
    plain = _tool_run(tmp_path, secret_dir / "key.txt", count, None)
    assert judged["blocked"] and not plain["blocked"]
    assert judged["counts"]["file"] >= count
    # everything counted as without a policy, but the blocked open (refused before it is
    # recorded): the same counts and drops, one open fewer
    assert judged["counts"]["file"] == plain["counts"]["file"] - 1
    assert judged["dropped"] == plain["dropped"] - 1 >= count - 256
