"""The module-set digest (``provenance/known.py``) builds each module's ``.pyc`` path and
absolute path directly in the common case (issue 20: ``cache_from_source`` and ``abspath``
were a third of a warm exit): the paths must be exactly the importer's, or the digest would
stop covering the bytecode the importer runs.  Checked against ``cache_from_source`` and
``os.path.abspath`` for every module of a real import stack and for awkward paths, and the
digest must still change when one ``.pyc`` changes."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcptrace.provenance import known

AWKWARD = [
    "/a/.py",
    "/a/b.c.py",
    "/x/__init__.py",
    "/a/./b.py",
    "/a/../b.py",
    "/a//b.py",
    "/.hidden/b.py",
    "/a/b.py/",
    "/a/b.pyw",
    "/a/b.so",
    "relative/b.py",
    "b.py",
]


def test_paths_are_the_importers_for_every_loaded_module_and_awkward_ones() -> None:
    import json  # noqa: F401  (a few more modules)

    files = [
        f
        for m in list(sys.modules.values())
        if isinstance(f := getattr(m, "__file__", None), str) and not f.startswith("<")
    ]
    assert len(files) > 50
    for path in [*files, *AWKWARD]:
        expected = importlib.util.cache_from_source(path) if path.endswith(".py") else None
        assert known._bytecode_of(path) == expected, path
        if known._normal(path):
            assert os.path.abspath(path) == path, path
    for path in AWKWARD[3:8] + AWKWARD[-2:]:
        assert not known._normal(path), path


def test_pycache_prefix_and_optimize_take_the_importers_own_path(tmp_path: Path) -> None:
    code = (
        "import sys, importlib.util\n"
        "from mcptrace.provenance import known\n"
        "p = '/srv/app/mod.py'\n"
        "assert known._bytecode_of(p) == importlib.util.cache_from_source(p), "
        "(known._bytecode_of(p), importlib.util.cache_from_source(p))\n"
        "print(known._bytecode_of(p))\n"
    )
    for extra, env in (
        (["-O"], {}),
        ([], {"PYTHONPYCACHEPREFIX": str(tmp_path / "prefix")}),
    ):
        out = subprocess.run(
            [sys.executable, *extra, "-c", code],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert ("opt-1" in out.stdout) == bool(extra) and (str(tmp_path) in out.stdout) == bool(
            env
        ), out.stdout


@pytest.mark.parametrize("change", ["pyc", "source"])
def test_the_digest_changes_with_a_modules_pyc_or_source(tmp_path: Path, change: str) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    source = package / "mod.py"
    source.write_text("A = 1\n")
    pyc = Path(importlib.util.cache_from_source(str(source)))
    pyc.parent.mkdir()
    pyc.write_bytes(b"bytecode")
    before = known.module_set_digest([str(source)])
    assert known.module_set_digest([str(source)]) == before
    target = pyc if change == "pyc" else source
    target.write_bytes(target.read_bytes() + b"#")
    assert known.module_set_digest([str(source)]) != before
