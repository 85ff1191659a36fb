"""Has this exact set of module files been reported before?  Answered with stats only.

Usage::

    known = KnownModuleSets(Path("~/.local/state/mcptrace/hash-cache.sqlite3.known"))
    digest = module_set_digest()           # the files of sys.modules and their .pyc
    if not known.contains(digest): ...     # something new: report the modules
    known.add(digest)                      # after a report that found no mismatch

A process whose modules were all loaded from files an earlier process reported, unchanged
(same device, inode, size, mtime_ns and ctime_ns: ``touch -d`` cannot fake ctime), has
nothing new to say about them: at exit it need not load the SDK, open the hash cache or
write a record.  The digest covers every module file and the ``.pyc`` the importer would
run for it; one changed byte changes a stat key, hence the digest, and the next exit
reports in full.  Digests are only added after a report without a mismatch, so a process
with a mismatching module reports it every time.

Imported at exit by processes that never activated: only ``os``, ``sys`` and ``_blake2``.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing's: used at the exit of processes that loaded nothing else
if TYPE_CHECKING:
    from collections.abc import Iterable

MAX_DIGESTS = 1024  # lines kept in the file; the oldest go when it is rewritten
_LINE = 32 + 1  # hex digest and newline


def _blake2b() -> object:
    try:
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - a Python built without it
        from hashlib import blake2b
    return blake2b(digest_size=16)


def module_files() -> list[str]:
    """The absolute file of every loaded module that has one, sorted."""
    files = set()
    for module in list(sys.modules.values()):
        try:  # __dict__, not getattr: a module-level __getattr__ may import things
            raw = object.__getattribute__(module, "__dict__").get("__file__")
        except Exception:
            continue
        if isinstance(raw, str) and raw and not raw.startswith("<"):
            files.add(raw if _normal(raw) else os.path.abspath(raw))
    return sorted(files)


def _normal(path: str) -> bool:
    """An absolute POSIX path ``os.path.abspath`` would return unchanged (most modules')."""
    return (
        os.sep == "/"
        and path[:1] == "/"
        and path[-1:] != "/"
        and "/." not in path
        and "//" not in path
    )


def _bytecode_of(path: str) -> str | None:
    """The ``.pyc`` the importer would read for ``path`` (``cache_from_source``'s answer,
    built directly in the common case: no ``pycache_prefix``, no ``-O``)."""
    if not path.endswith(".py"):
        return None
    tag = sys.implementation.cache_tag
    if tag is not None and sys.pycache_prefix is None and not sys.flags.optimize:
        head, _, tail = path.rpartition("/")
        if head and tail != ".py" and _normal(path):
            return f"{head}/__pycache__/{tail[:-3]}.{tag}.pyc"
    external = sys.modules.get("_frozen_importlib_external")
    cache_from_source = getattr(external, "cache_from_source", None)
    if cache_from_source is None:
        return None
    try:
        return str(cache_from_source(path))
    except (NotImplementedError, ValueError):
        return None


def module_set_digest(files: Iterable[str] | None = None) -> str:
    """A digest of the stat keys of ``files`` (default: the loaded modules' files) and of
    the bytecode cached for each source file."""
    digest = _blake2b()
    update = digest.update  # type: ignore[attr-defined]
    for path in module_files() if files is None else files:
        for name in (path, _bytecode_of(path)):
            if name is None:
                continue
            try:
                status = os.stat(name)
                key = (
                    f"{name}\0{status.st_dev}\0{status.st_ino}\0{status.st_size}"
                    f"\0{status.st_mtime_ns}\0{status.st_ctime_ns}\n"
                )
            except OSError:
                key = f"{name}\0-\n"
            update(key.encode("utf-8", "surrogateescape"))
    return str(digest.hexdigest())  # type: ignore[attr-defined]


def _ours(info: os.stat_result) -> bool:
    """Owned by this user and writable by nobody else (what _files.check_owned demands)."""
    return info.st_uid == os.geteuid() and not info.st_mode & 0o022


class KnownModuleSets:
    """A small file of digests, one per line, next to the hash cache.

    It decides what goes unreported, so it is trusted only as the hash cache is: a plain
    file of this user's, not a symlink, not hard-linked, in a directory of this user's that
    nobody else can write (``_files.py``).  Anything else reads as empty — every module set
    is then new and reported in full — and is never written to."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    def _read(self) -> list[str]:
        directory = os.path.dirname(self.path) or os.curdir
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            if not _ours(os.stat(directory)):
                return []
            descriptor = os.open(self.path, flags)
        except OSError:
            return []
        try:
            info = os.fstat(descriptor)
            if not (info.st_mode & 0o170000 == 0o100000 and info.st_nlink == 1 and _ours(info)):
                return []
            data = os.read(descriptor, MAX_DIGESTS * 2 * _LINE)
        except OSError:
            return []
        finally:
            os.close(descriptor)
        return [line for line in data.decode("ascii", "replace").split("\n") if len(line) == 32]

    def contains(self, digest: str) -> bool:
        return digest in self._read()

    def add(self, digest: str) -> None:
        """Remember ``digest``; never raises (the file only ever saves work)."""
        from pathlib import Path

        from mcptrace._files import open_private, private_directory

        path = Path(self.path)
        try:
            lines = self._read()
            if digest in lines:
                return
            directory = private_directory(path.parent)
            try:
                if len(lines) >= MAX_DIGESTS:  # keep the newer half
                    lines = lines[-(MAX_DIGESTS // 2) :]
                    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                else:
                    lines, flags = [], os.O_WRONLY | os.O_CREAT | os.O_APPEND
                descriptor = open_private(directory, path.name, flags, path.parent)
                try:
                    os.write(descriptor, "".join(f"{line}\n" for line in [*lines, digest]).encode())
                finally:
                    os.close(descriptor)
            finally:
                os.close(directory)
        except OSError:  # UnsafePath included: the hash cache's directory is refused too
            pass
