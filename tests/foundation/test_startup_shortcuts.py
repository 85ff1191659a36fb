"""The start-up's shortcuts lose nothing: each test fails if its shortcut answers from a
stale memory, or changes what the program finds.

- The installed instrumentors, remembered in the state directory and checked with stats
  only (each ``sys.path`` directory, each distribution's entry points): every install,
  removal and edit is noticed, even an edit that keeps the file's size and mtime.
- The cyclic GC, off while mcptrace's own modules load: the program finds it as Python
  starts it.
- The launcher (``mcptrace run``'s own interpreter, before its ``exec``) imports neither
  ``__future__`` nor ``start``.
- The sensor switched off (``MCPTRACE_SENSOR=none``) is not loaded at all, nor module
  provenance without the ``import`` category: what the other parts record is still written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from mcptrace.record import vocabulary as ev
from support import PYTHON, clean_env, logs, run_under_mcptrace, spans

# what installed_instrumentors() answers, whether it scanned the metadata for it, and
# what a fresh scan answers (importlib.metadata is only imported by a scan)
_ASK = """
import json, sys
from mcptrace._bootstrap.start import _scan, installed_instrumentors
foreign, entries = installed_instrumentors()
scanned = "importlib.metadata" in sys.modules
fresh_foreign, fresh_entries = _scan()
print(json.dumps([[foreign, entries], scanned, [fresh_foreign, fresh_entries]]))
"""


def _ask(site: Path, state: Path) -> tuple[list[object], bool, list[object]]:
    env = clean_env(PYTHONPATH=str(site), XDG_STATE_HOME=str(state))
    result = subprocess.run(
        [PYTHON, "-c", _ASK], env=env, capture_output=True, text=True, check=True
    )
    answer, scanned, fresh = json.loads(result.stdout)
    return answer, scanned, fresh


def _names(answer: list[object]) -> list[str]:
    entries = answer[1]
    assert isinstance(entries, list)
    return sorted(name for name, _ in entries)


def _distribution(site: Path, name: str, entry_points: str | None) -> Path:
    (site / f"{name}.py").write_text("class Instrumentor:\n    def instrument(self, **kw): pass\n")
    dist_info = site / f"{name}-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    if entry_points is not None:
        (dist_info / "entry_points.txt").write_text(entry_points)
    return dist_info


def _instrumentor(name: str) -> str:
    return f"[opentelemetry_instrumentor]\n{name} = {name}:Instrumentor\n"


def test_remembered_instrumentors_follow_every_change_on_sys_path(tmp_path: Path) -> None:
    site, state = tmp_path / "site", tmp_path / "state"
    site.mkdir()
    answer, scanned, fresh = _ask(site, state)
    assert scanned and answer == fresh
    own = _names(answer)
    assert "mcptrace_sensor" in own

    def settled(expected: list[str]) -> None:
        """The change is seen (a scan), then remembered (no scan), both as a scan says."""
        answer, scanned, fresh = _ask(site, state)
        assert scanned, "a change went unnoticed"
        assert answer == fresh and _names(answer) == sorted(expected)
        answer, scanned, fresh = _ask(site, state)
        assert not scanned, "nothing changed, yet the metadata was scanned again"
        assert answer == fresh and _names(answer) == sorted(expected)

    answer, scanned, _ = _ask(site, state)
    assert not scanned and _names(answer) == own
    # files come and go in a project directory on PYTHONPATH: listed again, not scanned
    for name in ("notes.txt", "output.log"):
        (site / name).write_text("x")
        answer, scanned, fresh = _ask(site, state)
        assert not scanned and answer == fresh and _names(answer) == own
    (site / "notes.txt").unlink()
    answer, scanned, fresh = _ask(site, state)
    assert not scanned and answer == fresh

    # an install
    first = _distribution(site, "instr_aa", _instrumentor("instr_aa"))
    settled([*own, "instr_aa"])
    # an edit in place that keeps the size and the mtime (only ctime tells)
    entry_points = first / "entry_points.txt"
    before = entry_points.stat()
    with open(entry_points, "r+") as handle:
        handle.write(_instrumentor("instr_ab"))
    os.utime(entry_points, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert entry_points.stat().st_size == before.st_size
    settled([*own, "instr_ab"])
    # a distribution without entry points that gains some
    second = _distribution(site, "instr_b", None)
    settled([*own, "instr_ab"])
    (second / "entry_points.txt").write_text(_instrumentor("instr_b"))
    settled([*own, "instr_ab", "instr_b"])
    # entry points removed, then the distribution removed
    (second / "entry_points.txt").unlink()
    settled([*own, "instr_ab"])
    for path in sorted(first.iterdir()):
        path.unlink()
    first.rmdir()
    settled(own)


def test_a_memory_the_directory_cannot_vouch_for_is_not_used(tmp_path: Path) -> None:
    """A remembered answer whose distribution checks were tampered with (a missing path, a
    count past the end) is scanned again, never trusted."""
    site, state = tmp_path / "site", tmp_path / "state"
    site.mkdir()
    _distribution(site, "instr_c", _instrumentor("instr_c"))
    answer, scanned, fresh = _ask(site, state)
    assert scanned
    (memory,) = (state / "mcptrace").glob("entry-points-*.txt")
    lines = memory.read_text().split("\n")
    for broken in (
        [*lines[:2], "999999", *lines[3:]],
        [*lines[:2], "x", *lines[3:]],
        [*lines[:3], f"{tmp_path}/gone\0{lines[3].partition(chr(0))[2]}", *lines[4:]],
    ):
        memory.write_text("\n".join(broken))
        answer, scanned, fresh = _ask(site, state)
        assert scanned and answer == fresh
        assert "instr_c" in _names(answer)


_COLLECTOR = "import gc, json; print(json.dumps([gc.isenabled(), gc.get_threshold()]))"


def test_the_program_finds_the_collector_as_python_starts_it(spool: Path, tmp_path: Path) -> None:
    env = clean_env(XDG_STATE_HOME=str(tmp_path / "state"))
    plain = subprocess.run([PYTHON, "-c", _COLLECTOR], env=env, capture_output=True, text=True)
    traced = run_under_mcptrace([PYTHON, "-c", _COLLECTOR], spool, env=env)
    assert json.loads(traced.stdout) == json.loads(plain.stdout) == [True, [700, 10, 10]]


def test_the_launcher_imports_neither_future_nor_start(tmp_path: Path) -> None:
    """``mcptrace run``'s own interpreter, up to its exec: every module it imports is paid by
    every instrumented command (the console script's two lines, run with -X importtime)."""
    script = "import sys\nfrom mcptrace.quickrun import main\nsys.exit(main())\n"
    env = clean_env(XDG_STATE_HOME=str(tmp_path / "state"))
    result = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", script, "run", "--", "true"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    names = set(re.findall(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\n", result.stderr))
    assert "mcptrace.quickrun" in names  # the short path ran ...
    assert "mcptrace.cli" not in names
    assert not names & {"__future__", "mcptrace._bootstrap.start", "typing"}, names


