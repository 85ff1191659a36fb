"""Log records for the modules a process loaded outside tool calls (start-up, and later).

Usage (the instrumentor does this)::

    inventory = ModuleInventory(provenance)
    inventory.start()                 # background thread: walks sys.modules as imports settle
    atexit.register(inventory.at_exit)

The audit hook cannot see what was imported before it was installed, and the sensor keeps
only a count of imports made outside MCP requests, so this walks ``sys.modules`` instead:
``SETTLE_INTERVAL`` after activation and again every interval until no new module appeared
for ``SETTLE_WALKS`` walks (or ``STARTUP_LIMIT`` passed), then every ``LATE_INTERVAL``, and
once more at exit.  Every module with a file gets one ``mcptrace.module.import`` log record
(attribution ``none``, no span; WARN for a mismatch), and the end of start-up gets one
``mcptrace.module.summary`` record: counts, the distributions loaded, the mismatching files,
and how many files this process had to hash (zero on a warm cache).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from opentelemetry._logs import Logger, SeverityNumber, get_logger
from opentelemetry.context import Context
from opentelemetry.util.types import AttributeValue

from mcptrace import _guard
from mcptrace.provenance.describe import Described, ModuleProvenance, attributes_of, module_path
from mcptrace.record import vocabulary as names

SETTLE_INTERVAL = 1.0
SETTLE_WALKS = 2
STARTUP_LIMIT = 30.0
LATE_INTERVAL = 30.0
EXIT_BUDGET_SECONDS = 5.0
BATCH = 100  # files per cache query, per hold of the lock a span end may wait on
MAX_MODULES = 20_000  # per process: a plugin loader gone wild must not grow memory forever


def _module_file(module: Any) -> str | None:
    try:  # __dict__, not getattr: a module-level __getattr__ may import things
        namespace = object.__getattribute__(module, "__dict__")
        return module_path(namespace.get("__file__"))
    except Exception:
        return None


class ModuleInventory:
    def __init__(self, provenance: ModuleProvenance, cache_state: str = "off") -> None:
        self.provenance = provenance
        self.cache_state = cache_state
        self.seen_names: set[str] = set()
        self.reported: set[str] = set()
        self.walk_lock = threading.Lock()
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.summarized = False
        self.skipped = 0
        self.startup_counts = {names.VERIFIED: 0, names.MISMATCH: 0, names.UNRECORDED: 0}
        self.distributions: set[str] = set()
        self.mismatches: list[str] = []
        self.started = time.monotonic()
        self._logger: Logger | None = None

    # --- scheduling

    def start(self) -> None:
        self.stop_event.clear()
        self.thread = threading.Thread(target=self._run, name="mcptrace-provenance", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()

    def _run(self) -> None:
        _guard.PAUSED.add(threading.get_ident())  # nothing this thread reads is the tool's
        quiet = 0
        while not self.stop_event.wait(SETTLE_INTERVAL if not self.summarized else LATE_INTERVAL):
            with self.walk_lock:
                if self.stop_event.is_set():
                    return
                new = self.walk()
                if not self.summarized:
                    quiet = 0 if new else quiet + 1
                    elapsed = time.monotonic() - self.started
                    if quiet >= SETTLE_WALKS or elapsed >= STARTUP_LIMIT:
                        self.summarize()

    def at_exit(self) -> None:
        """Late imports, and the summary of a process that ended before start-up settled."""
        self.stop_event.set()
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
        self.walk_lock = threading.Lock()
        self.provenance.reset_after_fork()
        if self.thread is not None and not self.stop_event.is_set():
            self.start()

    # --- work

    def walk(self, deadline: float | None = None) -> int:
        """Describe and log every module not seen yet; returns how many were new."""
        found: list[tuple[str, str]] = []
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
                found.append((name, path))
        new = 0
        for start in range(0, len(found), BATCH):
            batch = found[start : start + BATCH]
            if deadline is not None and time.monotonic() > deadline:
                self.skipped += len(batch)
                continue
            try:
                described = self.provenance.describe_many([path for _, path in batch])
            except Exception:
                continue
            for (name, path), one in zip(batch, described, strict=True):
                if one is not None:
                    new += 1
                    self._report(name, path, one)
        self.provenance.persist()
        return new

    def _report(self, name: str, path: str, described: Described) -> None:
        attributes = attributes_of(described)
        attributes[names.MODULE_NAME] = name
        attributes[names.FILE_PATH] = path
        attributes[names.ATTRIBUTION] = names.NONE
        if not self.summarized:
            self._count(described.source.verification, attributes, path)
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
            names.ATTRIBUTION: names.NONE,
        }
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
