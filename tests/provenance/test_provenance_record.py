"""File → distribution mapping over a real pip install (in-process, no subprocess)."""

from __future__ import annotations

import base64
import hashlib
import time
import zipfile
from pathlib import Path

import pytest
from provenance_support import install_wheel, pip, sha256_of

from mcptrace.provenance.cache import HashCache
from mcptrace.provenance.describe import RACY_WINDOW_NS, ModuleProvenance
from mcptrace.provenance.hashing import hash_file, stat_key
from mcptrace.provenance.record import RecordIndex
from mcptrace.record import vocabulary as names


def _wheel_with_other_top_level(directory: Path) -> Path:
    """Distribution ``Odd-Name`` whose import package is ``oddimport`` (no top_level.txt)."""
    files = {
        "oddimport/__init__.py": b"ODD = 1\n",
        "Odd_Name-2.0.dist-info/METADATA": (
            b"Metadata-Version: 2.1\nName: Odd-Name\nVersion: 2.0\n\n"
        ),
        "Odd_Name-2.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    wheel = directory / "Odd_Name-2.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        record = []
        for path, data in files.items():
            archive.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{path},sha256={digest.decode()},{len(data)}")
        record.append("Odd_Name-2.0.dist-info/RECORD,,")
        archive.writestr("Odd_Name-2.0.dist-info/RECORD", "\n".join(record) + "\n")
    return wheel


@pytest.mark.slow
def test_owner_found_when_import_name_differs_from_distribution(tmp_path: Path) -> None:
    site = install_wheel(tmp_path)
    pip(
        "install",
        "--no-deps",
        "--no-index",
        "--target",
        str(site),
        str(_wheel_with_other_top_level(tmp_path)),
    )
    index = RecordIndex(lambda: [str(site)])
    owner = index.owner_of(str(site / "oddimport" / "__init__.py"))
    assert owner is not None
    assert (owner.distribution, owner.version) == ("Odd-Name", "2.0")
    assert owner.algorithm == "sha256"
    provtest = index.owner_of(str(site / "provtest" / "core.py"))
    assert provtest is not None and provtest.distribution == "provtest"
    assert index.parsed_records == 2  # each RECORD once, none parsed needlessly
    stray = site / "stray_module.py"
    stray.write_text("STRAY = 1\n")
    assert index.owner_of(str(stray)) is None


@pytest.mark.slow
def test_describe_in_process_and_cache_rows(tmp_path: Path) -> None:
    site = install_wheel(tmp_path)
    time.sleep(RACY_WINDOW_NS / 1e9 + 0.1)  # freshly written files are never cached
    cache = HashCache(tmp_path / "cache.sqlite3")
    provenance = ModuleProvenance(cache, RecordIndex(lambda: [str(site)]))
    core = site / "provtest" / "core.py"
    attributes = provenance.describe(str(core))
    assert attributes[names.MODULE_SHA256] == sha256_of(core)
    assert attributes[names.MODULE_VERIFICATION] == names.VERIFIED
    assert provenance.hashed >= 1
    provenance.persist()  # (the inventory thread does this in a live process)
    again = ModuleProvenance(cache, RecordIndex(lambda: [str(site)]))
    assert again.describe(str(core)) == attributes
    assert again.hashed == 0 and again.cache_hits >= 1


@pytest.mark.slow
def test_released_record_index_is_read_again_for_a_new_file(tmp_path: Path) -> None:
    """Start-up settled, ``release`` lets go of the RECORD files parsed so far (a server
    keeps nothing of them between walks); a file of the same distribution described later
    has its RECORD read again: the same owner, verified against its listed hash."""
    site = install_wheel(tmp_path)
    time.sleep(RACY_WINDOW_NS / 1e9 + 0.1)
    provenance = ModuleProvenance(HashCache(tmp_path / "cache.sqlite3"))
    provenance.records = RecordIndex(lambda: [str(site)])
    core = site / "provtest" / "core.py"
    first = provenance.describe(str(core))
    assert first[names.MODULE_VERIFICATION] == names.VERIFIED
    assert provenance.records.parsed_records == 1
    provenance.persist()
    provenance.release()
    assert provenance.records.parsed_records == 0  # a new index: nothing of it kept
    assert provenance.describe(str(core)) == first  # the cache row: no RECORD read
    assert provenance.records.parsed_records == 0
    late = site / "provtest" / "__init__.py"
    attributes = provenance.describe(str(late))
    assert provenance.records.parsed_records == 1  # read again, for this file
    assert attributes[names.MODULE_DISTRIBUTION] == first[names.MODULE_DISTRIBUTION]
    assert attributes[names.MODULE_VERSION] == first[names.MODULE_VERSION]
    assert attributes[names.MODULE_VERIFICATION] == names.VERIFIED
    assert attributes[names.MODULE_SHA256] == sha256_of(late)
    late.write_text("TAMPERED = 1\n")  # listed in RECORD with other bytes: a mismatch
    provenance.release()
    assert provenance.describe(str(late))[names.MODULE_VERIFICATION] == names.MISMATCH


def test_hash_checks_the_bytes_against_the_key_the_caller_took(tmp_path: Path) -> None:
    """A file rewritten between ``stat_key`` and the read is hashed again, under its new key;
    the digest always belongs to the key it is returned with."""
    target = tmp_path / "module.py"
    target.write_bytes(b"A = 1\n")
    stale = stat_key(str(target))
    assert stale is not None
    fresh = hash_file(str(target), expected=stale)
    assert fresh is not None and fresh.key == stale
    assert fresh.sha256 == hashlib.sha256(b"A = 1\n").hexdigest()
    time.sleep(0.01)
    target.write_bytes(b"A = 22\n")  # new size, mtime and ctime since the key was taken
    changed = hash_file(str(target), expected=stale)
    assert changed is not None
    assert changed.key != stale and changed.key == stat_key(str(target))
    assert changed.sha256 == hashlib.sha256(b"A = 22\n").hexdigest()


def test_hashing_reads_through_one_small_buffer(tmp_path: Path) -> None:
    """A file is hashed through one buffer below glibc's mmap threshold (128 KiB), whatever
    its size: large chunk-sized allocations, mmap'd and unmapped on every read, raised the
    allocator's threshold and left ≈4 MiB of freed space resident in a server's arenas.
    Every size around the buffer's gives the file's digest."""
    import tracemalloc

    from mcptrace.provenance.hashing import CHUNK

    assert CHUNK < 128 * 1024
    for size in (0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7, 5 << 20):
        target = tmp_path / f"f{size}"
        target.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            digest = hash_file(str(target))
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        assert (
            digest is not None and digest.sha256 == hashlib.sha256(target.read_bytes()).hexdigest()
        )
        assert digest.key == stat_key(str(target))
        assert peak < CHUNK + 32 * 1024, (size, peak)


def test_each_record_rows_hash_is_read_as_written(tmp_path: Path) -> None:
    # A hand-made site directory: RECORD rows with a sha256, another algorithm, a hash with
    # padding, no hash at all and a malformed one; each owner says exactly what its row said
    site = tmp_path / "site"
    dist_info = site / "rows-1.0.dist-info"
    (site / "rows").mkdir(parents=True)
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: rows\nVersion: 1.0\n\n")
    rows = {
        "rows/__init__.py": ("sha256", "abcDEF-_0"),
        "rows/other.py": ("sha384", "xyz"),
        "rows/padded.py": ("sha256", "pad=="),
        "rows/none.py": ("", ""),
        "rows/odd.py": ("nodigest", ""),
    }
    lines = []
    for relative, (algorithm, expected) in rows.items():
        (site / relative).write_text("X = 1\n")
        if algorithm == "nodigest":
            lines.append(f"{relative},nodigest,6")
        else:
            lines.append(f"{relative},{algorithm + '=' + expected if algorithm else ''},6")
    (dist_info / "RECORD").write_text("\n".join(lines) + "\n")
    index = RecordIndex(lambda: [str(site)])
    for relative, (algorithm, expected) in rows.items():
        owner = index.owner_of(str(site / relative))
        assert owner is not None, relative
        assert (owner.distribution, owner.version) == ("rows", "1.0")
        assert (owner.algorithm, owner.expected) == (algorithm, expected), relative
    assert index.parsed_records == 1
