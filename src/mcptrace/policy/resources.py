"""A running tool call that exhausts the server: CPU, memory, threads, processes, descriptors.

Usage::

    watch = ResourceWatch(limits_from_environment())
    for call, usage in watch.tick(registry.in_flight.values()):  # once a second, log thread
        ...  # an action ``mcptrace.resource.exhausted`` for the detection rules

A tool that burns the CPU in a loop, a fork bomb or a thread bomb usually never returns:
its span never ends, so nothing judged at span end sees it.  The log thread samples the
process's own counters once a second (``time.process_time``; on Linux ``/proc/self``:
resident memory, threads, live child processes, open descriptors, bytes written) and
compares them with the sample taken before the call was first seen in flight.  Growth past
a limit is the call's only while it is the one tool call in flight (two at once cannot be
told apart, and nothing is said); resources a finished call leaked are in the next call's
baseline, so they are never blamed on it.  A C function that holds the GIL (a regular
expression backtracking for ever) stops the log thread too: that call is not seen.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any, NamedTuple

from mcptrace.activation import report
from mcptrace.record.state import SpanState

LIMITS_VARIABLE = "MCPTRACE_RESOURCE_LIMITS"
MIB = 1024 * 1024
TASKS_READ = 512  # threads whose child lists are read (a thread bomb: enough to count)


class Usage(NamedTuple):
    cpu: float  # seconds of CPU, every thread of the process
    memory: int  # resident bytes
    threads: int
    processes: int  # live (or not yet reaped) child processes
    descriptors: int
    written: int  # bytes passed to write calls (files, pipes, sockets)


class Limits(NamedTuple):
    """Growth during one call past which it is reported (conservative: a benign tool
    converting a document or running a build stays far below)."""

    cpu: float = 15.0
    memory: int = 1024 * MIB
    threads: int = 256
    processes: int = 64
    descriptors: int = 1024
    written: int = 4096 * MIB


_UNITS = {"cpu": 1.0, "memory": MIB, "threads": 1, "processes": 1, "descriptors": 1, "written": MIB}


def limits_from_environment() -> Limits:
    """``MCPTRACE_RESOURCE_LIMITS="cpu=15,memory=1024,threads=256,processes=64,
    descriptors=1024,written=4096"`` (seconds, MiB, counts; any subset); a bad entry is
    reported in one line and its default kept."""
    text = os.environ.get(LIMITS_VARIABLE, "").strip()
    limits = Limits()
    if not text:
        return limits
    changes: dict[str, Any] = {}
    for entry in text.split(","):
        name, _, value = entry.partition("=")
        name = name.strip()
        try:
            number = float(value)
            if name not in _UNITS or not number > 0:
                raise ValueError
        except ValueError:
            report(
                f"mcptrace: {LIMITS_VARIABLE}: {entry.strip()!r} is not NAME=POSITIVE_NUMBER "
                f"with NAME one of {', '.join(_UNITS)}; its default is kept"
            )
            continue
        scaled = number * _UNITS[name]
        changes[name] = scaled if name == "cpu" else int(scaled)
    return limits._replace(**changes)


def sample() -> Usage:
    """The process's counters now (zeros where this platform has no ``/proc``)."""
    memory = threads = processes = descriptors = written = 0
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmRSS:"):
                    memory = int(line.split()[1]) * 1024
                elif line.startswith(b"Threads:"):
                    threads = int(line.split()[1])
        with open("/proc/self/io", "rb") as io:
            for line in io:
                if line.startswith(b"wchar:"):
                    written = int(line.split()[1])
        descriptors = len(os.listdir("/proc/self/fd"))
        for task in os.listdir("/proc/self/task")[:TASKS_READ]:
            try:
                with open(f"/proc/self/task/{task}/children", "rb") as children:
                    processes += len(children.read().split())
            except OSError:
                pass  # the thread exited meanwhile
    except (OSError, ValueError, IndexError):
        pass
    return Usage(time.process_time(), memory, threads, processes, descriptors, written)


def _describe(kind: str, amount: float, limit: float) -> str:
    if kind == "cpu":
        return f"{amount:.0f} s of CPU (limit {limit:.0f} s)"
    if kind in ("memory", "written"):
        what = "resident memory" if kind == "memory" else "written"
        return f"{amount / MIB:.0f} MiB more {what} (limit {limit / MIB:.0f} MiB)"
    return f"{amount:.0f} more {kind} (limit {limit:.0f})"


class Exhaustion(NamedTuple):
    call: SpanState
    kind: str  # a field of Usage
    what: str  # "41 s of CPU (limit 30 s)"


class ResourceWatch:
    """Per-call baselines and what was already said (each call and kind once)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.previous: Usage | None = None
        self.baselines: dict[int, Usage] = {}  # id of a call's span state -> its baseline
        self.reported: set[tuple[int, str]] = set()

    def reset(self) -> None:
        """In a forked child: the parent's calls and counters are not the child's."""
        self.previous = None
        self.baselines.clear()
        self.reported.clear()

    def tick(self, in_flight: Iterable[SpanState]) -> list[Exhaustion]:
        calls = {id(state): state for state in in_flight if _is_tool_call(state)}
        now = sample()
        before = self.previous or now
        self.previous = now
        for key in [key for key in self.baselines if key not in calls]:
            del self.baselines[key]
        self.reported = {said for said in self.reported if said[0] in calls}
        for key in calls:
            self.baselines.setdefault(key, before)
        if len(calls) != 1:  # no call, or several: whose growth it is cannot be told
            return []
        (key, call), baseline = next(iter(calls.items())), self.baselines[next(iter(calls))]
        found = []
        for kind, limit in self.limits._asdict().items():
            grown = getattr(now, kind) - getattr(baseline, kind)
            if grown >= limit and (key, kind) not in self.reported:
                self.reported.add((key, kind))
                found.append(Exhaustion(call, kind, _describe(kind, grown, limit)))
        return found


def _is_tool_call(state: SpanState) -> bool:
    return state.is_mcp and str(getattr(state.key, "name", "")).startswith("tools/call ")
