"""Send spooled OTLP/JSON lines to an OTLP endpoint, each line exactly once.

Usage::

    report = replay(Path(spool_dir), Destination.from_settings(settings))
    print(report.summary())

Progress is kept per destination in ``<spool>/.replay/<key>.json`` as the byte offset up to
which each file has been delivered, written atomically after every delivered line, so a
second run sends nothing twice and a crashed run resumes where it stopped.  A line still
being written (no trailing newline yet) waits for the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from mcptrace.config import SIGNALS, Settings, Signal
from mcptrace.export.otlp_json import count_items, decode_line

_RETRYABLE_STATUS = frozenset({408, 429, 502, 503, 504})
_GRPC_PATHS = {
    "traces": ("opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc", "TraceServiceStub"),
    "logs": ("opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc", "LogsServiceStub"),
    "metrics": (
        "opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc",
        "MetricsServiceStub",
    ),
}


class ReplayError(RuntimeError):
    """Replay stopped; the message is one line saying why and what to do."""


def parse_headers(raw: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in raw.split(","):
        if "=" in item:
            key, value = item.split("=", 1)
            headers[urllib.parse.unquote(key.strip()).lower()] = urllib.parse.unquote(value.strip())
    return headers


@dataclass(frozen=True)
class Destination:
    endpoint: str
    protocol: str = "http/protobuf"
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    signal_endpoints: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        endpoint: str | None = None,
        protocol: str | None = None,
        environ: dict[str, str] | None = None,
    ) -> Destination:
        env = dict(os.environ) if environ is None else environ
        base = endpoint or settings.endpoints.get("all")
        per_signal = {} if endpoint else {s: e for s, e in settings.endpoints.items() if s != "all"}
        if not base and not per_signal:
            raise ReplayError(
                "mcptrace replay: no endpoint; pass --endpoint URL or set "
                "OTEL_EXPORTER_OTLP_ENDPOINT"
            )
        timeout = float(env.get("OTEL_EXPORTER_OTLP_TIMEOUT", "10") or 10)
        return cls(
            endpoint=base or next(iter(per_signal.values())),
            protocol=protocol or settings.protocol,
            headers=parse_headers(env.get("OTEL_EXPORTER_OTLP_HEADERS", "")),
            timeout=timeout if timeout < 1000 else timeout / 1000,
            signal_endpoints=per_signal,
        )

    def url_for(self, signal: Signal) -> str:
        if signal in self.signal_endpoints:
            return self.signal_endpoints[signal]
        if self.protocol == "grpc":
            return self.endpoint
        return self.endpoint.rstrip("/") + f"/v1/{signal}"

    @property
    def key(self) -> str:
        identity = json.dumps([self.protocol, self.endpoint, sorted(self.signal_endpoints.items())])
        return hashlib.sha256(identity.encode()).hexdigest()[:16]


class _Sender:
    """Delivers one protobuf request; raises ReplayError when the endpoint refuses it."""

    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        self._channels: dict[str, Any] = {}

    def send(self, signal: Signal, request: Message) -> None:
        last: Exception | None = None
        for attempt in range(4):
            try:
                if self.destination.protocol == "grpc":
                    self._send_grpc(signal, request)
                else:
                    self._send_http(signal, request)
                return
            except _Transient as exc:
                last = exc
                time.sleep(0.5 * 2**attempt)
        raise ReplayError(
            f"mcptrace replay: {self.destination.url_for(signal)} did not accept the data "
            f"({last}); nothing was lost, run replay again when the endpoint is up"
        )

    def _send_http(self, signal: Signal, request: Message) -> None:
        http_request = urllib.request.Request(
            self.destination.url_for(signal),
            data=request.SerializeToString(),
            headers={"Content-Type": "application/x-protobuf", **self.destination.headers},
            method="POST",
        )
        try:
            with urllib.request.urlopen(http_request, timeout=self.destination.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            if exc.code in _RETRYABLE_STATUS:
                raise _Transient(f"HTTP {exc.code}") from None
            raise ReplayError(
                f"mcptrace replay: {self.destination.url_for(signal)} answered HTTP {exc.code} "
                f"({exc.reason}); check the endpoint URL and headers"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise _Transient(str(getattr(exc, "reason", exc))) from None

    def _send_grpc(self, signal: Signal, request: Message) -> None:
        import importlib

        import grpc

        if signal not in self._channels:
            url = urllib.parse.urlsplit(self.destination.url_for(signal))
            target = url.netloc or url.path
            channel = (
                grpc.secure_channel(target, grpc.ssl_channel_credentials())
                if url.scheme == "https"
                else grpc.insecure_channel(target)
            )
            module_name, stub_name = _GRPC_PATHS[signal]
            self._channels[signal] = getattr(importlib.import_module(module_name), stub_name)(
                channel
            )
        try:
            self._channels[signal].Export(
                request,
                timeout=self.destination.timeout,
                metadata=tuple(self.destination.headers.items()),
            )
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            if code in (
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.DEADLINE_EXCEEDED,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
            ):
                raise _Transient(str(code)) from None
            raise ReplayError(f"mcptrace replay: gRPC export refused ({code})") from None


class _Transient(Exception):
    pass


@dataclass
class ReplayReport:
    destination: str
    sent_lines: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIGNALS, 0))
    sent_items: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIGNALS, 0))
    skipped_malformed: int = 0
    already_sent_bytes: int = 0
    interrupted: bool = False

    def summary(self) -> str:
        parts = [
            f"{self.sent_lines[s]} {s} line(s) ({self.sent_items[s]} item(s))" for s in SIGNALS
        ]
        text = f"replayed {', '.join(parts)} to {self.destination}"
        if self.skipped_malformed:
            text += f"; skipped {self.skipped_malformed} malformed line(s)"
        if self.interrupted:
            text += "; interrupted, run replay again to send the rest"
        return text


class ReplayState:
    """Delivered byte offsets per spool file, for one destination."""

    def __init__(self, path: Path, endpoint: str) -> None:
        self.path = path
        self.endpoint = endpoint
        self.offsets: dict[str, int] = {}
        self.skipped: dict[str, list[int]] = {}
        if path.exists():
            try:
                data = json.loads(path.read_text())
                self.offsets = {str(k): int(v) for k, v in data.get("offsets", {}).items()}
            except (ValueError, OSError) as exc:
                raise ReplayError(
                    f"mcptrace replay: progress file {path} is unreadable ({exc}); "
                    "move it away only if you accept re-sending everything"
                ) from None

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        data = json.dumps({"endpoint": self.endpoint, "offsets": self.offsets}, sort_keys=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)


def spool_files(spool_dir: Path, signal: Signal) -> list[Path]:
    return sorted(spool_dir.glob(f"{signal}-*.jsonl"))


def _complete_lines(path: Path, offset: int) -> Iterator[tuple[int, bytes]]:
    """(end offset, line) for each newline-terminated line after ``offset``."""
    with path.open("rb") as handle:
        handle.seek(offset)
        position = offset
        for line in handle:
            if not line.endswith(b"\n"):
                return  # still being written
            position += len(line)
            yield position, line


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReplayError(
                f"mcptrace replay: another replay to this endpoint is running ({lock_path})"
            ) from None
        yield
    finally:
        os.close(fd)


def replay(
    spool_dir: Path,
    destination: Destination,
    progress: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> ReplayReport:
    """Deliver every complete line not yet delivered to ``destination``.

    ``should_stop`` is checked between lines (SIGTERM/SIGINT in the CLI): progress up to the
    last delivered line is saved and the next run continues from there.
    """
    if not spool_dir.is_dir():
        raise ReplayError(f"mcptrace replay: spool directory {spool_dir} does not exist")
    state_dir = spool_dir / ".replay"
    state_dir.mkdir(mode=0o700, exist_ok=True)
    report = ReplayReport(destination.endpoint)
    sender = _Sender(destination)
    with _exclusive(state_dir / f"{destination.key}.lock"):
        state = ReplayState(state_dir / f"{destination.key}.json", destination.endpoint)
        work = [(signal, path) for signal in SIGNALS for path in spool_files(spool_dir, signal)]
        total_bytes = sum(path.stat().st_size for _, path in work) or 1
        done_bytes = sum(min(state.offsets.get(p.name, 0), p.stat().st_size) for _, p in work)
        report.already_sent_bytes = done_bytes
        last_progress = time.monotonic()
        for signal, path in work:
            offset = state.offsets.get(path.name, 0)
            for end, line in _complete_lines(path, offset):
                if should_stop():
                    report.interrupted = True
                    return report
                try:
                    tree = json.loads(line)
                    request = decode_line(signal, line)
                except ValueError:
                    report.skipped_malformed += 1
                    if progress:
                        progress(f"skipping malformed line in {path.name} at byte {offset}")
                else:
                    sender.send(signal, request)
                    report.sent_lines[signal] += 1
                    report.sent_items[signal] += count_items(signal, tree)
                done_bytes += end - offset
                offset = end
                state.offsets[path.name] = end
                state.save()
                if progress and time.monotonic() - last_progress >= 1.0:
                    last_progress = time.monotonic()
                    progress(f"{done_bytes * 100 // total_bytes}% ({path.name})")
    return report