# a span of the program's own, a file it reads and a module of its own it imports
_WORK = """
import sys
sys.path.insert(0, sys.argv[1])
from opentelemetry import trace
with trace.get_tracer("test").start_as_current_span("work"):
    open(sys.argv[2]).read()
    import fresh_module_{tag}
"""


@pytest.mark.parametrize(
    ("sensor", "sensor_loaded", "provenance_loaded"),
    [("none", False, False), ("file", True, False), ("import", True, True), ("all", True, True)],
)
def test_a_part_switched_off_is_not_loaded_and_the_rest_still_records(
    spool: Path, tmp_path: Path, sensor: str, sensor_loaded: bool, provenance_loaded: bool
) -> None:
    tag = sensor
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / f"fresh_module_{tag}.py").write_text("VALUE = 1\n")
    target = tmp_path / "read-me.txt"
    target.write_text("x")
    env = clean_env(
        XDG_STATE_HOME=str(tmp_path / "state"),
        MCPTRACE_HASH_CACHE=str(tmp_path / "cache.sqlite3"),
        MCPTRACE_SENSOR=sensor,
    )
    result = run_under_mcptrace(
        [PYTHON, "-X", "importtime", "-c", _WORK.format(tag=tag), str(modules), str(target)],
        spool,
        env=env,
    )
    names = set(re.findall(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\n", result.stderr))
    assert ("mcptrace.sensor.hook" in names) is sensor_loaded
    assert ("mcptrace.provenance.instrumentor" in names) is provenance_loaded
    assert [span.name for span in spans(spool)] == ["work"]
    records = logs(spool)
    opened = [
        r
        for r in records
        if r.event_name == ev.FILE_OPEN and r.attributes.get(ev.FILE_PATH) == str(target)
    ]
    assert len(opened) == (1 if sensor in ("file", "all") else 0)
    reported = {
        r.attributes.get(ev.MODULE_NAME) for r in records if r.event_name == ev.MODULE_IMPORT
    }
    assert (f"fresh_module_{tag}" in reported) is provenance_loaded
