"""Log records for the modules a process loaded outside tool calls (start-up, and later).

Usage (the instrumentor does this)::

    inventory = ModuleInventory(provenance)
    when_active(inventory.attach)     # record/recorder.py: onto the one log pump
    activation.on_exit(inventory.at_exit)

The audit hook cannot see what was imported before it was installed, and the sensor keeps
only a count of imports made outside MCP requests, so this walks ``sys.modules`` instead:
``SETTLE_INTERVAL`` after activation and again every interval until no new module appeared
for ``SETTLE_WALKS`` walks (or ``STARTUP_LIMIT`` passed), then every ``LATE_INTERVAL``, and
once more at exit.  Every module with a file gets one ``mcptrace.module.import`` log record
(attribution ``none``, no span; WARN for a mismatch), and the end of start-up gets one
``mcptrace.module.summary`` record: counts, the distributions loaded, the mismatching files,
and how many files this process had to hash (zero on a warm cache).

Start-up's modules are described as they load (hashed, on a cold cache) and their records
held until start-up settled; then the set is decided: when that exact set of files was
reported before, unchanged and without a mismatch (``known.py``), they get no record each —
the summary counts them (``mcptrace.module.known.count``, with the set's digest); otherwise
all are reported, and the set is remembered once their records left the SDK.  A later walk
reports only new files, and none when the grown set is known too; the exit walk reports
new files in full (instrumentor.py checked the exit's set before activating).

It owns no thread: the walks run on the record stage's one log pump (``tick``, on each of
its wake-ups, at least once a second), a few batches of files per wake-up — a cold cache
hashes tens of megabytes, and the sensor's records must not wait behind that — asking the
pump to come back at once while a walk has files left.  Without the sensor there is no
pump: the inventory then walks once, at exit (records and summary).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from typing import Any

from opentelemetry._logs import Logger, SeverityNumber, get_logger
from opentelemetry.context import Context
from opentelemetry.util.types import AttributeValue

from mcptrace import _guard
from mcptrace._memory import give_back_free_memory
from mcptrace.provenance.describe import Described, ModuleProvenance, attributes_of, module_path
from mcptrace.record import vocabulary as names

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mcptrace.provenance.known import KnownModuleSets
    from mcptrace.record.recorder import LogPump, Recorder
    from mcptrace.record.state import SpanRegistry

SETTLE_INTERVAL = 1.0
SETTLE_WALKS = 2
STARTUP_LIMIT = 30.0
LATE_INTERVAL = 30.0
EXIT_BUDGET_SECONDS = 5.0
EXIT_ROUNDS = 3  # collect-describe rounds of the exit walk
BATCH = 100  # files per cache query, per hold of the lock a span end may wait on
TICK_BUDGET_SECONDS = 0.02  # per pump wake-up: then the sensor's records go out, and we resume
MAX_MODULES = 20_000  # per process: a plugin loader gone wild must not grow memory forever


def _module_file(module: Any) -> str | None:
    try:  # __dict__, not getattr: a module-level __getattr__ may import things
        namespace = object.__getattribute__(module, "__dict__")
        return module_path(namespace.get("__file__"))
    except Exception:
        return None


class ModuleInventory:
    def __init__(
        self,
        provenance: ModuleProvenance,
        cache_state: str = "off",
        known: KnownModuleSets | None = None,
    ) -> None:
        self.provenance = provenance
        self.cache_state = cache_state
        self.seen_names: set[str] = set()
        self.reported: set[str] = set()
        self.walk_lock = threading.Lock()
        self.stopped = False
        self.pump: LogPump | None = None
        self.summarized = False
        self.skipped = 0
        self.startup_counts = {names.VERIFIED: 0, names.MISMATCH: 0, names.UNRECORDED: 0}
        self.distributions: set[str] = set()
        self.mismatches: list[str] = []
        self.started = time.monotonic()
        self.next_walk = self.started + SETTLE_INTERVAL
        self.queue: deque[tuple[str, str]] = deque()  # the current walk's files left to describe
        self.walking = False  # a walk has begun and not finished (its files are in ``queue``)
        self.walk_new = 0  # modules the current walk reported so far
        self.quiet = 0  # settle walks in a row that found nothing new
        self.known = known  # sets of module files reported before (None: not checked)
        self.decided = False  # start-up settled: its set was found known, or is reported
        self.held: list[tuple[str, str, Described]] = []  # described, not logged (undecided)
        self.covered = 0  # files of a known set: no record each
        self.covered_digest: str | None = None
        self.emitted = 0  # module records this process emitted
        self.trimmed = False  # start-up's freed memory was given back (_memory.py)
        self._logger: Logger | None = None

    # --- scheduling: on the record stage's log pump

    def attach(self, registry: SpanRegistry, recorder: Recorder) -> None:
        """Walk on ``recorder``'s log pump (record.recorder.when_active calls this)."""
        pump = recorder.pump
        self.pump = pump
        pump.on_tick.append(self.tick)
        pump.after_fork.append(self.after_fork_in_child)
        pump.notify()

    def stop(self) -> None:
        """No more walks (uninstrumented): off the pump."""
        self.stopped = True
        pump = self.pump
        if pump is not None:
            for hooks, hook in (
                (pump.on_tick, self.tick),
                (pump.after_fork, self.after_fork_in_child),
            ):
                try:
                    hooks.remove(hook)
                except ValueError:
                    pass

    def tick(self) -> None:
        """On a pump wake-up: begin a walk when one is due, go on with one begun."""
        if self.stopped or (not self.walking and time.monotonic() < self.next_walk):
            return
        if not self.walk_lock.acquire(blocking=False):
            return  # the exit walk has it
        try:
            if self.stopped or (not self.walking and not self._begin_walk()):
                return
            self._describe(time.monotonic() + TICK_BUDGET_SECONDS)
            if self.queue or (self.held and self.decided):
                if self.pump is not None:
                    self.pump.notify()  # the rest on the next wake-up, after the sensor's logs
                return
            self._end_walk()
        finally:
            self.walk_lock.release()

    def _begin_walk(self) -> bool:
        """Queue what loaded since the last walk; True if there is work for this wake-up.

        Until start-up settles, walks describe what loaded (hashing, on a cold cache) and
        hold the records; then the whole set is decided at once: known (reported before,
        unchanged, without a mismatch: no record each) or reported."""
        new = self._collect()
        if not self.decided:
            self.quiet = 0 if new else self.quiet + 1
            settling = time.monotonic() - self.started < STARTUP_LIMIT
            if self.quiet < SETTLE_WALKS and settling:
                if not self.queue:
                    self.next_walk = time.monotonic() + SETTLE_INTERVAL
                    return False
                self.walking = True
                return True
            self.decided = True
            if self._known(self.held):
                self.held.clear()
        else:
            self._known([])
        if not self.queue and not self.held:
            self._end_walk()
            return False
        self.walking = True
        return True

    def _end_walk(self) -> None:
        self.walking = False
        self.provenance.persist()
        if self.decided and not self.summarized:
            self.summarize()
            self._remember_reported()
        if self.decided:  # walks are LATE_INTERVAL apart now: keep nothing between them
            self.provenance.release()
            if not self.trimmed:  # start-up's work is done: what it freed goes back
                self.trimmed = give_back_free_memory()
        interval = LATE_INTERVAL if self.decided else SETTLE_INTERVAL
        self.next_walk = time.monotonic() + interval

    def at_exit(self) -> None:
        """Late imports, and the summary of a process that ended before start-up settled."""
        self.stopped = True
        if not self.walk_lock.acquire(timeout=EXIT_BUDGET_SECONDS):
            return
        try:
            with _guard.sensor_paused():
                self.walk(deadline=time.monotonic() + EXIT_BUDGET_SECONDS)
                if not self.summarized:
                    self.summarize()
        finally:
            self.walk_lock.release()

    def after_fork_in_child(self) -> None:
        """In a forked child (the pump's after_fork, or an at-fork handler without a pump)."""
        self.walk_lock = threading.Lock()
        self.provenance.reset_after_fork()

    # --- work

    def walk(self, deadline: float | None = None) -> int:
        """Describe and log every module not seen yet, now; returns how many were new.

        (At exit the instrumentor decided already, from the set the process had before it
        activated: a walk reached at exit reports in full.)"""
        self.decided = True
        new = 0
        for _ in range(EXIT_ROUNDS):  # what describing itself imported (RECORD lookups...)
            if not self._collect() and not self.queue and not self.held:
                break
            new += self._describe(deadline, skip_late=True)
        self.walking = False
        self.provenance.persist()
        return new

    def _collect(self) -> int:
        """Queue the files of the modules loaded since the last walk; returns how many."""
        queued = len(self.queue)
        for name, module in list(sys.modules.items()):
            if name in self.seen_names:
                continue
            if len(self.seen_names) >= MAX_MODULES:
                self.skipped += 1
                continue
            self.seen_names.add(name)
            path = _module_file(module)
            if path is not None and path not in self.reported:
                self.reported.add(path)
                self.queue.append((name, path))
        return len(self.queue) - queued

    def _set_digest(self) -> str:
        """The digest of every module file noted so far (known.py), stat keys only."""
        from mcptrace.provenance.known import module_set_digest

        return module_set_digest(sorted(self.reported))

    def _known(self, held: list[tuple[str, str, Described]]) -> bool:
        """True if every file noted so far is a set reported before, unchanged and without
        a mismatch: the files queued (and ``held``) then get no record each."""
        if self.known is None or self.skipped or not (self.queue or held):
            return False
        try:
            digest = self._set_digest()
            if not self.known.contains(digest):
                return False
        except Exception:
            return False
        self.covered += len(self.queue) + len(held)
        self.covered_digest = digest
        self.queue.clear()
        return True

    def _remember_reported(self) -> None:
        """After start-up's set was reported in full without a mismatch: remember its digest,
        once its records have left the SDK (a process killed later still wrote them)."""
        if self.known is None or self.mismatches or self.skipped or not self.emitted:
            return
        try:
            digest = self._set_digest()
            from opentelemetry._logs import get_logger_provider

            flush = getattr(get_logger_provider(), "force_flush", None)
            if flush is not None and not flush(EXIT_BUDGET_SECONDS * 1000):
                return
            self.known.add(digest)
        except Exception:
            pass

    def _describe(self, deadline: float | None, skip_late: bool = False) -> int:
        """Describe queued files, a batch at a time, and log them (held until start-up is
        decided), until ``deadline``: then stop (the rest waits for the next call) or, with
        ``skip_late``, count the rest skipped.  Returns how many were described."""
        queue = self.queue
        new = 0
        held = self.held
        while held and self.decided:
            if deadline is not None and time.monotonic() > deadline and not skip_late:
                return new
            for name, path, described_before in held[:BATCH]:
                self._report(name, path, described_before)
            del held[:BATCH]
        while queue:
            if deadline is not None and time.monotonic() > deadline:
                if skip_late:
                    self.skipped += len(queue)
                    queue.clear()
                break
            batch = [queue.popleft() for _ in range(min(BATCH, len(queue)))]
            try:
                described = self.provenance.describe_many([path for _, path in batch])
            except Exception:
                continue
            for (name, path), one in zip(batch, described, strict=True):
                if one is None:
                    continue
                new += 1
                if self.decided:
                    self._report(name, path, one)
                else:
                    held.append((name, path, one))
        return new

    def _report(self, name: str, path: str, described: Described) -> None:
        attributes = attributes_of(described)
        attributes[names.MODULE_NAME] = name
        attributes[names.FILE_PATH] = path
        attributes[names.ATTRIBUTION] = names.NONE
        if not self.summarized:
            self._count(described.source.verification, attributes, path)
        self.emitted += 1
        self._emit(names.MODULE_IMPORT, attributes, described.source.verification)

    def _count(self, verification: str, attributes: dict[str, AttributeValue], path: str) -> None:
        self.startup_counts[verification] = self.startup_counts.get(verification, 0) + 1
        distribution = attributes.get(names.MODULE_DISTRIBUTION)
        if distribution:
            self.distributions.add(f"{distribution}=={attributes.get(names.MODULE_VERSION)}")
        if verification == names.MISMATCH:
            self.mismatches.append(path)

    def summarize(self) -> None:
        self.summarized = True
        counts = self.startup_counts
        cache = self.provenance.cache
        attributes: dict[str, AttributeValue] = {
            names.SUMMARY_COUNT: sum(counts.values()),
            names.SUMMARY_DISTRIBUTIONS: sorted(self.distributions),
            names.SUMMARY_VERIFIED: counts.get(names.VERIFIED, 0),
            names.SUMMARY_MISMATCH: counts.get(names.MISMATCH, 0),
            names.SUMMARY_UNRECORDED: counts.get(names.UNRECORDED, 0),
            names.SUMMARY_MISMATCHES: list(self.mismatches),
            names.SUMMARY_HASHED: self.provenance.hashed,
            names.SUMMARY_CACHE_HITS: self.provenance.cache_hits,
            names.SUMMARY_SKIPPED: self.skipped,
            names.SUMMARY_CACHE_STATE: cache.state if cache is not None else self.cache_state,
            names.SUMMARY_KNOWN: self.covered,
            names.ATTRIBUTION: names.NONE,
        }
        if self.covered_digest is not None:
            attributes[names.SUMMARY_SET_DIGEST] = self.covered_digest
        self._emit(
            names.MODULE_SUMMARY,
            attributes,
            names.MISMATCH if self.mismatches else names.VERIFIED,
        )

    def _emit(self, event: str, attributes: dict[str, AttributeValue], verification: str) -> None:
        if self._logger is None:
            self._logger = get_logger(names.PROVENANCE_SCOPE)
        warn = verification == names.MISMATCH
        try:
            self._logger.emit(
                timestamp=time.time_ns(),
                context=Context(),  # not any span's: start-up belongs to no tool call
                severity_number=SeverityNumber.WARN if warn else SeverityNumber.INFO,
                severity_text="WARN" if warn else "INFO",
                attributes=attributes,
                event_name=event,
            )
        except Exception:
            pass
