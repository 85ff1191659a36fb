"""Real installs, real files: verified, mismatch (an edited installed module), unrecorded
(editable install, stdlib), extension modules, sourceless .pyc and a third-party finder."""

from __future__ import annotations

import os
import py_compile
import textwrap
from pathlib import Path

import pytest
from provenance_support import (
    DIST,
    VERSION,
    WARN,
    install_editable,
    install_wheel,
    module_records,
    record_for,
    run_python,
    sha256_of,
    summary,
)

from mcptrace.record import vocabulary as names

IMPORTS = textwrap.dedent(
    """
    import importlib, importlib.abc, importlib.util, sys
    import _bz2  # an extension module (.so)
    import provtest.core

    class PluginFinder(importlib.abc.MetaPathFinder):  # a third-party finder
        def find_spec(self, name, path=None, target=None):
            if name == "plugin_mod":
                return importlib.util.spec_from_file_location(name, {plugin!r})
            return None

    sys.meta_path.insert(0, PluginFinder())
    importlib.import_module("plugin_mod")
    sys.path.insert(0, {sourceless_dir!r})
    import sourceless_mod  # only a .pyc exists
    """
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("verification")
    site = install_wheel(work)
    plugin = work / "plugins" / "plugin_mod.py"
    plugin.parent.mkdir()
    plugin.write_text("PLUGIN = True\n")
    sourceless_dir = work / "sourceless"
    sourceless_dir.mkdir()
    source = work / "sourceless_mod.py"
    source.write_text("SOURCELESS = True\n")
    py_compile.compile(str(source), cfile=str(sourceless_dir / "sourceless_mod.pyc"))
    code = IMPORTS.format(plugin=str(plugin), sourceless_dir=str(sourceless_dir))
    spool = work / "spool"
    run_python(code, spool, work / "cache.sqlite3", site)
    return {
        "work": work,
        "site": site,
        "spool": spool,
        "plugin": plugin,
        "sourceless": sourceless_dir / "sourceless_mod.pyc",
    }


def test_installed_module_is_verified(installed: dict[str, Path]) -> None:
    path = installed["site"] / "provtest" / "core.py"
    record = record_for(installed["spool"], path)
    attributes = record.attributes
    assert attributes[names.MODULE_NAME] == "provtest.core"
    assert attributes[names.MODULE_SHA256] == sha256_of(path)
    assert attributes[names.MODULE_DISTRIBUTION] == DIST
    assert attributes[names.MODULE_VERSION] == VERSION
    assert attributes[names.MODULE_VERIFICATION] == names.VERIFIED
    assert attributes[names.ATTRIBUTION] == names.NONE
    assert record.trace_id == "" and record.span_id == ""  # start-up: no span
    assert record.severity_number != WARN


def test_the_pyc_that_ran_is_reported_as_what_it_is(installed: dict[str, Path]) -> None:
    path = installed["site"] / "provtest" / "core.py"
    attributes = record_for(installed["spool"], path).attributes
    pyc = Path(attributes[names.BYTECODE_PATH])
    assert pyc.parent.name == "__pycache__" and pyc.name.startswith("core.")
    assert attributes[names.BYTECODE_SHA256] == sha256_of(pyc)
    # RECORD lists it as "path,,": no hash to verify it against
    assert attributes[names.MODULE_VERIFICATION] == names.VERIFIED  # speaks for the .py


def test_extension_module_is_hashed(installed: dict[str, Path]) -> None:
    import _bz2

    attributes = record_for(installed["spool"], Path(str(_bz2.__file__))).attributes
    assert attributes[names.MODULE_SHA256] == sha256_of(str(_bz2.__file__))
    assert attributes[names.MODULE_VERIFICATION] == names.UNRECORDED  # stdlib: no RECORD


def test_module_from_a_third_party_finder(installed: dict[str, Path]) -> None:
    attributes = record_for(installed["spool"], installed["plugin"]).attributes
    assert attributes[names.MODULE_NAME] == "plugin_mod"
    assert attributes[names.MODULE_SHA256] == sha256_of(installed["plugin"])
    assert attributes[names.MODULE_VERIFICATION] == names.UNRECORDED


def test_sourceless_pyc_is_hashed_itself(installed: dict[str, Path]) -> None:
    attributes = record_for(installed["spool"], installed["sourceless"]).attributes
    assert attributes[names.MODULE_SHA256] == sha256_of(installed["sourceless"])
    assert attributes[names.MODULE_VERIFICATION] == names.UNRECORDED


def test_every_reported_hash_is_the_files(installed: dict[str, Path]) -> None:
    records = module_records(installed["spool"])
    assert len(records) > 50
    for record in records:
        path = record.attributes[names.FILE_PATH]
        assert record.attributes[names.MODULE_SHA256] == sha256_of(path), path
    facts = summary(installed["spool"])
    assert facts[names.SUMMARY_COUNT] == len(records)
    assert f"{DIST}=={VERSION}" in facts[names.SUMMARY_DISTRIBUTIONS]
    assert facts[names.SUMMARY_MISMATCH] == 0
    assert facts[names.SUMMARY_VERIFIED] >= 2  # provtest/__init__.py, provtest/core.py


@pytest.mark.slow
def test_edited_installed_module_is_a_mismatch(tmp_path: Path) -> None:
    site = install_wheel(tmp_path)
    path = site / "provtest" / "core.py"
    with path.open("a") as handle:
        handle.write("PATCHED = True  # someone edited site-packages\n")
    spool = tmp_path / "spool"
    run_python("import provtest.core", spool, tmp_path / "cache.sqlite3", site)
    record = record_for(spool, path)
    assert record.attributes[names.MODULE_VERIFICATION] == names.MISMATCH
    assert record.attributes[names.MODULE_SHA256] == sha256_of(path)
    assert record.severity_number == WARN
    facts = summary(spool)
    assert facts[names.SUMMARY_MISMATCH] == 1
    assert facts[names.SUMMARY_MISMATCHES] == [str(path)]
    untouched = record_for(spool, site / "provtest" / "__init__.py")
    assert untouched.attributes[names.MODULE_VERIFICATION] == names.VERIFIED


@pytest.mark.slow
def test_a_warm_cache_cannot_hide_an_edit_with_restored_mtime(tmp_path: Path) -> None:
    site = install_wheel(tmp_path)
    path = site / "provtest" / "core.py"
    cache = tmp_path / "cache.sqlite3"
    before = path.stat()
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns - 10_000_000_000))
    run_python("import provtest.core", tmp_path / "spool1", cache, site)  # warm the cache
    assert (
        record_for(tmp_path / "spool1", path).attributes[names.MODULE_VERIFICATION]
        == names.VERIFIED
    )
    stat = path.stat()
    path.write_text("ANSWER = 43\n")  # same size, then `touch -d` back: only ctime differs
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    run_python("import provtest.core", tmp_path / "spool2", cache, site)
    record = record_for(tmp_path / "spool2", path)
    assert record.attributes[names.MODULE_VERIFICATION] == names.MISMATCH
    assert record.attributes[names.MODULE_SHA256] == sha256_of(path)


@pytest.mark.slow
def test_editable_install_is_unrecorded(tmp_path: Path) -> None:
    site, module = install_editable(tmp_path)
    code = f"import site; site.addsitedir({str(site)!r}); import edpkg; assert edpkg.EDITABLE"
    spool = tmp_path / "spool"
    run_python(code, spool, tmp_path / "cache.sqlite3")
    record = record_for(spool, module)
    assert record.attributes[names.MODULE_NAME] == "edpkg"
    assert record.attributes[names.MODULE_SHA256] == sha256_of(module)
    assert record.attributes[names.MODULE_VERIFICATION] == names.UNRECORDED
    assert record.attributes[names.MODULE_DISTRIBUTION] == ""
