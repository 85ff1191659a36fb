"""What each destination has acknowledged, per spool file, and who is shipping which file.

Usage::

    store = ProgressStore.open(spool_dir, target)    # SPOOL/.replay/<key>/, 0700, ours
    claim = store.claim("traces-20261207T000000-42-0001.jsonl")
    if claim is not None:                            # None: another process ships it now
        claim.advance(end_offset)                    # after the receiver acknowledged a line
        claim.release()

One small file per spool file and destination holds the byte offset up to which that file
was acknowledged; it is rewritten in place (one ``pwrite`` of a fixed-width number, so a
reader never sees half of it) and is also the lock: an exclusive ``flock`` on it is the
claim, released when its holder closes it or dies.  Every file is opened relative to a
checked directory fd with ``O_NOFOLLOW`` and refused unless it is a plain file of ours
with one link, so a symlink or hard link planted in the spool cannot redirect a write.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from mcptrace._files import UnsafePath, open_private, private_directory, private_subdirectory
from mcptrace.export.destination import Target

_WIDTH = 20
_claims: set[Claim] = set()  # open in this process: closed in a forked child (see below)
_claims_lock = threading.Lock()


class Claim:
    """Exclusive right to ship one spool file to one destination."""

    def __init__(self, fd: int, name: str, offset: int) -> None:
        self.fd = fd
        self.name = name
        self.offset = offset

    def advance(self, offset: int) -> None:
        os.pwrite(self.fd, f"{offset:0{_WIDTH}d}\n".encode(), 0)
        self.offset = offset

    def sync(self) -> None:
        try:
            os.fdatasync(self.fd)
        except OSError:
            pass

    def release(self) -> None:
        with _claims_lock:
            _claims.discard(self)
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)  # releases the flock


def _forget_claims_in_child() -> None:
    # flock belongs to the open file, which a fork shares: a child that outlives its parent
    # must not keep the parent's files claimed forever.  The lock may have been held by a
    # thread of the parent's at the fork.
    global _claims_lock
    _claims_lock = threading.Lock()
    for claim in list(_claims):
        try:
            os.close(claim.fd)
        except OSError:
            pass
        claim.fd = -1
    _claims.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_claims_in_child)


def _read_offset(fd: int) -> int | None:
    raw = os.pread(fd, 64, 0)
    if not raw:
        return 0
    try:
        return max(0, int(raw.strip() or b"0"))
    except ValueError:
        return None


class ProgressStore:
    def __init__(self, spool_dir: Path, directory: Path, directory_fd: int, target: Target):
        self.spool_dir = spool_dir
        self.directory = directory
        self.directory_fd = directory_fd
        self.target = target
        self.unreadable: list[str] = []  # progress files that were garbage (reset to 0)

    @classmethod
    def open(cls, spool_dir: Path, target: Target) -> ProgressStore:
        """Raises UnsafePath (one line) when the spool or its ``.replay`` is not ours."""
        spool_fd = private_directory(spool_dir, "spool directory")
        try:
            replay_fd = private_subdirectory(spool_fd, ".replay", spool_dir)
        finally:
            os.close(spool_fd)
        try:
            key_fd = private_subdirectory(replay_fd, target.key, spool_dir / ".replay")
        finally:
            os.close(replay_fd)
        directory = spool_dir / ".replay" / target.key
        store = cls(spool_dir, directory, key_fd, target)
        store._label()
        return store

    def _label(self) -> None:
        """``endpoint`` says, for a person looking, which destination this directory is."""
        try:
            fd = open_private(
                self.directory_fd, "endpoint", os.O_WRONLY | os.O_CREAT | os.O_EXCL, self.directory
            )
        except FileExistsError:
            return
        try:
            os.write(fd, f"{self.target.signal} {self.target.canonical}\n".encode())
        finally:
            os.close(fd)

    def claim(self, name: str) -> Claim | None:
        """None when another process holds it."""
        fd = open_private(self.directory_fd, name, os.O_RDWR | os.O_CREAT, self.directory)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        offset = _read_offset(fd)
        if offset is None:
            self.unreadable.append(name)
            offset = 0
        claim = Claim(fd, name, offset)
        with _claims_lock:
            _claims.add(claim)
        return claim

    def acknowledged(self, name: str) -> int:
        """The acknowledged offset, read without claiming (0 when unknown)."""
        try:
            fd = open_private(self.directory_fd, name, os.O_RDONLY, self.directory)
        except (FileNotFoundError, UnsafePath):
            return 0
        try:
            return _read_offset(fd) or 0
        finally:
            os.close(fd)

    def close(self) -> None:
        if self.directory_fd >= 0:
            fd, self.directory_fd = self.directory_fd, -1
            os.close(fd)
