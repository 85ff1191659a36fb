"""The persistent hash cache: a second start re-hashes nothing, a corrupt file is rebuilt,
several processes starting at once share it and all report correct hashes."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from provenance_support import (
    install_wheel,
    module_records,
    record_for,
    run_python,
    sha256_of,
    summary,
)

from mcptrace.provenance.describe import RACY_WINDOW_NS
from mcptrace.record import vocabulary as names
from support import PYTHON, clean_env, mcptrace_cmd

CODE = "import json, decimal, provtest.core"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("cache")
    site = install_wheel(work)
    # files changed within the racy window are (rightly) not cached: let pip's output age,
    # and let one run compile whatever .pyc the interpreter still had to write
    run_python(CODE, work / "warmup-spool", work / "warmup.sqlite3", site)
    time.sleep(RACY_WINDOW_NS / 1e9 + 0.2)
    return site


@pytest.mark.slow
def test_second_start_rehashes_nothing(site: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite3"
    started = time.time_ns()
    run_python(CODE, tmp_path / "first", cache, site)
    first = summary(tmp_path / "first")
    assert first[names.SUMMARY_HASHED] > 50
    assert first[names.SUMMARY_CACHE_HITS] == 0
    run_python(CODE, tmp_path / "second", cache, site)
    second = summary(tmp_path / "second")
    # only files that changed since (or just before) the first start may be hashed again:
    # in a repository others are editing, that is their sources and the .pyc they recompile
    changed = changed_since(tmp_path / "second", started - RACY_WINDOW_NS)
    assert second[names.SUMMARY_HASHED] <= len(changed), changed
    assert second[names.SUMMARY_CACHE_HITS] >= second[names.SUMMARY_COUNT]
    # a warm start loads no RECORD mapping (importlib.metadata, email, zipfile…), so it may
    # import fewer modules than the cold one — never other ones
    paths = {
        name: {r.attributes[names.FILE_PATH] for r in module_records(tmp_path / name)}
        for name in ("first", "second")
    }
    assert paths["second"] <= paths["first"], sorted(paths["second"] - paths["first"])
    assert second[names.SUMMARY_COUNT] == len(paths["second"]) <= first[names.SUMMARY_COUNT]
    core = site / "provtest" / "core.py"  # and the cached answers are the same answers
    assert (
        record_for(tmp_path / "second", core).attributes
        == record_for(tmp_path / "first", core).attributes
    )
    with sqlite3.connect(cache) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def changed_since(spool: Path, since_ns: int) -> list[str]:
    paths = set()
    for record in module_records(spool):
        paths.add(record.attributes[names.FILE_PATH])
        paths.add(record.attributes.get(names.BYTECODE_PATH) or record.attributes[names.FILE_PATH])
    return sorted(p for p in paths if Path(p).stat().st_ctime_ns >= since_ns)


@pytest.mark.slow
def test_corrupt_cache_is_moved_aside_and_rebuilt(site: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite3"
    cache.write_bytes(b"this is not a database\n" * 100)
    spool = tmp_path / "spool"
    started = time.time_ns()
    run_python(CODE, spool, cache, site)
    facts = summary(spool)
    assert facts[names.SUMMARY_CACHE_STATE] == "rebuilt"
    assert [p.name for p in tmp_path.glob("cache.sqlite3.corrupt-*")], list(tmp_path.iterdir())
    core = site / "provtest" / "core.py"
    assert record_for(spool, core).attributes[names.MODULE_SHA256] == sha256_of(core)
    with sqlite3.connect(cache) as connection:
        rows = connection.execute("SELECT count(*) FROM files").fetchone()[0]
    assert rows > 50
    run_python(CODE, tmp_path / "again", cache, site)
    changed = changed_since(tmp_path / "again", started - RACY_WINDOW_NS)
    assert summary(tmp_path / "again")[names.SUMMARY_HASHED] <= len(changed)


@pytest.mark.slow
def test_processes_starting_together_share_the_cache(site: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite3"
    spools = [tmp_path / f"spool{i}" for i in range(4)]
    env = clean_env(MCPTRACE_HASH_CACHE=str(cache), PYTHONPATH=str(site))
    started = time.time_ns()
    processes = [
        subprocess.Popen(
            mcptrace_cmd("run", "--spool", str(spool), "--", PYTHON, "-c", CODE),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for spool in spools
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr, stderr
    for spool in spools:
        records = module_records(spool)
        assert len(records) > 50
        for record in records:
            path = record.attributes[names.FILE_PATH]
            assert record.attributes[names.MODULE_SHA256] == sha256_of(path), path
        assert summary(spool)[names.SUMMARY_CACHE_STATE] == "ok"
    with sqlite3.connect(cache) as connection:
        rows = connection.execute("SELECT path, sha256 FROM files").fetchall()
    assert len(rows) > 50
    for path, sha256 in rows:
        assert sha256 == sha256_of(path), path
    run_python(CODE, tmp_path / "after", cache, site)
    changed = changed_since(tmp_path / "after", started - RACY_WINDOW_NS)
    assert summary(tmp_path / "after")[names.SUMMARY_HASHED] <= len(changed)


def test_an_unusable_cache_location_costs_only_the_cache(site: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be\n")
    spool = tmp_path / "spool"
    run_python(CODE, spool, blocker / "cache.sqlite3", site)
    facts = summary(spool)
    assert facts[names.SUMMARY_CACHE_STATE] == "unavailable"
    core = site / "provtest" / "core.py"
    record = record_for(spool, core)
    assert record.attributes[names.MODULE_SHA256] == sha256_of(core)
    assert record.attributes[names.MODULE_VERIFICATION] == names.VERIFIED


def test_a_closed_cache_opens_again_on_the_next_lookup(tmp_path: Path) -> None:
    """A settled inventory closes the cache between its walks (its page cache is memory a
    server keeps otherwise); a late import's lookup opens the file again and finds its row."""
    from mcptrace.provenance.cache import FileFacts, HashCache
    from mcptrace.provenance.hashing import stat_key

    module = tmp_path / "late.py"
    module.write_text("X = 1\n")
    key = stat_key(str(module))
    assert key is not None
    facts = FileFacts("ab" * 32, "", "", "", "", "unowned")
    cache = HashCache(tmp_path / "cache.sqlite3")
    assert cache.put_many([(key, facts)])
    cache.close()
    assert cache.get(key) == facts  # opened again
    cache.close()
    assert cache.get_many([key]) == {key: facts}
    cache.close()
    assert HashCache(tmp_path / "cache.sqlite3").get(key) == facts  # stored on disk


def test_released_facts_come_back_from_the_cache_unhashed(tmp_path: Path) -> None:
    """A settled inventory releases what it kept in memory; a file described again is then
    a cache hit (same attributes, nothing hashed again), and a file edited since is hashed
    afresh: its new bytes are what the record says."""
    from mcptrace.provenance.cache import HashCache
    from mcptrace.provenance.describe import ModuleProvenance

    module = tmp_path / "late.py"
    module.write_text("X = 1\n")
    time.sleep(RACY_WINDOW_NS / 1e9 + 0.2)  # older than the racy window: its row is saved
    provenance = ModuleProvenance(HashCache(tmp_path / "cache.sqlite3"))
    first = provenance.describe(str(module))
    provenance.persist()
    assert provenance.hashed == 1 and first[names.MODULE_SHA256] == sha256_of(module)
    provenance.release()
    assert provenance.memory == {}
    assert provenance.describe(str(module)) == first
    assert provenance.hashed == 1  # from the cache file, not read again
    module.write_text("X = 2\n")
    provenance.release()
    edited = provenance.describe(str(module))
    assert provenance.hashed == 2
    assert edited[names.MODULE_SHA256] == sha256_of(module) != first[names.MODULE_SHA256]
