"""Where a judged path really leads: symlinks swapped, hard links, dir_fd, sqlite, children.

Pure judgement (the engine without a hook) over real files; the end-to-end counterparts are
in test_policy_bypass.py.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import pytest

from mcptrace.policy import model as m
from mcptrace.policy.engine import (
    CHILD_OPT_OUT_RULE,
    PolicyEngine,
    argument_paths,
    python_opts_out,
)
from mcptrace.policy.matchers import HardLinkIndex, PathResolver
from mcptrace.record import vocabulary as ev
from mcptrace.record.observation import Observation
from mcptrace.sensor.hook import translate


def _engine(secret_dir: Path, mode: str = m.ENFORCE) -> PolicyEngine:
    rule = m.Rule("no-secrets", m.FILE_READ, paths=(f"{secret_dir}/**",))
    return PolicyEngine(m.Policy(mode=mode, rules=(rule,)))


def _open(path: Path | str, access: str = ev.READ, audit_event: str = "open") -> Observation:
    return Observation(
        ev.FILE_OPEN, ev.FILE, {ev.FILE_PATH: str(path), ev.FILE_ACCESS: access}, audit_event
    )


@pytest.fixture
def secret_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "secret"
    directory.mkdir()
    (directory / "key.txt").write_text("k")
    return directory


def test_a_symlink_swapped_after_an_allowed_open_is_judged_again(
    tmp_path: Path, secret_dir: Path
) -> None:
    engine = _engine(secret_dir)
    benign = tmp_path / "benign.txt"
    benign.write_text("b")
    link = tmp_path / "link"
    link.symlink_to(benign)
    for _ in range(3):  # cached after the first time
        assert engine.evaluate(_open(link), tool="t") == []
    link.unlink()
    link.symlink_to(secret_dir / "key.txt")
    [verdict] = engine.evaluate(_open(link), tool="t")
    assert verdict.rule == "no-secrets" and verdict.subject == str(secret_dir / "key.txt")


def test_a_directory_replaced_by_a_symlink_is_judged_again(
    tmp_path: Path, secret_dir: Path
) -> None:
    engine = _engine(secret_dir)
    directory = tmp_path / "d"
    directory.mkdir()
    (directory / "key.txt").write_text("harmless")
    assert engine.evaluate(_open(directory / "key.txt"), tool="t") == []
    (directory / "key.txt").unlink()
    directory.rmdir()
    directory.symlink_to(secret_dir)
    assert [v.rule for v in engine.evaluate(_open(directory / "key.txt"), tool="t")] == [
        "no-secrets"
    ]


def test_dotdot_after_a_symlink_is_where_the_kernel_goes(tmp_path: Path, secret_dir: Path) -> None:
    (secret_dir / "inner").mkdir()
    link = tmp_path / "inner"
    link.symlink_to(secret_dir / "inner")
    path = f"{link}/../key.txt"
    assert Path(path).read_text() == "k"  # the kernel's answer
    assert [v.rule for v in _engine(secret_dir).evaluate(_open(path), tool="t")] == ["no-secrets"]


def test_hard_links_are_judged_by_the_protected_name(tmp_path: Path, secret_dir: Path) -> None:
    engine = _engine(secret_dir)
    elsewhere = tmp_path / "elsewhere"
    os.link(secret_dir / "key.txt", elsewhere)
    [verdict] = engine.evaluate(_open(elsewhere), tool="t")
    assert "a hard link to" in verdict.subject and str(secret_dir / "key.txt") in verdict.subject
    # a link made after the index was built is found at the next rebuild
    engine.hard_links.refresh_seconds = 0
    (secret_dir / "new.txt").write_text("n")
    later = tmp_path / "later"
    os.link(secret_dir / "new.txt", later)
    assert [v.rule for v in engine.evaluate(_open(later), tool="t")] == ["no-secrets"]
    # a file with several names none of which is protected: allowed
    (tmp_path / "a").write_text("a")
    os.link(tmp_path / "a", tmp_path / "b")
    assert engine.evaluate(_open(tmp_path / "b"), tool="t") == []


def test_making_a_hard_link_to_a_protected_file_reads_it(tmp_path: Path, secret_dir: Path) -> None:
    link = translate("os.link", (str(secret_dir / "key.txt"), str(tmp_path / "l"), None, None))
    assert link is not None
    verdicts = _engine(secret_dir).evaluate(link, tool="t")
    assert [(v.rule, v.category) for v in verdicts] == [("no-secrets", m.FILE_READ)]


def test_hard_link_index_is_bounded(tmp_path: Path) -> None:
    for index in range(50):
        (tmp_path / f"f{index}").write_text("x")
    os.link(tmp_path / "f49", tmp_path / "g")
    index = HardLinkIndex([str(tmp_path)], limit=10)
    status = os.stat(tmp_path / "g")
    index((status.st_dev, status.st_ino))
    assert len(index.by_identity) <= 2  # at most the ten entries scanned


def test_path_resolver_costs_one_stat_when_nothing_changed(tmp_path: Path) -> None:
    resolver = PathResolver()
    calls: list[str] = []
    real = resolver.realpath

    def counting(path: str) -> str:
        calls.append(path)
        return real(path)

    resolver.realpath = counting
    target = tmp_path / "f"
    target.write_text("x")
    for _ in range(5):
        assert resolver(str(target)) == str(target)
    assert calls == [str(target)]


def test_importer_reads_of_real_module_files_escape_only_deny_defaults(
    tmp_path: Path, secret_dir: Path
) -> None:
    policy = m.Policy(
        mode=m.ENFORCE,
        defaults={**dict.fromkeys(m.CATEGORIES, m.ALLOW), m.FILE_READ: m.DENY},
        rules=(m.Rule("no-secrets", m.FILE_READ, paths=(f"{secret_dir}/**",)),),
    )
    engine = PolicyEngine(policy)
    module = tmp_path / "lazy.py"
    module.write_text("X = 1\n")
    assert engine.evaluate(_open(module, audit_event=ev.IMPORTER_OPEN), tool="t") == []
    assert engine.evaluate(_open(module), tool="t")  # not the importer: the default denies
    (secret_dir / "mod.py").write_text("X = 1\n")
    named = engine.evaluate(_open(secret_dir / "mod.py", audit_event=ev.IMPORTER_OPEN), tool="t")
    assert [v.rule for v in named] == ["no-secrets"]
    disguised = tmp_path / "disguised.py"
    disguised.symlink_to(tmp_path / "notes.txt")
    (tmp_path / "notes.txt").write_text("n")
    denied = engine.evaluate(_open(disguised, audit_event=ev.IMPORTER_OPEN), tool="t")
    assert [v.rule for v in denied] == ["default.file_read"]


def test_dir_fd_relative_paths_resolve_against_the_directory(tmp_path: Path) -> None:
    directory = os.open(tmp_path, os.O_RDONLY)
    try:
        cases = [
            ("os.remove", ("x", directory), ev.FILE_PATH, tmp_path / "x"),
            ("os.mkdir", ("sub", 0o755, directory), ev.FILE_PATH, tmp_path / "sub"),
            ("os.chmod", ("x", 0o600, directory), ev.FILE_PATH, tmp_path / "x"),
            ("os.rename", ("x", "y", directory, directory), ev.FILE_TARGET_PATH, tmp_path / "y"),
            ("os.symlink", ("/etc/hosts", "s", directory), ev.FILE_PATH, tmp_path / "s"),
            ("os.listdir", (directory,), ev.FILE_PATH, tmp_path),
        ]
        for event, args, key, expected in cases:
            observation = translate(event, args)
            assert observation is not None, event
            assert observation.attributes[key] == str(expected), (event, observation.attributes)
    finally:
        os.close(directory)


def test_sqlite_connect_is_a_read_write_open(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite"
    for args, access in [
        ((str(database),), ev.READ_WRITE),
        ((os.fsencode(database),), ev.READ_WRITE),  # 3.10 passes bytes
        ((database,), ev.READ_WRITE),
        ((f"file:{database}?mode=ro",), ev.READ),
        ((f"file://{database}?cache=shared",), ev.READ_WRITE),
    ]:
        observation = translate("sqlite3.connect", args)
        assert observation is not None, args
        assert observation.name == ev.FILE_OPEN
        assert observation.attributes == {ev.FILE_PATH: str(database), ev.FILE_ACCESS: access}
    for nothing in (":memory:", "", "file::memory:?cache=shared", "file:x?mode=memory"):
        assert translate("sqlite3.connect", (nothing,)) is None
    seen: list[tuple[object, ...]] = []
    sys.addaudithook(lambda event, args: seen.append(args) if event == "sqlite3.connect" else None)
    sqlite3.connect(database).close()  # the event really carries the path (str or bytes)
    assert [os.fsdecode(args[0]) for args in seen[-1:]] == [str(database)]


@pytest.mark.parametrize(
    ("argv", "opts_out"),
    [
        (["python3", "-c", "x"], False),
        (["python3", "-I", "-c", "x"], True),
        (["python", "-Ic", "x"], True),
        (["python3.12", "-X", "dev", "-E", "script.py"], True),
        (["python3", "-Xdev", "-S", "script.py"], True),
        (["python3", "script.py", "-I"], False),  # the script's own argument
        (["python3", "-W", "ignore", "-u", "-c", "x"], False),
        ([sys.executable, "-s", "-S"], True),
        (["cat", "-E", "file"], False),  # not Python
    ],
)
def test_python_children_that_skip_the_start_up_hook(argv: list[str], opts_out: bool) -> None:
    assert python_opts_out(argv[0], argv) is opts_out


def test_a_python_child_that_skips_the_start_up_hook_is_refused_under_enforce() -> None:
    argv = [sys.executable, "-I", "-c", "pass"]
    spawn = Observation(
        ev.PROCESS_SPAWN,
        ev.PROCESS,
        {ev.PROCESS_EXECUTABLE_PATH: sys.executable, ev.PROCESS_COMMAND_ARGS: argv},
        "subprocess.Popen",
    )
    enforce = PolicyEngine(m.Policy(mode=m.ENFORCE))
    assert [v.rule for v in enforce.evaluate(spawn, tool="t")] == [CHILD_OPT_OUT_RULE]
    assert PolicyEngine(m.Policy(mode=m.OBSERVE)).evaluate(spawn, tool="t") == []


def test_command_arguments_naming_denied_files(tmp_path: Path, secret_dir: Path) -> None:
    assert argument_paths(["/bin/sh", "-c", f"cat {secret_dir}/key.txt > /tmp/o"], "/") == [
        f"{secret_dir}/key.txt",
        "/tmp/o",
    ]
    assert argument_paths(["cat", "key.txt", "--in=/etc/hosts"], str(secret_dir)) == [
        str(secret_dir / "key.txt"),
        "/etc/hosts",
    ]
    spawn = Observation(
        ev.PROCESS_SPAWN,
        ev.PROCESS,
        {
            ev.PROCESS_EXECUTABLE_PATH: "cat",
            ev.PROCESS_COMMAND_ARGS: ["cat", "key.txt"],
            ev.PROCESS_WORKING_DIRECTORY: str(secret_dir),
        },
        "subprocess.Popen",
    )
    assert [v.rule for v in _engine(secret_dir).evaluate(spawn, tool="t")] == ["no-secrets"]
    harmless = spawn._replace(
        attributes={**spawn.attributes, ev.PROCESS_WORKING_DIRECTORY: str(tmp_path)}
    )
    assert _engine(secret_dir).evaluate(harmless, tool="t") == []
