"""The NDJSON spool: OTLP/JSON lines on local disk, the default exporter and the fallback.

Usage::

    exporter = SpoolSpanExporter(Path("~/.local/state/mcptrace/spool"))
    BatchSpanProcessor(exporter)   # writes traces-<time>-<pid>-<n>.jsonl, one request per line

Files are created with mode 0600, rotate by size (never deleted here: replay and the
Collector's ``otlpjsonfile`` receiver read them), and a write failure (full disk, read-only
directory) costs the batch, reported once on stderr, never the host program.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from mcptrace import _guard
from mcptrace.config import Signal, load_settings_lenient
from mcptrace.export.otlp_json import encode_lines, utf8

MAX_LINE_BYTES = 1024 * 1024 - 1  # a line, newline included, stays under 1 MiB
ENCODE_CHUNK = 128  # items per request line: bounds the transient memory of an export


_warned_directories: set[Path] = set()


def _warn_once(writer: SpoolWriter, message: str) -> None:
    """One line per spool directory and process, however many signals and batches fail."""
    if writer.directory not in _warned_directories:
        _warned_directories.add(writer.directory)
        sys.stderr.write(f"mcptrace: {message}\n")


class SpoolWriter:
    """Appends whole lines to the current ``{signal}-*.jsonl`` file, rotating by size."""

    def __init__(self, directory: Path, signal: Signal, max_file_bytes: int) -> None:
        self.directory = directory
        self.signal = signal
        self.max_file_bytes = max_file_bytes
        self.dropped_lines = 0
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0
        self._sequence = 0
        self._pid = os.getpid()

    def _open_next(self) -> int:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        while True:
            self._sequence += 1
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            name = f"{self.signal}-{stamp}-{os.getpid()}-{self._sequence:04d}.jsonl"
            try:
                fd = os.open(
                    self.directory / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600
                )
            except FileExistsError:
                continue
            os.fchmod(fd, 0o600)
            self._size = 0
            return fd

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def write(self, lines: Sequence[str]) -> bool:
        """Write each line whole; False (and nothing partial left behind) on failure."""
        with self._lock, _guard.sensor_paused():
            if self._pid != os.getpid():  # forked: never share the parent's file
                self._fd, self._pid = None, os.getpid()
            for line in lines:
                data = utf8(line)
                try:
                    self._write_line(data)
                except OSError as exc:
                    self.dropped_lines += 1
                    _warn_once(
                        self,
                        f"cannot write the spool in {self.directory} "
                        f"({exc.strerror or exc}); telemetry is being dropped, the program "
                        "continues",
                    )
                    return False
            return True

    def _write_line(self, data: bytes) -> None:
        if self._fd is None or (self._size and self._size + len(data) > self.max_file_bytes):
            self._close()
            self._fd = self._open_next()
        start = self._size
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(28, "short write (disk full?)")
        except OSError:
            # Leave no half line: a reader must only ever see whole requests.
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                self._close()
            raise
        self._size += written

    def close(self) -> None:
        with self._lock:
            self._close()


def _spool_dir(spool_dir: Path | None) -> Path:
    if spool_dir is not None:
        return spool_dir
    return load_settings_lenient()[0].spool_dir


def _max_file_bytes(value: int | None) -> int:
    return value if value is not None else load_settings_lenient()[0].spool_max_file_bytes


class _SpoolExporterBase:
    signal: Signal

    def __init__(self, spool_dir: Path | None = None, max_file_bytes: int | None = None) -> None:
        self.writer = SpoolWriter(
            _spool_dir(spool_dir), self.signal, _max_file_bytes(max_file_bytes)
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
            else:  # MetricsData: one collection
                lines = list(encode_lines(self.signal, items, MAX_LINE_BYTES))
        return self.writer.write(lines)


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
        return (
            LogRecordExportResult.SUCCESS if self._write(batch) else LogRecordExportResult.FAILURE
        )

    def shutdown(self) -> None:
        self.writer.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class SpoolMetricExporter(_SpoolExporterBase, MetricExporter):
    signal: Signal = "metrics"

    def __init__(self, spool_dir: Path | None = None, max_file_bytes: int | None = None) -> None:
        MetricExporter.__init__(self)
        _SpoolExporterBase.__init__(self, spool_dir, max_file_bytes)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        return (
            MetricExportResult.SUCCESS if self._write(metrics_data) else MetricExportResult.FAILURE
        )

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.writer.close()

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True
