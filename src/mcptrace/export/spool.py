"""The NDJSON spool: OTLP/JSON lines on local disk, the default exporter and the fallback.

Usage::

    exporter = SpoolSpanExporter(Path("~/.local/state/mcptrace/spool"))
    BatchSpanProcessor(exporter)   # writes traces-<time>-<pid>-<n>.jsonl, one request per line

Files are created with mode 0600 in a 0700 directory of the user's own (one that another
user owns or can write is refused), rotate by size (never deleted here: replay and the
Collector's ``otlpjsonfile`` receiver read them), and a write failure (full disk, read-only
directory) costs the batch, counted and reported once on stderr, never the host program.

Durability: a line is in the kernel's page cache when ``export`` returns, so it survives
the process being killed; ``fdatasync`` runs at most once a second per file and when a file
is closed, so a machine crash costs at most the last second written.  With an OTLP
endpoint the writer is the write-ahead log of a ``BackgroundShipper`` (``listener``): told
of each new file and each write, it sends from disk.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from mcptrace import _guard, _pristine
from mcptrace._files import UnsafePath, above_stdio, private_directory
from mcptrace._stderr import say
from mcptrace.config import Signal, load_settings_lenient
from mcptrace.export.log_text import log_lines
from mcptrace.export.otlp_json import encode_lines, utf8

SYNC_SECONDS = 1.0  # fdatasync at most this often per file (and on close)
MAX_LINE_BYTES = 1024 * 1024 - 1  # a line, newline included, stays under 1 MiB
ENCODE_CHUNK = 128  # items per request line: bounds the transient memory of an export


_warned_directories: set[Path] = set()


def spool_reported(directory: Path) -> None:
    """The problem with ``directory`` was already told (at start-up): writers stay quiet."""
    _warned_directories.add(directory)


def _warn_once(writer: SpoolWriter, message: str) -> None:
    """One line per spool directory and process, however many signals and batches fail."""
    if writer.directory not in _warned_directories:
        _warned_directories.add(writer.directory)
        say(f"mcptrace: {message}")


class SpoolListener(Protocol):
    def own(self, signal: Signal, name: str) -> None: ...
    def notify(self) -> None: ...
    def send_unspooled(self, signal: Signal, lines: list[bytes]) -> bool: ...


class SpoolWriter:
    """Appends whole lines to the current ``{signal}-*.jsonl`` file, rotating by size."""

    def __init__(
        self,
        directory: Path,
        signal: Signal,
        max_file_bytes: int,
        listener: SpoolListener | None = None,
    ) -> None:
        self.directory = directory
        self.signal = signal
        self.max_file_bytes = max_file_bytes
        self.listener = listener
        self.dropped_lines = 0
        self.dropped_items = 0
        self._synced = 0.0
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0
        self._sequence = 0
        self._pid = os.getpid()
        self.current_name = ""
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_forget_in_child(weakref.ref(self)))

    def _open_next(self) -> int:
        directory_fd = private_directory(self.directory, "spool directory")
        try:
            while True:
                self._sequence += 1
                stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
                name = f"{self.signal}-{stamp}-{os.getpid()}-{self._sequence:04d}.jsonl"
                try:
                    fd = _pristine.open(
                        name,
                        os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                        | os.O_CLOEXEC,
                        0o600,
                        dir_fd=directory_fd,
                    )  # fmt: skip
                except FileExistsError:
                    continue
                fd = above_stdio(fd)
                _pristine.fchmod(fd, 0o600)
                self._size = 0
                self.current_name = name
                return fd
        finally:
            _pristine.close(directory_fd)

    def _close(self) -> None:
        if self._fd is not None:
            try:
                _pristine.fdatasync(self._fd)
            except OSError:
                pass
            _pristine.close(self._fd)
            self._fd = None

    def write(self, lines: Sequence[str], items: int = 0) -> bool:
        """Write each line whole; False (and nothing partial left behind) on failure, with
        ``items`` (the spans, log records or metrics of the batch) counted as dropped."""
        with self._lock, _guard.sensor_paused():
            if self._pid != os.getpid():  # forked: never share the parent's file
                self._fd, self._pid = None, os.getpid()
            for index, line in enumerate(lines):
                data = utf8(line)
                try:
                    self._write_line(data)
                except Exception as exc:  # OSError; or the program's audit hook refusing
                    # our open, a replaced function raising: never the program's problem
                    reason = exc.strerror or exc if isinstance(exc, OSError) else repr(exc)
                    problem = (
                        str(exc)
                        if isinstance(exc, UnsafePath)
                        else f"cannot write the spool in {self.directory} ({reason})"
                    )
                    if self._send_from_memory([utf8(rest) for rest in lines[index:]]):
                        _warn_once(
                            self,
                            f"{problem}; telemetry goes to the collector from memory, not "
                            "kept on disk until it is delivered; the program continues",
                        )
                        return True
                    self.dropped_lines += len(lines) - index
                    self.dropped_items += items
                    _warn_once(
                        self, f"{problem}; telemetry is being dropped, the program continues"
                    )
                    return False
            if self._fd is not None and time.monotonic() - self._synced >= SYNC_SECONDS:
                self._synced = time.monotonic()
                try:
                    _pristine.fdatasync(self._fd)
                except OSError:
                    pass
        if self.listener is not None and lines:
            self.listener.notify()
        return True

    def _send_from_memory(self, lines: list[bytes]) -> bool:
        """With an OTLP endpoint, what the spool cannot take is sent once from memory."""
        if self.listener is None:
            return False
        try:
            return self.listener.send_unspooled(self.signal, lines)
        except Exception:
            return False

    def _removed(self) -> bool:
        """The current file was removed under us (``rm -rf`` of the spool by the program, a
        cleaner): every line written to it now would be lost with its inode."""
        try:
            return self._fd is not None and _pristine.fstat(self._fd).st_nlink == 0
        except OSError:
            return True

    def _write_line(self, data: bytes) -> None:
        if self._fd is not None and self._removed():
            self._close()  # a new file (and the directory again) below
        if self._fd is None or (self._size and self._size + len(data) > self.max_file_bytes):
            self._close()
            self._fd = self._open_next()
            if self.listener is not None:
                self.listener.own(self.signal, self.current_name)
        start = self._size
        try:
            written = _pristine.write(self._fd, data)
            if written != len(data):
                raise OSError(28, "short write (disk full?)")
        except OSError:
            # Leave no half line: a reader must only ever see whole requests.
            try:
                _pristine.ftruncate(self._fd, start)
            except OSError:
                self._close()
            raise
        self._size += written

    def close(self) -> None:
        with self._lock:
            self._close()


def _forget_in_child(writer: weakref.ref[SpoolWriter]) -> Callable[[], None]:
    # an exporter thread writing a batch holds the lock at a fork; no thread releases it in
    # the child, whose own writes then waited for ever (a forked child never exited)
    def forget() -> None:
        alive = writer()
        if alive is not None:
            alive._lock = threading.Lock()

    return forget


def _spool_dir(spool_dir: Path | None) -> Path:
    if spool_dir is not None:
        return spool_dir
    return load_settings_lenient()[0].spool_dir


def _max_file_bytes(value: int | None) -> int:
    return value if value is not None else load_settings_lenient()[0].spool_max_file_bytes


class _SpoolExporterBase:
    signal: Signal

    def __init__(
        self,
        spool_dir: Path | None = None,
        max_file_bytes: int | None = None,
        listener: SpoolListener | None = None,
    ) -> None:
        self.writer = SpoolWriter(
            _spool_dir(spool_dir), self.signal, _max_file_bytes(max_file_bytes), listener
        )

    def _write(self, items: Any) -> bool:
        with _guard.sensor_paused():
            if isinstance(items, Sequence):
                # Encoded a chunk at a time: the JSON tree and text of a
                # whole 512-item batch are megabytes, and they set the process's peak RSS.
                lines = [
                    line
                    for start in range(0, len(items), ENCODE_CHUNK)
                    for line in encode_lines(
                        self.signal, items[start : start + ENCODE_CHUNK], MAX_LINE_BYTES
                    )
                ]
                count = len(items)
            else:  # MetricsData: one collection
                lines = list(encode_lines(self.signal, items, MAX_LINE_BYTES))
                count = _metric_points(items)
        return self.writer.write(lines, count)


class SpoolSpanExporter(_SpoolExporterBase, SpanExporter):
    signal: Signal = "traces"

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS if self._write(spans) else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self.writer.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class SpoolLogExporter(_SpoolExporterBase, LogRecordExporter):
    signal: Signal = "logs"

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        with _guard.sensor_paused():  # written as text (export/log_text.py), chunk by chunk
            lines = [
                line
                for start in range(0, len(batch), ENCODE_CHUNK)
                for line in log_lines(batch[start : start + ENCODE_CHUNK], MAX_LINE_BYTES)
            ]
        written = self.writer.write(lines, len(batch))
        return LogRecordExportResult.SUCCESS if written else LogRecordExportResult.FAILURE

    def shutdown(self) -> None:
        self.writer.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _metric_points(data: Any) -> int:
    return sum(
        len(getattr(metric.data, "data_points", ()))
        for resource in getattr(data, "resource_metrics", ())
        for scope in resource.scope_metrics
        for metric in scope.metrics
    )


def __getattr__(name: str) -> Any:
    """``SpoolMetricExporter`` lives in ``spool_metrics`` (it loads the metrics SDK, which a
    process loads only when it first measures something); its entry point names it here."""
    if name == "SpoolMetricExporter":
        from mcptrace.export.spool_metrics import SpoolMetricExporter

        return SpoolMetricExporter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
