"""Persistent hash cache: one SQLite file shared by every mcptrace process of the user.

Usage::

    cache = HashCache(Path("~/.local/state/mcptrace/hash-cache.sqlite3").expanduser())
    facts = cache.get(key)                 # FileFacts stored for exactly this FileKey, or None
    cache.put_many([(key, facts), ...])    # one short write transaction
    cache.state                            # "ok", "rebuilt", "unavailable"

A row is used only when every part of the stat key (real path, device, inode, size,
mtime_ns, ctime_ns) is unchanged, so an edited file always misses.  WAL mode and a busy
timeout let several servers starting at once read and write it; a file that is not a
database (or is damaged) is moved aside as ``<name>.corrupt-<time>-<pid>`` and rebuilt.  The
cache only ever saves work: when it cannot be opened or written, hashing goes on without it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import NamedTuple

from mcptrace._files import StdioSlotsHeld, UnsafePath, refuse_unsafe_file
from mcptrace._guard import sensor_paused
from mcptrace._stderr import say
from mcptrace.provenance.hashing import FileKey

BUSY_TIMEOUT_MS = 5000
_CHUNK = 500  # bound parameters per query (SQLite's limit is 999 on old builds)
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    distribution TEXT NOT NULL,
    version TEXT NOT NULL,
    record_path TEXT NOT NULL,
    record_key TEXT NOT NULL,
    verification TEXT NOT NULL
)
"""


class FileFacts(NamedTuple):
    """What is known about one file's bytes: its hash and how it compares with RECORD."""

    sha256: str
    distribution: str
    version: str
    record_path: str  # the RECORD consulted ("" when no distribution owns the file)
    record_key: str  # that RECORD's stat key when consulted: a reinstall invalidates the row
    verification: str


_reported: set[str] = set()


def _report_once(message: str) -> None:
    if message not in _reported:
        _reported.add(message)
        say(message)


class HashCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.state = "unopened"
        self.errors = 0
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self.refusal: str | None = None  # why the file was refused as unsafe

    # --- opening, and rebuilding a file that is not a usable database

    def _connect(self) -> sqlite3.Connection:
        # Never through a symlink, never another user's file or directory: SQLite opens the
        # path by name, so the checks come first, and the file is created private.
        refuse_unsafe_file(self.path, "hash cache")
        try:
            os.close(
                os.open(
                    self.path,
                    os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o600,
                )
            )
        except FileExistsError:
            pass
        with StdioSlotsHeld():  # every file SQLite keeps open is opened below
            return self._open_database()

    def _open_database(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            str(self.path),
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("BEGIN IMMEDIATE")
                if connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    connection.execute("DROP TABLE IF EXISTS files")
                    connection.execute(_SCHEMA)
                    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                connection.execute("COMMIT")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("SELECT 1 FROM files LIMIT 1").fetchall()
        except BaseException:
            connection.close()
            raise
        return connection

    def _identity(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self.path)
        except OSError:
            return None
        return status.st_dev, status.st_ino

    def _move_aside(self, broken: tuple[int, int] | None) -> None:
        """Rename the broken file (and its WAL/shm) out of the way.

        Only if the file at the path is still the one found broken: another process that
        hit the same damage may already have rebuilt it, and that one must stay.
        """
        if broken is None or self._identity() != broken:
            return
        stamp = f"corrupt-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            try:
                source.rename(f"{self.path}.{stamp}{suffix}")
            except OSError:
                pass

    def _open(self) -> sqlite3.Connection | None:
        if self._connection is not None or self.state == "unavailable":
            return self._connection
        for attempt in range(2):
            identity = self._identity()
            try:
                self._connection = self._connect()
                if self.state == "unopened":
                    self.state = "ok"
                return self._connection
            except sqlite3.OperationalError:  # locked past the timeout, unwritable, ...
                break
            except sqlite3.DatabaseError:  # not a database, or damaged
                if attempt == 0:
                    self._move_aside(identity)
                    self.state = "rebuilt"
            except UnsafePath as exc:
                self.refusal = str(exc)
                _report_once(f"mcptrace: {exc}; module hashes are not cached")
                break
            except OSError:
                break
        self.errors += 1
        self.state = "unavailable"
        return None

    def _broken(self, error: sqlite3.DatabaseError) -> None:
        """A damaged database found while in use: set it aside, start afresh next time."""
        self.errors += 1
        if isinstance(error, sqlite3.OperationalError):
            return  # busy or read-only: keep the file, skip this operation
        identity = self._identity()
        if self._connection is not None:
            try:
                self._connection.close()
            except sqlite3.Error:
                pass
            self._connection = None
        self._move_aside(identity)
        self.state = "rebuilt"

    # --- rows

    def get(self, key: FileKey, wait: bool = True) -> FileFacts | None:
        """The row for exactly ``key``; with ``wait=False`` a busy cache is simply a miss
        (a tool span ending must not wait behind another thread's write)."""
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            return self._get(key)
        finally:
            self._lock.release()

    def _get(self, key: FileKey) -> FileFacts | None:
        with sensor_paused():
            connection = self._open()
            if connection is None:
                return None
            try:
                row = connection.execute(
                    "SELECT sha256, distribution, version, record_path, record_key, verification"
                    " FROM files WHERE path = ? AND dev = ? AND ino = ? AND size = ?"
                    " AND mtime_ns = ? AND ctime_ns = ?",
                    key,
                ).fetchone()
            except sqlite3.DatabaseError as error:
                self._broken(error)
                return None
            return None if row is None else FileFacts(*row)

    def get_many(self, keys: list[FileKey]) -> dict[FileKey, FileFacts]:
        """The rows for many keys in a few queries (a start-up walk looks up hundreds)."""
        found: dict[FileKey, FileFacts] = {}
        wanted = {key.path: key for key in keys}
        paths = list(wanted)
        with self._lock, sensor_paused():
            connection = self._open()
            if connection is None:
                return found
            try:
                for start in range(0, len(paths), _CHUNK):
                    chunk = paths[start : start + _CHUNK]
                    rows = connection.execute(
                        "SELECT path, dev, ino, size, mtime_ns, ctime_ns, sha256, distribution,"
                        " version, record_path, record_key, verification FROM files"
                        f" WHERE path IN ({','.join('?' * len(chunk))})",
                        chunk,
                    ).fetchall()
                    for row in rows:
                        key = FileKey(*row[:6])
                        if wanted.get(key.path) == key:  # every part of the key must match
                            found[key] = FileFacts(*row[6:])
            except sqlite3.DatabaseError as error:
                self._broken(error)
            return found

    def put_many(self, rows: list[tuple[FileKey, FileFacts]]) -> bool:
        if not rows:
            return True
        with self._lock, sensor_paused():
            connection = self._open()
            if connection is None:
                return False
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    connection.executemany(
                        "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        [(*key, *facts) for key, facts in rows],
                    )
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as error:
                self._broken(error)
                return False
            return True

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                try:
                    self._connection.close()
                except sqlite3.Error:
                    pass
                self._connection = None

    def forget_after_fork(self) -> None:
        """In a forked child: never touch the parent's connection; open a new one on demand."""
        self._connection = None
        self._lock = threading.Lock()
