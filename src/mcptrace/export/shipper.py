"""Ship spool files to OTLP from disk, recording what the receiver acknowledged.

The spool is a write-ahead log: every batch is a line on disk before anything touches the
network.  Shipping reads lines after the acknowledged offset of a file, sends each, and
advances the offset when the receiver says yes.  Two ways to use it:

- ``BackgroundShipper`` runs in every instrumented process that has an endpoint: it ships
  the files this process writes as they grow, adopts files left behind by processes that
  are gone, and at exit gets a small fixed budget (``EXIT_BUDGET_SECONDS``), never more,
  whatever the collector does; what is not acknowledged by then stays on disk.
- ``ship_pass`` is the loop ``mcptrace replay`` (and ``--follow``) runs, patient with a
  flaky receiver (backoff, ``Retry-After``).

A line that is not an export request is moved aside to ``SPOOL/.rejected/`` with one line
naming the file, the line number and why; shipping goes on.  Delivery is at-least-once: a
line is sent again only when its acknowledgement was lost (the receiver processed it but
the answer never arrived, or the process died between the answer and the offset update).
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mcptrace import _guard
from mcptrace._files import UnsafePath, open_private, private_directory, private_subdirectory
from mcptrace.config import SIGNALS, Signal
from mcptrace.export.destination import Destination, Target
from mcptrace.export.progress import Claim, ProgressStore

if TYPE_CHECKING:
    from mcptrace.export.sender import Retry

EXIT_BUDGET_SECONDS = 0.3
OUTAGE_MARKER_SECONDS = 600.0
ORPHAN_SCAN_SECONDS = 30.0
_FIRST_BACKOFF = 1.0
_MAX_BACKOFF = 30.0

Say = Callable[[str], None]
# (target, outcome, attempt) -> seconds to wait before trying the line again, or None to stop
RetryPolicy = Callable[[Target, "Retry", int], "float | None"]


def spool_files(spool_dir: Path, signal: Signal) -> list[Path]:
    return sorted(spool_dir.glob(f"{signal}-*.jsonl"))


def writer_pid(name: str) -> int | None:
    """The pid in ``{signal}-{stamp}-{pid}-{n}.jsonl``."""
    parts = name.removesuffix(".jsonl").split("-")
    try:
        return int(parts[-2]) if len(parts) >= 4 else None
    except ValueError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class PassReport:
    sent_lines: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIGNALS, 0))
    sent_items: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIGNALS, 0))
    rejected_lines: int = 0
    busy_files: int = 0
    unsafe_files: int = 0  # planted: a symlink or hard link as progress file, a symlink as data
    stopped: dict[str, str] = field(default_factory=dict)  # signal -> why it stopped


class _Stop(Exception):
    """The target gave up on (or refused) its signal for now."""

    def __init__(self, reason: str, refused: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused = refused


def _complete_lines(path: Path, offset: int) -> Iterator[tuple[int, int, bytes]]:
    """(start, end, line) for each newline-terminated line from ``offset``."""
    # never through a symlink, never blocking on a FIFO planted under a spool file's name
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePath(f"{path} is not a plain file")
    with os.fdopen(fd, "rb") as handle:
        handle.seek(offset)
        position = offset
        for line in handle:
            if not line.endswith(b"\n"):
                return  # still being written
            start, position = position, position + len(line)
            yield start, position, line


def _line_number(path: Path, offset: int) -> int:
    """1-based number of the line starting at ``offset`` (counted only for a report)."""
    count = 0
    with path.open("rb") as handle:
        remaining = offset
        while remaining > 0:
            chunk = handle.read(min(remaining, 1 << 20))
            if not chunk:
                break
            count += chunk.count(b"\n")
            remaining -= len(chunk)
    return count + 1


class Shipping:
    """Ships claimed files of one spool to one destination; shared by both loops."""

    def __init__(self, spool_dir: Path, destination: Destination, say: Say) -> None:
        self.spool_dir = spool_dir
        self.destination = destination
        self.say = say
        # http.client and ssl load here, on the shipper's thread, not at start-up
        from mcptrace.export.sender import Sender

        self.sender = Sender()
        self.stores: dict[Signal, ProgressStore] = {}
        self._told: set[str] = set()

    def store(self, signal: Signal) -> ProgressStore:
        """Raises UnsafePath when the spool or its progress directory is not ours."""
        store = self.stores.get(signal)
        if store is None:
            store = ProgressStore.open(self.spool_dir, self.destination.targets[signal])
            self.stores[signal] = store
        return store

    def claim(self, signal: Signal, name: str) -> Claim | None:
        """Claim a file for shipping (None: another process ships it); UnsafePath when its
        progress file was planted."""
        store = self.store(signal)
        claim = store.claim(name)
        while store.unreadable:
            self.say(
                f"mcptrace: progress for {store.unreadable.pop()} was unreadable; "
                "sending that file from the start"
            )
        return claim

    def ship_file(
        self,
        signal: Signal,
        claim: Claim,
        report: PassReport,
        retry: RetryPolicy,
        deadline: float | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Send what is complete after the claim's offset.  True when it reached the end of
        what is written; False when stopped by the deadline or ``should_stop``; raises
        _Stop when the target refused or the policy gave up."""
        from mcptrace.export.sender import Delivered, Outcome, Refused, Retry

        target = self.destination.targets[signal]
        path = self.spool_dir / claim.name
        try:
            lines = _complete_lines(path, claim.offset)
            for start, end, line in lines:
                if should_stop() or (deadline is not None and time.monotonic() >= deadline):
                    return False
                try:
                    body, items = self.sender.prepare(target, line)
                except ValueError as exc:
                    self._move_aside(path, start, line, str(exc) or "not an export request")
                    report.rejected_lines += 1
                    claim.advance(end)
                    continue
                attempt = 0
                while True:
                    timeout = target.timeout
                    if deadline is not None:
                        timeout = min(timeout, max(0.05, deadline - time.monotonic()))
                    outcome: Outcome = self.sender.send(target, body, timeout)
                    if isinstance(outcome, Delivered):
                        break
                    if isinstance(outcome, Refused):
                        raise _Stop(outcome.reason, refused=True)
                    assert isinstance(outcome, Retry)
                    attempt += 1
                    wait = retry(target, outcome, attempt)
                    if wait is None:
                        raise _Stop(outcome.reason, refused=False)
                    if deadline is not None and time.monotonic() + wait >= deadline:
                        return False
                    if _sleep(wait, should_stop):
                        return False
                claim.advance(end)
                report.sent_lines[signal] += 1
                report.sent_items[signal] += items
        except FileNotFoundError:
            return True  # removed by the user meanwhile: nothing left to send
        except (UnsafePath, OSError) as exc:
            if isinstance(exc, UnsafePath):
                reason = str(exc)
            else:
                reason = "a symbolic link" if exc.errno == errno.ELOOP else exc.strerror or str(exc)
            report.unsafe_files += 1
            if str(path) not in self._told:  # once per file and process
                self._told.add(str(path))
                self.say(f"mcptrace: not sending {path}: {reason}")
            return True
        return True

    def _move_aside(self, path: Path, start: int, line: bytes, why: str) -> None:
        number = _line_number(path, start)
        destination = self.spool_dir / ".rejected" / path.name
        try:
            spool_fd = private_directory(self.spool_dir, "spool directory")
            try:
                rejected_fd = private_subdirectory(spool_fd, ".rejected", self.spool_dir)
            finally:
                os.close(spool_fd)
            try:
                fd = open_private(
                    rejected_fd,
                    path.name,
                    os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                    self.spool_dir / ".rejected",
                )
            finally:
                os.close(rejected_fd)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
            where = f"moved aside to {destination}"
        except OSError as exc:
            where = f"skipped (could not move it aside: {exc})"
        self.say(f"mcptrace: {path} line {number}: {_one_line(why)}; {where}")

    def outage(self, target: Target, started: bool, kind: str = "outage") -> bool:
        """Record that the collector went down (``started``) or came back; True when this
        changes what the spool's processes know, i.e. when this process should say so.  A
        marker in ``.replay/`` makes it one line per outage for every process on the spool
        (a client and its stdio servers share one stderr); it expires after a while so a
        later outage is told again."""
        import hashlib

        subject = target.collector if kind == "outage" else f"{target.signal} {target.canonical}"
        name = f"{kind}-" + hashlib.sha256(subject.encode()).hexdigest()[:16]
        try:
            spool_fd = private_directory(self.spool_dir, "spool directory")
            try:
                replay_fd = private_subdirectory(spool_fd, ".replay", self.spool_dir)
            finally:
                os.close(spool_fd)
            try:
                if not started:
                    os.unlink(name, dir_fd=replay_fd)
                    return True
                try:
                    marker = os.stat(name, dir_fd=replay_fd, follow_symlinks=False)
                    age = time.time() - marker.st_mtime
                except FileNotFoundError:
                    age = None
                if age is not None and age < OUTAGE_MARKER_SECONDS:
                    return False
                if age is not None:
                    os.unlink(name, dir_fd=replay_fd)
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
                os.close(open_private(replay_fd, name, flags, self.spool_dir / ".replay"))
                return True
            finally:
                os.close(replay_fd)
        except FileNotFoundError:
            return False
        except FileExistsError:
            return False
        except OSError:
            return started  # no marker possible: say it from this process

    def close(self) -> None:
        self.sender.close()
        for store in self.stores.values():
            store.close()
        self.stores.clear()


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:197] + "..."


