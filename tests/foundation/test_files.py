"""Files as a careful daemon handles them: private whatever the umask, never through a
symlink, and never in a directory (or a hash cache) that another user owns or can write."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from receivers import closed_port
from support import PYTHON, clean_env, mcptrace_cmd

SCRIPT = (
    "from opentelemetry import trace\n"
    "import json\n"
    "with trace.get_tracer('t').start_as_current_span('work'):\n"
    "    json.loads('[1]')\n"
    "print('served', flush=True)\n"
)
NOBODY = 65534


def run(
    spool: Path, *options: str, umask: int | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        mcptrace_cmd("run", "--spool", str(spool), *options, "--", PYTHON, "-c", SCRIPT),
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_everything_is_private_under_umask_000(tmp_path: Path) -> None:
    spool = tmp_path / "a" / "b" / "spool"
    cache = tmp_path / "c" / "d" / "hash-cache.sqlite3"
    result = run(
        spool, "--endpoint", f"http://127.0.0.1:{closed_port()}", umask=0,
        MCPTRACE_HASH_CACHE=str(cache),
    )  # fmt: skip
    assert result.stdout == "served\n", result.stderr
    made_directories = [tmp_path / "a", tmp_path / "a" / "b", spool, cache.parent.parent]
    for directory in [*made_directories, cache.parent]:
        assert mode(directory) == 0o700, directory
    made = [p for p in spool.rglob("*")]
    assert any(p.name.startswith("traces-") for p in made)
    assert any(p.name == ".replay" for p in made)
    for path in made:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path
    assert mode(cache) == 0o600


def _chown_nobody(path: Path) -> None:
    os.chown(path, NOBODY, NOBODY)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("writable by others", "is writable by other users (mode 0777)"),
        ("group-writable", "is writable by other users (mode 0770)"),
        ("owned by another user", f"belongs to another user (uid {NOBODY})"),
        ("a symlink", "is a symbolic link"),
    ],
)
def test_an_unsafe_spool_is_refused_with_one_line_and_the_program_runs(
    tmp_path: Path, how: str, expected: str
) -> None:
    spool = tmp_path / "spool"
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    if how == "a symlink":
        spool.symlink_to(real)
    else:
        spool.mkdir()
        spool.chmod({"writable by others": 0o777, "group-writable": 0o770}.get(how, 0o700))
        if how == "owned by another user":
            if os.geteuid() != 0:
                pytest.skip("giving a directory to another user needs root")
            _chown_nobody(spool)
    for options in ([], ["--endpoint", f"http://127.0.0.1:{closed_port()}"]):
        result = run(spool, *options, MCPTRACE_HASH_CACHE=str(tmp_path / "cache.sqlite3"))
        assert result.returncode == 0
        assert result.stdout == "served\n"
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert expected in lines[0] and "telemetry that needs it is off" in lines[0]
    assert list(spool.iterdir()) == [] and list(real.iterdir()) == []


@pytest.mark.slow
def test_a_symlinked_hash_cache_is_refused(tmp_path: Path) -> None:
    """The issue's case: a hash-cache path planted as a symlink to another program's
    SQLite database must not receive a single row."""
    other = tmp_path / "other-program.sqlite3"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE mine (x)")
    before = other.read_bytes()
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    cache = state / "hash-cache.sqlite3"
    cache.symlink_to(other)
    result = run(tmp_path / "spool", MCPTRACE_HASH_CACHE=str(cache))
    assert result.stdout == "served\n"
    assert other.read_bytes() == before
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"mcptrace: hash cache {cache} is a symbolic link; mcptrace does not follow it; "
        "module hashes are not cached"
    ]


def test_a_hash_cache_in_a_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    result = run(tmp_path / "spool", MCPTRACE_HASH_CACHE=str(shared / "cache.sqlite3"))
    assert result.stdout == "served\n"
    assert "is writable by other users (mode 0777)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(shared.iterdir()) == []
