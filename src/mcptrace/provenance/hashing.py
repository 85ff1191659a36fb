"""SHA-256 of a file from the bytes on disk, with the stat key that identifies those bytes.

Usage::

    digest = hash_file("/venv/lib/python3.11/site-packages/anyio/__init__.py")
    digest.sha256, digest.key        # hex digest; (realpath, dev, ino, size, mtime_ns, ctime_ns)

The file is read through one descriptor and ``fstat``-ed before and after: if it changed
while being read, it is read again, so a digest always belongs to the key it is stored
under.  Reads happen with the sensor paused: the hasher's reads are not the tool's.
"""

from __future__ import annotations

import hashlib
import os
import stat
from typing import NamedTuple

from mcptrace._guard import sensor_paused

# Read through one buffer of this size per file, below glibc's default mmap threshold
# (128 KiB).  Reading 1 MiB chunks with os.read allocated a 1 MiB bytes object per read,
# mmap'd and unmapped again; each unmap raised glibc's dynamic mmap threshold, so every
# later large allocation of the thread (the next reads, a batch's encoding) came from its
# arena instead, which kept the freed space: ≈4 MiB more resident in a server after its
# start-up's walk (a fixed threshold, MALLOC_MMAP_THRESHOLD_=131072, showed the same 4 MiB).
CHUNK = 64 * 1024
ATTEMPTS = 3
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)


class FileKey(NamedTuple):
    """What must be unchanged for a stored digest to still describe the file.

    ctime is in the key because user space cannot set it: ``touch -d`` can restore an
    edited file's mtime, never its ctime.
    """

    path: str
    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int


class Digest(NamedTuple):
    key: FileKey
    sha256: str


def key_of(real_path: str, status: os.stat_result) -> FileKey:
    return FileKey(
        real_path,
        status.st_dev,
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
    )


_real_directories: dict[str, str] = {}


def real_path(path: str, status: os.stat_result | None = None) -> str:
    """``os.path.realpath`` with one ``lstat`` instead of one per path component.

    Directories are resolved once per process; only a file that is itself a symlink needs
    the full resolution.
    """
    if status is not None and stat.S_ISLNK(status.st_mode):
        return os.path.realpath(path)
    directory, name = os.path.split(path)
    real_directory = _real_directories.get(directory)
    if real_directory is None:
        real_directory = _real_directories[directory] = os.path.realpath(directory)
    return os.path.join(real_directory, name)


def stat_key(path: str) -> FileKey | None:
    """The key of the regular file at ``path`` (symlinks resolved), None if there is none.

    Callers reading many files pause the sensor once around the loop (see describe.py).
    """
    if not os.path.isabs(path):
        path = os.path.abspath(path)
    try:
        status = os.lstat(path)
        real = real_path(path, status)
        if stat.S_ISLNK(status.st_mode):
            status = os.stat(real)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(status.st_mode):
        return None
    return key_of(real, status)


def hash_file(
    path: str, algorithm: str = "sha256", expected: FileKey | None = None
) -> Digest | None:
    """Digest of the file's bytes (hex), or None if it cannot be read consistently.

    ``expected``: the key the caller just took with ``stat_key``; its resolved path is read
    and the bytes are checked against it after reading (no second resolve, one ``fstat``
    less), and a file that changed since is read again with its own before/after check.
    """
    with sensor_paused():
        real = expected.path if expected is not None else None
        if real is None:
            if not os.path.isabs(path):
                path = os.path.abspath(path)
            try:
                real = real_path(path, os.lstat(path))
            except (OSError, ValueError):
                return None
        for _ in range(ATTEMPTS):
            try:
                descriptor = os.open(real, _OPEN_FLAGS)
            except (OSError, ValueError):
                return None
            try:
                if expected is None:
                    before = os.fstat(descriptor)
                    if not stat.S_ISREG(before.st_mode):
                        return None
                    key = key_of(real, before)
                else:
                    key = expected
                digest = hashlib.new(algorithm)
                remaining = key.size  # no read past the end: the fstat after tells
                buffer = memoryview(bytearray(min(max(remaining, 1), CHUNK)))
                while remaining > 0:
                    read = os.readv(descriptor, [buffer[: min(remaining, CHUNK)]])
                    if not read:
                        break
                    digest.update(buffer[:read])
                    remaining -= read
                after = os.fstat(descriptor)
            except OSError:
                return None
            finally:
                os.close(descriptor)
            if key == key_of(real, after):
                return Digest(key, digest.hexdigest())
            expected = None  # changed since it was statted: check the next read on its own
        return None  # rewritten while we read it, every time
