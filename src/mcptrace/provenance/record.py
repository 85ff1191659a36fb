"""Which installed distribution owns a file, and the hash its RECORD lists for it — lazily.

Usage::

    index = RecordIndex()
    owner = index.owner_of("/venv/lib/python3.11/site-packages/anyio/_core/_fileio.py")
    owner.distribution, owner.version, owner.algorithm, owner.expected   # "anyio", "4.6.0", ...

Nothing is read at start-up.  For a file, the directory it was imported from (the longest
``sys.path`` entry containing it, else the nearest ``site-packages`` above it) is listed
once for ``*.dist-info``; the candidate distributions are tried in order — the one whose
normalized name equals the file's top-level name, then those whose ``top_level.txt`` lists
it — and each RECORD is parsed at most once per process.  Only a file none of them owns
makes the other RECORDs be read, and just searched for its path until one mentions it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable
from typing import NamedTuple

from mcptrace._guard import sensor_paused
from mcptrace.provenance.hashing import real_path

_NORMALIZE = re.compile(r"[-_.]+")
_SITE_DIR_NAMES = ("site-packages", "dist-packages")


def normalize(name: str) -> str:
    return _NORMALIZE.sub("_", name).lower()


class Owner(NamedTuple):
    distribution: str
    version: str
    record_path: str
    record_key: str
    algorithm: str  # "" when RECORD lists the file without a hash (.pyc, RECORD itself)
    expected: str  # urlsafe base64 without padding, as RECORD writes it


class _Distribution(NamedTuple):
    name: str
    version: str
    record_path: str
    record_key: str


def stat_signature(path: str) -> str:
    """A file's stat key as text ("" when missing): a changed RECORD invalidates cached rows."""
    try:
        status = os.stat(path)
    except OSError:
        return ""
    return (
        f"{status.st_dev}:{status.st_ino}:{status.st_size}"
        f":{status.st_mtime_ns}:{status.st_ctime_ns}"
    )


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _metadata_name_version(dist_info: str) -> tuple[str, str]:
    """Name and Version from METADATA's headers (fallback: the dist-info directory's name)."""
    stem = os.path.basename(dist_info).removesuffix(".dist-info")
    fallback_name, _, fallback_version = stem.rpartition("-")
    name, version = "", ""
    try:
        with open(os.path.join(dist_info, "METADATA"), encoding="utf-8", errors="replace") as file:
            for line in file:  # headers only: the long description follows the first blank line
                if not line.strip() or (name and version):
                    break
                key, _, value = line.partition(":")
                if key == "Name" and not name:
                    name = value.strip()
                elif key == "Version" and not version:
                    version = value.strip()
    except OSError:
        pass
    return name or fallback_name or stem, version or fallback_version


