"""Files and directories as a careful daemon makes them: private, never through a symlink.

Usage::

    private_directory(Path("~/.local/state/mcptrace/spool").expanduser())  # 0700, ours
    fd = open_private(directory_fd, "progress", create=True)                 # O_NOFOLLOW

Every directory mcptrace creates is ``0700`` whatever the umask; the last component of a
directory it uses is opened with ``O_NOFOLLOW`` and must belong to the user running
mcptrace and be writable by nobody else, so another user can neither read the telemetry nor
plant a symlink that redirects a write.  ``UnsafePath`` carries the one line the user sees.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from mcptrace import _pristine

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def above_stdio(fd: int) -> int:
    """``fd`` moved to 3 or above (close-on-exec) when it landed on 0, 1 or 2.

    A program that closed its stdout or stderr gets the lowest free descriptor for the next
    file it opens; a spool file, a directory or a socket of mcptrace's there would receive
    what the program then prints (and a stdio server's JSON-RPC), instead of the EBADF the
    program would have had."""
    if fd > 2:
        return fd
    import fcntl

    try:
        moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    except OSError:
        return fd  # no descriptor free above 2: keep it rather than lose the file
    _pristine.close(fd)
    return moved


class StdioSlotsHeld:
    """While in use, the closed ones of descriptors 0-2 hold /dev/null, and are closed again
    after: SQLite never opens a database on them, and fills them with /dev/null for good
    instead (a program that closed its stdout would then print into /dev/null, not fail)."""

    def __enter__(self) -> None:
        self.held: list[int] = []
        for slot in (0, 1, 2):
            try:
                _pristine.fstat(slot)
            except OSError:
                fd = _pristine.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
                self.held.append(fd)
                if fd > 2:
                    break  # the slots below were taken meanwhile

    def __exit__(self, *exc_info: object) -> None:
        for fd in self.held:
            _pristine.close(fd)


class UnsafePath(OSError):
    """A path mcptrace refuses to use; ``str()`` is one line saying why and how to fix it."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unsafe path"


def _owner_problem(path: Path, info: os.stat_result, kind: str) -> str | None:
    if info.st_uid != os.geteuid():
        return (
            f"{kind} {path} belongs to another user (uid {info.st_uid}); "
            "use a directory of your own"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (
            f"{kind} {path} is writable by other users (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"run chmod go-w {path} or use a directory of your own"
        )
    return None


def check_owned(path: Path, info: os.stat_result, kind: str = "directory") -> None:
    """Raise UnsafePath unless ``info`` (an fstat/lstat) is ours and writable only by us."""
    problem = _owner_problem(path, info, kind)
    if problem:
        raise UnsafePath(problem)


def private_directory(path: Path, kind: str = "directory") -> int:
    """Create ``path`` (and missing parents) 0700 without following a symlink at any
    component mcptrace creates; return an fd of the directory, checked to be ours."""
    missing: list[Path] = []
    probe = path
    while not os.path.lexists(probe):
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for directory in reversed(missing):
        try:
            _pristine.mkdir(directory, 0o700)
        except FileExistsError:
            pass  # made meanwhile (another process); checked below like any existing one
        else:
            # the umask may have narrowed it
            _pristine.chmod(directory, 0o700, follow_symlinks=False)
    try:
        fd = above_stdio(_pristine.open(path, _DIRECTORY_FLAGS))
    except OSError as exc:
        if os.path.islink(path):
            raise UnsafePath(
                f"{kind} {path} is a symbolic link; give the real directory instead"
            ) from None
        raise exc
    try:
        check_owned(path, _pristine.fstat(fd), kind)
    except BaseException:
        _pristine.close(fd)
        raise
    return fd


def private_subdirectory(parent_fd: int, name: str, parent: Path) -> int:
    """``name`` inside an already checked directory: made 0700, opened without following a
    symlink, and refused unless it is ours."""
    try:
        _pristine.mkdir(name, 0o700, dir_fd=parent_fd)
    except FileExistsError:
        pass
    else:
        _pristine.chmod(name, 0o700, dir_fd=parent_fd, follow_symlinks=False)
    try:
        fd = above_stdio(_pristine.open(name, _DIRECTORY_FLAGS, dir_fd=parent_fd))
    except OSError:
        raise UnsafePath(
            f"{parent / name} is not a directory of mcptrace's (a symbolic link or a file?); "
            "remove it"
        ) from None
    try:
        check_owned(parent / name, _pristine.fstat(fd))
    except BaseException:
        _pristine.close(fd)
        raise
    return fd


def open_private(directory_fd: int, name: str, flags: int, directory: Path) -> int:
    """Open (creating 0600 when ``flags`` has O_CREAT) a regular file inside a checked
    directory: never through a symlink, never a file with other links (a hard link planted
    to a file elsewhere), never someone else's."""
    try:
        fd = _pristine.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=directory_fd)
        fd = above_stdio(fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(
                f"{directory / name} is a symbolic link; mcptrace does not follow it (remove it)"
            ) from None
        raise
    try:
        info = _pristine.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
            raise UnsafePath(f"{directory / name} is not a plain file of mcptrace's; remove it")
        check_owned(directory / name, info, "file")
    except BaseException:
        _pristine.close(fd)
        raise
    return fd


def refuse_unsafe_file(path: Path, kind: str = "file") -> None:
    """For a file opened by name by a library (SQLite): it must not be a symlink or another
    user's, and its directory must be private (created so if missing)."""
    _pristine.close(private_directory(path.parent, "directory"))
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise UnsafePath(f"{kind} {path} is a symbolic link; mcptrace does not follow it")
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
        raise UnsafePath(f"{kind} {path} is not a plain file of its own; remove it")
    check_owned(path, info, kind)
