"""``mcptrace replay``: send what the spool holds and the destination has not acknowledged.

Usage::

    destination = Destination.from_environment(settings, os.environ, endpoint="http://c:4318")
    report = replay(Path(spool_dir), destination, say=print)
    print(report.summary())

Progress is the same per-file acknowledged offset the in-process shipper keeps (see
``progress``), keyed by the canonical endpoint, so replay, ``replay --follow`` and the
instrumented processes never send a line twice except where an acknowledgement was lost.
A flaky receiver (429, 5xx, resets, timeouts, a truncated answer) is retried with backoff,
honouring ``Retry-After``; a refusal (4xx) stops that signal only; a line that is not an
export request is moved aside and reported, and the rest goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mcptrace._files import UnsafePath
from mcptrace.config import SIGNALS
from mcptrace.export.destination import Destination, DestinationError
from mcptrace.export.shipper import PassReport, Say, Shipping, patient_policy, ship_pass

__all__ = ["Destination", "ReplayError", "ReplayReport", "replay"]

MAX_ATTEMPTS = 6  # per line in one run: 31.5 s of backoff, longer with Retry-After
FOLLOW_SECONDS = 1.0
FOLLOW_RETRY_SECONDS = 30.0  # --follow: a signal the receiver refused is tried again after


class ReplayError(RuntimeError):
    """Replay cannot start; the message is one line saying why and what to do."""


@dataclass
class ReplayReport:
    destination: str
    passes: PassReport = field(default_factory=PassReport)
    interrupted: bool = False

    @property
    def complete(self) -> bool:
        return not (self.passes.stopped or self.passes.unsafe_files or self.interrupted)

    def summary(self) -> str:
        sent = self.passes
        parts = [
            f"{sent.sent_lines[s]} {s} line(s) ({sent.sent_items[s]} item(s))" for s in SIGNALS
        ]
        text = f"replayed {', '.join(parts)} to {self.destination}"
        if sent.rejected_lines:
            text += f"; moved {sent.rejected_lines} unusable line(s) aside"
        if sent.busy_files:
            text += f"; {sent.busy_files} file(s) are being sent by running processes"
        if sent.unsafe_files:
            text += f"; {sent.unsafe_files} file(s) not sent (unsafe files, see above)"
        for signal, reason in sent.stopped.items():
            text += f"; {signal} not sent ({reason}), they stay in the spool"
        if self.interrupted:
            text += "; interrupted, run replay again to send the rest"
        return text


def replay(
    spool_dir: Path,
    destination: Destination,
    say: Say | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    follow: bool = False,
) -> ReplayReport:
    """Deliver every complete line not yet acknowledged by ``destination``.

    ``should_stop`` is checked between lines and during backoff (SIGTERM/SIGINT in the
    CLI); ``follow`` keeps going, every second, until it is set (a signal refused or a
    collector down through a whole backoff is tried again every 30 s).
    """
    if not destination.targets:
        raise ReplayError(
            "mcptrace replay: no endpoint; pass --endpoint URL or set OTEL_EXPORTER_OTLP_ENDPOINT"
        )
    if not spool_dir.is_dir():
        problem = "is not a directory" if spool_dir.exists() else "does not exist"
        raise ReplayError(f"mcptrace replay: spool directory {spool_dir} {problem}")
    report = ReplayReport(destination.label)
    shipping = Shipping(spool_dir, destination, say or (lambda text: None))
    policy = patient_policy(MAX_ATTEMPTS)
    retry_stopped_at = time.monotonic() + FOLLOW_RETRY_SECONDS
    try:
        while True:
            ship_pass(shipping, policy, should_stop, report.passes)
            if should_stop():
                report.interrupted = not follow
                return report
            if not follow:
                return report
            if time.monotonic() >= retry_stopped_at:  # a refusal or an outage: try again
                report.passes.stopped.clear()
                retry_stopped_at = time.monotonic() + FOLLOW_RETRY_SECONDS
            report.passes.busy_files = 0
            deadline = time.monotonic() + FOLLOW_SECONDS
            while time.monotonic() < deadline and not should_stop():
                time.sleep(0.05)
    except UnsafePath as exc:
        raise ReplayError(f"mcptrace replay: {exc}") from None
    except DestinationError as exc:
        raise ReplayError(str(exc)) from None
    finally:
        shipping.close()