class _SiteDirectory:
    """The dist-info directories of one import root, and which of them have been parsed."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.by_name: dict[str, list[str]] = {}
        self.unparsed: list[str] = []
        self.top_level: dict[str, list[str]] | None = None
        try:
            names = os.listdir(root)
        except OSError:
            names = []
        for name in sorted(names):
            if name.endswith(".dist-info"):
                path = os.path.join(root, name)
                stem = name.removesuffix(".dist-info").rpartition("-")[0] or name
                self.by_name.setdefault(normalize(stem), []).append(path)
                self.unparsed.append(path)

    def candidates(self, top: str) -> Iterable[str]:
        """Likely owners first: same normalized name, then ``top_level.txt``."""
        yield from self.by_name.get(normalize(top), [])
        if self.top_level is None:
            self.top_level = {}
            for dist_info in self.unparsed:
                for line in (_read_text(os.path.join(dist_info, "top_level.txt")) or "").split():
                    self.top_level.setdefault(line.strip(), []).append(dist_info)
        yield from self.top_level.get(top, [])


class RecordIndex:
    def __init__(self, search_path: Callable[[], list[str]] = lambda: sys.path) -> None:
        self._search_path = search_path
        self._roots_for: tuple[str, ...] = ()
        self._roots: list[str] = []
        self._sites: dict[str, _SiteDirectory] = {}
        # file -> (its distribution, its RECORD hash "algorithm=digest"), split on lookup: a
        # cold cache parses thousands of rows of which a few hundred are looked up
        self._files: dict[str, tuple[_Distribution, str]] = {}
        self.parsed_records = 0

    def emptied(self) -> RecordIndex:
        """A new index over the same search path, nothing parsed (what ``release`` keeps)."""
        return RecordIndex(self._search_path)

    def _import_roots(self) -> list[str]:
        """sys.path as absolute directories, longest first (recomputed when sys.path changes)."""
        current = tuple(entry for entry in self._search_path() if isinstance(entry, str))
        if current != self._roots_for:
            roots: set[str] = set()
            for entry in current:
                absolute = os.path.abspath(entry or os.curdir)
                roots.add(absolute)
                roots.add(os.path.realpath(absolute))
            self._roots = sorted(roots, key=len, reverse=True)
            self._roots_for = current
        return self._roots

    def _root_of(self, path: str) -> str | None:
        for root in self._import_roots():
            if path.startswith(root + os.sep):
                return root
        parent = os.path.dirname(path)  # loaded by a finder from outside sys.path
        while parent and parent != os.path.dirname(parent):
            if os.path.basename(parent) in _SITE_DIR_NAMES:
                return parent
            parent = os.path.dirname(parent)
        return None

    def _parse(self, site: _SiteDirectory, dist_info: str, text: str | None = None) -> None:
        if dist_info not in site.unparsed:
            return
        site.unparsed.remove(dist_info)
        record_path = os.path.join(dist_info, "RECORD")
        if text is None:
            text = _read_text(record_path)
        if text is None:
            return
        name, version = _metadata_name_version(dist_info)
        distribution = _Distribution(name, version, record_path, stat_signature(record_path))
        self.parsed_records += 1
        import csv  # only needed on a cold cache

        prefix = site.root + os.sep
        plain = os.sep == "/"  # RECORD paths are "/"-separated: joined as they are here
        for row in csv.reader(text.splitlines()):
            if not row or not row[0]:
                continue
            digest = row[1] if len(row) > 1 else ""
            relative = row[0]
            wrapped = f"/{relative}/"
            if plain and "//" not in wrapped and "/./" not in wrapped and "/../" not in wrapped:
                full = prefix + relative  # already normal: what normpath(join) would give
            else:
                full = os.path.normpath(os.path.join(site.root, relative))
            self._files.setdefault(full, (distribution, digest))

    def _search(self, site: _SiteDirectory, relative: str) -> None:
        """Last resort: the RECORD that mentions the file at all (read, parsed if it does)."""
        needle = relative.replace(os.sep, "/")
        for dist_info in list(site.unparsed):
            text = _read_text(os.path.join(dist_info, "RECORD"))
            if text is not None and needle in text:
                self._parse(site, dist_info, text)
                return

    def _lookup(self, path: str) -> Owner | None:
        found = self._files.get(path)
        if found is None:
            return None
        distribution, digest = found
        algorithm, _, expected = digest.partition("=")
        return Owner(*distribution, algorithm, expected)

    def owner_of(self, path: str, real: str | None = None) -> Owner | None:
        """The distribution whose RECORD lists ``path``, or None (stdlib, editable, stray).

        ``real``: the file's resolved path when the caller already has it.
        """
        with sensor_paused():
            absolute = os.path.normpath(os.path.abspath(path))
            if real is None:
                try:
                    real = real_path(absolute, os.lstat(absolute))
                except OSError:
                    real = absolute
            for candidate in dict.fromkeys((absolute, real)):
                owner = self._lookup(candidate)
                if owner is not None:
                    return owner
                root = self._root_of(candidate)
                if root is None:
                    continue
                site = self._sites.get(root)
                if site is None:
                    site = self._sites[root] = _SiteDirectory(root)
                if not site.unparsed:  # every RECORD here is read (or there is none: stdlib)
                    continue
                relative = os.path.relpath(candidate, root)
                parts = relative.split(os.sep)
                if parts[0] == "__pycache__" and len(parts) > 1:  # bytecode of a top module
                    parts = parts[1:]
                top = parts[0].split(".", 1)[0]
                for dist_info in site.candidates(top):
                    self._parse(site, dist_info)
                    owner = self._lookup(candidate)
                    if owner is not None:
                        return owner
                self._search(site, relative)
                owner = self._lookup(candidate)
                if owner is not None:
                    return owner
            return None
