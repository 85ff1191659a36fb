"""The provenance of one module file: sha256, owning distribution, verification.

Usage::

    provenance = ModuleProvenance(HashCache(path))   # or ModuleProvenance(None): no cache
    provenance.describe(path)      # the attributes of an mcptrace.module.import event
    provenance.persist()           # write new cache rows (one transaction, off the hot path)

A file is hashed once per process and, through the persistent cache, once per change: the
cache row is keyed by the file's stat key and also remembers the RECORD it was checked
against, so a reinstall (new RECORD) re-verifies without re-hashing an unchanged file.
Rows for files changed in the last ``RACY_WINDOW_NS`` are not persisted: a second edit in
the same timestamp tick could leave every key field unchanged (git's "racy clean" problem).

For a source module the importer may have run the cached ``.pyc`` instead of the ``.py``;
when the ``.pyc`` header says it is valid for the source, the event also names that file
and its own hash (``mcptrace.module.bytecode.path``, ``.sha256``).  RECORD has no hash for
``.pyc`` files, so nothing verifies them: ``verification`` speaks for the source file only.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import threading
import time
from typing import NamedTuple

from opentelemetry.util.types import AttributeValue

from mcptrace._guard import sensor_paused
from mcptrace.provenance.cache import FileFacts, HashCache
from mcptrace.provenance.hashing import FileKey, hash_file, stat_key
from mcptrace.provenance.record import Owner, RecordIndex, stat_signature
from mcptrace.record import vocabulary as names

RACY_WINDOW_NS = 2_000_000_000
_PYC_HEADER = 16
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


class Described(NamedTuple):
    path: str
    source: FileFacts
    bytecode_path: str
    bytecode: FileFacts | None


def verification_of(owner: Owner | None, sha256_hex: str, path: str) -> str:
    if owner is None or not owner.algorithm or not owner.expected:
        return names.UNRECORDED
    if owner.algorithm == "sha256":
        actual = bytes.fromhex(sha256_hex)
    else:  # RECORD may use any hashlib algorithm at least as strong; rare, so read again
        other = hash_file(path, owner.algorithm) if owner.algorithm in _ALGORITHMS else None
        if other is None:
            return names.UNRECORDED
        actual = bytes.fromhex(other.sha256)
    recorded = base64.urlsafe_b64encode(actual).rstrip(b"=").decode()
    return names.VERIFIED if recorded == owner.expected.rstrip("=") else names.MISMATCH


_ALGORITHMS = frozenset({"sha224", "sha256", "sha384", "sha512", "sha3_256", "blake2b"})


def bytecode_candidate(source: str) -> str | None:
    """Where the importer looks for the cached bytecode of ``source``."""
    try:
        return importlib.util.cache_from_source(source)
    except (NotImplementedError, ValueError):
        return None


def bytecode_accepted(cached: str, source: str, key: FileKey) -> bool:
    """Whether the importer runs ``cached`` for ``source`` (without reading the source)."""
    try:  # os.open: no buffer and no isatty check for 16 bytes (syscalls are dear here)
        descriptor = os.open(cached, _READ_FLAGS)
    except (OSError, ValueError):
        return False
    try:
        header = os.read(descriptor, _PYC_HEADER)
    except OSError:
        return False
    finally:
        os.close(descriptor)
    if len(header) < _PYC_HEADER or header[:4] != importlib.util.MAGIC_NUMBER:
        return False
    flags = int.from_bytes(header[4:8], "little")
    if flags == 0:  # timestamp pyc: valid when the source's mtime and size match
        mtime = int.from_bytes(header[8:12], "little")
        size = int.from_bytes(header[12:16], "little")
        return mtime == (key.mtime_ns // 1_000_000_000) & 0xFFFFFFFF and size == (
            key.size & 0xFFFFFFFF
        )
    if flags & 0b01:  # hash-based (PEP 552): checked against the source, or not at all
        import _imp

        check = flags & 0b10 and _imp.check_hash_based_pycs != "never"
        if not check and _imp.check_hash_based_pycs != "always":
            return True
        try:
            with open(source, "rb") as handle:
                data = handle.read()
        except OSError:
            return False
        return importlib.util.source_hash(data) == header[8:16]
    return False


class ModuleProvenance:
    def __init__(self, cache: HashCache | None, records: RecordIndex | None = None) -> None:
        self.cache = cache
        self.records = records or RecordIndex()
        self.lock = threading.RLock()
        self.memory: dict[FileKey, FileFacts] = {}
        self.unsaved: list[tuple[FileKey, FileFacts]] = []
        self.prefetched: dict[FileKey, FileFacts] = {}
        self.batch = False
        self.hashed = 0  # files read and hashed by this process (the cache's misses)
        self.cache_hits = 0
        self._record_keys: dict[str, str] = {}

    def _record_unchanged(self, facts: FileFacts) -> bool:
        if not facts.record_path:
            return True
        current = self._record_keys.get(facts.record_path)
        if current is None:
            current = self._record_keys[facts.record_path] = stat_signature(facts.record_path)
        return current == facts.record_key

    def _facts(self, path: str, key: FileKey) -> FileFacts | None:
        facts = self.memory.get(key)
        if facts is not None:
            return facts
        cached = self.prefetched.pop(key, None)
        if cached is None and self.cache is not None and not self.batch:
            # (a batch asked for all its keys at once; a span ending never waits on a write)
            cached = self.cache.get(key, wait=False)
        if cached is not None and self._record_unchanged(cached):
            self.cache_hits += 1
            self.memory[key] = cached
            return cached
        if cached is not None:  # same bytes, reinstalled distribution: verify again
            sha256 = cached.sha256
        else:
            digest = hash_file(path, expected=key)
            if digest is None:
                return None
            self.hashed += 1
            key, sha256 = digest.key, digest.sha256
        owner = self.records.owner_of(path, real=key.path)
        facts = FileFacts(
            sha256,
            owner.distribution if owner else "",
            owner.version if owner else "",
            owner.record_path if owner else "",
            owner.record_key if owner else "",
            verification_of(owner, sha256, path),
        )
        self.memory[key] = facts
        if time.time_ns() - max(key.mtime_ns, key.ctime_ns) > RACY_WINDOW_NS:
            self.unsaved.append((key, facts))
        return facts

    def _described(
        self, path: str, key: FileKey, pyc: str | None, pyc_key: FileKey | None
    ) -> Described | None:
        source = self._facts(path, key)
        if source is None:
            return None
        if pyc is None or pyc_key is None or not bytecode_accepted(pyc, path, key):
            return Described(path, source, "", None)
        bytecode = self._facts(pyc, pyc_key)
        return Described(path, source, pyc if bytecode is not None else "", bytecode)

    def describe_file(self, path: str) -> Described | None:
        with self.lock, sensor_paused():
            key = stat_key(path)
            if key is None:
                return None
            pyc = bytecode_candidate(path) if path.endswith(".py") else None
            return self._described(path, key, pyc, stat_key(pyc) if pyc else None)

    def describe_many(self, paths: list[str]) -> list[Described | None]:
        """``describe_file`` for many files, with one cache query per few hundred files."""
        with self.lock, sensor_paused():
            keys = [stat_key(path) for path in paths]
            pycs = [bytecode_candidate(p) if p.endswith(".py") else None for p in paths]
            pyc_keys = [stat_key(pyc) if pyc else None for pyc in pycs]
            wanted = [k for k in (*keys, *pyc_keys) if k is not None and k not in self.memory]
            if wanted and self.cache is not None:
                self.prefetched.update(self.cache.get_many(wanted))
            self.batch = True
            try:
                return [
                    None if key is None else self._described(path, key, pyc, pyc_key)
                    for path, key, pyc, pyc_key in zip(paths, keys, pycs, pyc_keys, strict=True)
                ]
            finally:
                self.batch = False
                self.prefetched.clear()

    def describe(self, path: str) -> dict[str, AttributeValue]:
        """The provenance attributes of an ``mcptrace.module.import`` event for ``path``."""
        described = self.describe_file(path)
        if described is None:
            return {}
        return attributes_of(described)  # new cache rows are written by the inventory thread

    def persist(self) -> None:
        with self.lock:
            rows, self.unsaved = self.unsaved, []
        if rows and self.cache is not None:
            self.cache.put_many(rows)

    def release(self) -> None:
        """Let go of what a walk kept (start-up settled, walks are far apart): the facts of
        every file described so far (≈0.8 MiB in a server), the RECORD files parsed to find
        their owners (≈0.7 MiB on a cold cache) and SQLite's page cache (≈1.1 MiB).
        Saved rows stay in the cache file, so describing such a file again is one lookup
        (the connection opens again on demand); facts not saved (a file changed within the
        racy window) are hashed again, and a file not in the cache has its distribution's
        RECORD read again (one file)."""
        with self.lock:
            self.memory = {}
            self.records = self.records.emptied()
            self._record_keys = {}
            if self.cache is not None:
                self.cache.close()

    def reset_after_fork(self) -> None:
        self.lock = threading.RLock()
        if self.cache is not None:
            self.cache.forget_after_fork()


def attributes_of(described: Described) -> dict[str, AttributeValue]:
    source = described.source
    attributes: dict[str, AttributeValue] = {
        names.MODULE_SHA256: source.sha256,
        names.MODULE_DISTRIBUTION: source.distribution,
        names.MODULE_VERSION: source.version,
        names.MODULE_VERIFICATION: source.verification,
    }
    if described.bytecode is not None:
        attributes[names.BYTECODE_PATH] = described.bytecode_path
        attributes[names.BYTECODE_SHA256] = described.bytecode.sha256
    return attributes


def module_path(raw: object) -> str | None:
    """An absolute file path from a module's ``__file__`` (None for frozen, zip members...)."""
    if not isinstance(raw, str) or not raw or raw.startswith("<"):
        return None
    return os.path.abspath(raw)