def _sleep(seconds: float, should_stop: Callable[[], bool]) -> bool:
    """Sleep in small steps; True if asked to stop meanwhile."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if should_stop():
            return True
        time.sleep(min(left, 0.1))
    return should_stop()


def patient_policy(max_attempts: int | None, max_wait: float = 60.0) -> RetryPolicy:
    """Backoff 0.5 s doubling to 30 s, or the receiver's ``Retry-After`` (up to
    ``max_wait``); ``max_attempts`` None retries forever (``replay --follow``)."""

    def policy(target: Target, outcome: Retry, attempt: int) -> float | None:
        if max_attempts is not None and attempt > max_attempts:
            return None
        if outcome.after is not None:
            return min(outcome.after, max_wait)
        return min(0.5 * 2.0 ** (attempt - 1), _MAX_BACKOFF)

    return policy


def ship_pass(
    shipping: Shipping,
    retry: RetryPolicy,
    should_stop: Callable[[], bool] = lambda: False,
    report: PassReport | None = None,
) -> PassReport:
    """Every complete, unacknowledged line of every spool file, oldest file first, signal
    by signal; a signal the receiver refuses (or that the policy gives up on) stops alone."""
    report = report or PassReport()
    gave_up: set[str] = set()  # collectors that stayed down through a whole backoff

    def policy(target: Target, outcome: Retry, attempt: int) -> float | None:
        return None if target.collector in gave_up else retry(target, outcome, attempt)

    for signal, target in shipping.destination.targets.items():
        if signal in report.stopped:
            continue
        store = shipping.store(signal)
        for path in spool_files(shipping.spool_dir, signal):
            if should_stop():
                return report
            if store.acknowledged(path.name) >= _size(path):
                continue
            try:
                claim = shipping.claim(signal, path.name)
            except UnsafePath as exc:
                shipping.say(f"mcptrace: not sending {path}: {exc}")
                report.unsafe_files += 1
                continue
            if claim is None:
                report.busy_files += 1
                continue
            try:
                if not shipping.ship_file(signal, claim, report, policy, None, should_stop):
                    return report
            except _Stop as stop:
                report.stopped[signal] = stop.reason
                if not stop.refused:
                    gave_up.add(target.collector)
                break
            finally:
                claim.release()
    return report


def _recent(path: Path, seconds: float = 60.0) -> bool:
    try:
        return time.time() - path.stat().st_mtime < seconds
    except OSError:
        return False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@dataclass
class _Health:
    """Whether a collector answers; at most one line when it stops and one when it is back."""

    down: bool = False
    seen_up: bool = False
    retry_at: float = 0.0
    backoff: float = _FIRST_BACKOFF


UNSPOOLED_LINES = 64  # lines (each under 1 MiB) held in memory when the spool takes none


class BackgroundShipper:
    """The in-process shipper: one daemon thread per process and spool."""

    def __init__(self, spool_dir: Path, destination: Destination, say: Say) -> None:
        self.spool_dir = spool_dir
        self.destination = destination
        self.say = say
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._own: dict[Signal, list[str]] = {signal: [] for signal in destination.targets}
        self._claims: dict[str, Claim] = {}
        self._done: dict[str, int] = {}  # other processes' files seen delivered: their size
        self._health: dict[str, _Health] = {}
        self._refused: dict[Signal, float] = {}
        self._closing_deadline: float | None = None
        # the first look for files left by earlier processes waits for start-up to be over
        self._next_orphan_scan = time.monotonic() + 1.0
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._shipping: Shipping | None = None
        self._broken = False
        # lines the spool could not take (a full disk): sent once from memory, newest kept
        self._unspooled: deque[tuple[Signal, bytes]] = deque(maxlen=UNSPOOLED_LINES)

    # called by the spool writers (exporter threads) ------------------------------------

    def own(self, signal: Signal, name: str) -> None:
        """A file this process just created: shipped by this process first."""
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            if signal in self._own:
                self._own[signal].append(name)
        self.notify()

    def send_unspooled(self, signal: Signal, lines: list[bytes]) -> bool:
        """Lines the spool could not write (full disk, quota, unwritable directory): sent
        once from memory, without the spool's guarantee.  False if this signal is not
        shipped (the caller counts them as dropped)."""
        if signal not in self.destination.targets or self._closing_deadline is not None:
            return False
        if self._pid != os.getpid():
            self._after_fork()
        self._unspooled.extend((signal, line) for line in lines)
        self.notify()
        return True

    def _send_unspooled(self, shipping: Shipping) -> None:
        while self._unspooled:
            try:
                signal, line = self._unspooled.popleft()
            except IndexError:
                return
            target = self.destination.targets[signal]
            try:
                body, _ = shipping.sender.prepare(target, line)
            except ValueError:
                continue
            shipping.sender.send(target, body, target.timeout)  # once: nowhere else to keep it

    def notify(self) -> None:
        if self._pid != os.getpid():  # forked: a fresh thread and claims of our own
            self._after_fork()
        if self._thread is None:
            self.start()
        self._idle.clear()
        self._wake.set()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or self._closing_deadline is not None:
                return
            self._thread = threading.Thread(target=self._run, name="mcptrace-shipper", daemon=True)
            self._thread.start()

    def _after_fork(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._thread = None
        self._shipping = None
        self._claims = {}  # the parent's claims were closed by progress' at-fork hook
        self._unspooled = deque(maxlen=UNSPOOLED_LINES)
        self._own = {signal: [] for signal in self.destination.targets}

    def close(self, budget: float = EXIT_BUDGET_SECONDS) -> None:
        """Give the thread ``budget`` seconds to send what is pending, then return
        whatever the collector is doing; the rest stays on disk."""
        if self._thread is None or self._pid != os.getpid() or self._closing_deadline:
            return
        self._closing_deadline = time.monotonic() + budget
        shipping = self._shipping
        since = shipping.sender.sending_since if shipping is not None else None
        if since is not None and time.monotonic() - since > budget:
            return  # stuck on a collector that does not answer: waiting cannot help
        self._idle.clear()
        self._wake.set()
        self._idle.wait(budget)

    # the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        with _guard.sensor_paused():
            while True:
                self._wake.wait(self._wait_seconds())
                self._wake.clear()
                try:
                    self._pass()
                except UnsafePath as exc:
                    if not self._broken:
                        self._broken = True
                        self.say(f"mcptrace: not shipping the spool: {exc}")
                except Exception as exc:  # never take the host down; say it once
                    if not self._broken:
                        self._broken = True
                        self.say(f"mcptrace: shipping the spool failed ({exc!r}); it stays on disk")
                if self._closing_deadline is not None and (
                    self._out_of_time() or not self._wake.is_set()
                ):
                    self._idle.set()
                    return
                if not self._wake.is_set():
                    self._idle.set()

    def _wait_seconds(self) -> float:
        now = time.monotonic()
        moments = [self._next_orphan_scan]
        moments += [h.retry_at for h in self._health.values() if h.down]
        moments += list(self._refused.values())
        return max(0.05, min(moments) - now) if moments else ORPHAN_SCAN_SECONDS

    def _pass(self) -> None:
        if self._shipping is None:
            self._shipping = Shipping(self.spool_dir, self.destination, self.say)
        shipping = self._shipping
        deadline = self._closing_deadline
        self._send_unspooled(shipping)
        for signal, target in self.destination.targets.items():
            health = self._health.setdefault(target.collector, _Health())
            now = time.monotonic()
            if health.down and now < health.retry_at:
                continue
            if self._refused.get(signal, 0.0) > now:
                continue
            store = shipping.store(signal)
            with self._lock:
                own = list(self._own[signal])
            names = own + (self._orphans(signal, store, set(own)) if deadline is None else [])
            for name in names:
                if deadline is not None and time.monotonic() >= deadline:
                    return
                if not self._ship(shipping, signal, target, store, name, name in own, deadline):
                    break
        if deadline is None and time.monotonic() >= self._next_orphan_scan:
            self._next_orphan_scan = time.monotonic() + ORPHAN_SCAN_SECONDS

    def _orphans(self, signal: Signal, store: ProgressStore, own: set[str]) -> list[str]:
        if time.monotonic() < self._next_orphan_scan:
            return []
        found = []
        for path in spool_files(self.spool_dir, signal):
            if path.name in own:
                continue
            pid = writer_pid(path.name)
            if pid is not None and pid != os.getpid() and _alive(pid) and _recent(path):
                # its own process ships it (or leaves it to us when it exits); a file idle
                # for a minute is adopted anyway (a reused pid, a writer with no shipper):
                # the claim lock still keeps two shippers off one file
                continue
            size = _size(path)
            if self._done.get(path.name) == size:
                continue  # delivered when last seen, and not grown since
            if store.acknowledged(path.name) < size:
                found.append(path.name)
            else:
                self._done[path.name] = size
        return found

    def _ship(
        self,
        shipping: Shipping,
        signal: Signal,
        target: Target,
        store: ProgressStore,
        name: str,
        own: bool,
        deadline: float | None,
    ) -> bool:
        """False when the collector is down or refused the signal (stop this signal)."""
        claim = self._claims.get(name) or shipping.claim(signal, name)
        if claim is None:
            return True  # another process is shipping it
        self._claims[name] = claim
        health = self._health[target.collector]
        report = PassReport()
        try:
            finished = shipping.ship_file(
                signal, claim, report, lambda t, outcome, n: None, deadline, self._out_of_time
            )
        except _Stop as stop:
            if stop.refused:
                self._refuse(signal, target, stop.reason)
            else:
                self._down(target, health, stop.reason)
            return False
        if report.sent_lines[signal] and (health.down or not health.seen_up):
            health.seen_up = True
            if shipping.outage(target, started=False):
                self.say(
                    f"mcptrace: the collector at {target.collector_url} is reachable again; "
                    f"sending what was kept in {self.spool_dir}"
                )
        if report.sent_lines[signal]:
            health.down, health.backoff = False, _FIRST_BACKOFF
        if finished and not self._is_current(signal, name):
            self._claims.pop(name).release()
            with self._lock:
                if name in self._own.get(signal, []):
                    self._own[signal].remove(name)
        return True

    def _out_of_time(self) -> bool:
        deadline = self._closing_deadline
        return deadline is not None and time.monotonic() >= deadline

    def _is_current(self, signal: Signal, name: str) -> bool:
        """The file this process is still appending to stays claimed (and listed)."""
        with self._lock:
            own = self._own.get(signal, [])
            return bool(own) and own[-1] == name

    def _down(self, target: Target, health: _Health, reason: str) -> None:
        if not health.down and self._shipping is not None and self._shipping.outage(target, True):
            self.say(
                f"mcptrace: the collector at {target.collector_url} is not accepting telemetry "
                f"({reason}); it is kept in {self.spool_dir} and sent when the collector is "
                "back (or by `mcptrace replay`)"
            )
        health.down = True
        health.retry_at = time.monotonic() + health.backoff
        health.backoff = min(health.backoff * 2, _MAX_BACKOFF)

    def _refuse(self, signal: Signal, target: Target, reason: str) -> None:
        shipping = self._shipping
        if signal not in self._refused and (
            shipping is None or shipping.outage(target, True, kind="refused")
        ):
            self.say(
                f"mcptrace: {target.url} refused {signal} ({reason}); they are kept in "
                f"{self.spool_dir} (send them with `mcptrace replay` once it accepts them)"
            )
        self._refused[signal] = time.monotonic() + 60.0
