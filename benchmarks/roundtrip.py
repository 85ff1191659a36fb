"""MCP round trips, client and server both instrumented vs both plain, in one run.

Scenarios: echo over stdio and over streamable HTTP (≥ 1,000 calls per round, p99
reported), echo over stdio with spans only (sensor and provenance off) and with the OTel SDK
alone (the floor, ``_bare_sdk.py``), echo with OTLP export to a real loopback receiver
instead of the spool, the same with the collector's port closed (a dead collector), a tool
doing 20,000 file opens, a tool doing 2,000 loopback TCP connects, the server's peak RSS
after 10,000 calls (the stdio echo scenario's servers, once they have served that many),
and its growth over one call doing 10⁶ opens (the file-heavy scenario's servers).
Latencies are measured inside the client, so process start-up is excluded; spans, sensor
and provenance are all on (the defaults) unless stated.  Each scenario keeps its clients
(each with its server) alive and goes round-robin between them; spans only and the floor
are extra clients of the stdio echo scenario, and the connects tool runs on the file-heavy
scenario's clients.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._child import BARE_SDK_FLAG, BARE_SDK_NOOP_FLAG, WARMUP_SECONDS, ServedChild
from benchmarks.harness import Result, rotate

CLIENT = str(Path(__file__).with_name("_echo_client.py"))
SPANS_ONLY = {
    "MCPTRACE_SENSOR": "none",
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "mcptrace_provenance",
}
ECHO = '{"text": "hello"}'


# The floors (_bare_sdk.py): the SDK making mcp 2.x's spans real, batches encoded to protobuf
# ("floor"), or dropped by a no-op exporter (issue 20's floor, NOOP_FLOOR)
NOOP_FLOOR = "floor, no-op exporter"
FLOOR_SUFFIX = {
    "floor": ": the OTel SDK alone, no mcptrace (floor)",
    NOOP_FLOOR: ": the OTel SDK alone, no-op exporter (issue 20's floor)",
}
CPU_FLOOR_SUFFIX = {
    "floor": ", the OTel SDK alone (floor)",
    NOOP_FLOOR: ", the OTel SDK alone, no-op exporter (issue 20's floor)",
}
FLOOR_NOTE = {
    "floor": "mcp 2.x's own spans made real by an SDK TracerProvider, batches encoded to "
    "binary OTLP: what any OTel-based instrumentation of mcp 2.x costs at least",
    NOOP_FLOOR: "the same TracerProvider and batch processor, each batch dropped by a no-op "
    "exporter: the floor issue 20 measured (no protobuf loaded)",
}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MCPTRACE_"))}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


class Runner:
    """One plain and one instrumented benchmark client, alive for a scenario; ``variants``
    adds instrumented clients with other settings, and ``floor`` a plain one with only the
    OTel SDK installed (``_bare_sdk.py``).

    All start together and warm up side by side (not timed); each round is then one request
    to one of them; ``close`` stops them.
    """

    def __init__(
        self,
        transport: str,
        calls: int,
        tool: str,
        argument: str,
        options: list[str],
        env: dict[str, str] | None = None,
        warmup_seconds: float = WARMUP_SECONDS,
        floor: bool = False,
        variants: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.args = [
            "--transport", transport, "--calls", str(calls), "--tool", tool,
            "--argument", argument, "--warmup", str(min(50, max(2, calls // 5))),
            "--warmup-seconds", str(warmup_seconds),
        ]  # fmt: skip
        self.options = options
        self.spool = Path(tempfile.mkdtemp(prefix="mcptrace-bench-"))
        self.env = clean_env(
            MCPTRACE_SPOOL_DIR=str(self.spool),
            MCPTRACE_HASH_CACHE=str(self.spool / "hash-cache.sqlite3"),
            OTEL_EXPORTER_OTLP_COMPRESSION="none",
        )
        self.instrumented_env = {**self.env, **(env or {})}
        # all start now and warm up side by side
        command = [sys.executable, CLIENT, *self.args]
        run = [sys.executable, "-m", "mcptrace.cli", "run", *self.options, "--"]
        self.children = {
            "baseline": ServedChild(command, self.env),
            "instrumented": ServedChild([*run, *command], self.instrumented_env),
        }
        for label, overrides in (variants or {}).items():  # other instrumented settings
            self.children[label] = ServedChild([*run, *command], {**self.env, **overrides})
        if floor:  # ours (protobuf encoding) and issue 20's (a no-op exporter)
            self.children["floor"] = ServedChild([*command, BARE_SDK_FLAG], self.env)
            self.children[NOOP_FLOOR] = ServedChild([*command, BARE_SDK_NOOP_FLAG], self.env)
        self.figures: dict[str, list[dict[str, float]]] = {label: [] for label in self.children}
        try:
            for child in self.children.values():  # no round runs beside the other's warm-up
                child.wait_ready()
        except BaseException:
            self.close()
            raise

    def round(self, label: str, **request: Any) -> dict[str, float]:
        figures: dict[str, float] = self.children[label].round(**request)
        self.figures[label].append(figures)
        return figures

    def close(self) -> None:
        for child in self.children.values():
            child.close()
        self.children.clear()

    def p99(self) -> dict[str, list[float]]:
        return {label: [f["p99"] for f in runs] for label, runs in self.figures.items()}

    def measures(
        self, labels: list[str] | None = None, **request: Any
    ) -> dict[str, Callable[[], float]]:
        """One round's total time, per variant (all, or ``labels``)."""
        chosen = labels or list(self.children)
        return {label: functools.partial(self._total, label, request) for label in chosen}

    def _total(self, label: str, request: dict[str, Any]) -> float:
        return self.round(label, **request)["total"]


@dataclass
class Also:
    """Another tool for a scenario's clients: ``request`` is one round's (calls, tool...)."""

    name: str
    request: dict[str, Any]
    target: float | None = None


def measure(
    name: str,
    rounds: int,
    transport: str,
    calls: int,
    tool: str = "echo",
    argument: str = ECHO,
    target: float | None = None,
    options: list[str] | None = None,
    note: str = "",
    env: dict[str, str] | None = None,
    memory_after: int = 0,
    warmup_seconds: float = WARMUP_SECONDS,
    floor: bool = False,
    flood: int = 0,
    variants: dict[str, dict[str, str]] | None = None,
    also: list[Also] | None = None,
    cpu_rows: bool = False,
) -> list[Result]:
    """Rounds of ``calls`` calls, rotating over the variants; with ``memory_after``, the
    servers' memory; with ``floor``, the same figures for the OTel SDK alone; with ``flood``
    (``open_files`` only), the servers' memory growth under calls opening that many files;
    ``variants``, more instrumented clients with other settings (a row each, against the same
    baseline rounds); ``also``, other tools run by the same baseline and instrumented clients
    afterwards (a scenario each, without paying for another start-up and warm-up).

    The memory figures come from the same servers once they have served ``memory_after``
    calls in all (the remaining calls are run 8 in flight, untimed).
    """
    runner = Runner(
        transport, calls, tool, argument, options or [], env, warmup_seconds, floor, variants
    )
    try:
        samples = rotate(runner.measures(), rounds)
        p99 = runner.p99()
        result = Result(name, "s", samples["baseline"], samples["instrumented"], target, note)
        result.extra["p99_s"] = {label: p99[label] for label in ("baseline", "instrumented")}
        results = [result]
        for label, overrides in (variants or {}).items():
            settings = ", ".join(f"{key}={value}" for key, value in overrides.items())
            variant = Result(
                f"{name}, {label}", "s", samples["baseline"], samples[label], target, settings
            )
            variant.extra["p99_s"] = {"baseline": p99["baseline"], label: p99[label]}
            results.append(variant)
        if floor:
            results.append(floor_result(name, samples, p99))
            results.append(floor_result(name, samples, p99, NOOP_FLOOR))
        if cpu_rows:
            results += cpu_results(name, runner, rounds)
        for other in also or []:
            pair = runner.measures(["baseline", "instrumented"], **other.request)
            runs = rotate(pair, rounds)
            results.append(
                Result(other.name, "s", runs["baseline"], runs["instrumented"], other.target)
            )
        if flood:
            results.append(flood_result(runner, flood))
        memory = {}
        if memory_after:
            for label in runner.children:
                served = int(runner.figures[label][-1]["served"])
                rest = {"calls": max(1, memory_after - served), "concurrency": 8}
                memory[label] = runner.round(label, **rest)
    finally:
        runner.close()
    return [*results, *memory_results(memory, memory_after)] if memory else results


def floor_result(
    name: str, samples: dict[str, list[float]], p99: dict[str, list[float]], label: str = "floor"
) -> Result:
    floor = Result(
        f"{name}{FLOOR_SUFFIX[label]}",
        "s",
        samples["baseline"],
        samples[label],
        note=FLOOR_NOTE[label],
    )
    floor.extra["p99_s"] = {"baseline": p99["baseline"], label: p99[label]}
    floor.extra["mcptrace_vs_floor"] = [
        i / f for i, f in zip(samples["instrumented"], samples[label], strict=True) if f > 0
    ]
    return floor


def cpu_results(name: str, runner: Runner, rounds: int) -> list[Result]:
    """CPU per call of each side, and the server's garbage collections, per variant.

    From the clients' rounds: ``time.process_time`` of the client (all its threads, the
    export threads included) around the timed calls, and of the server read through a tool
    call before and after; collections counted by ``gc.callbacks`` in both processes."""
    figures = {label: runs[:rounds] for label, runs in runner.figures.items()}
    base = figures["baseline"]
    results = []
    for label, runs in figures.items():
        if label == "baseline":
            continue
        suffix = {"instrumented": "", **CPU_FLOOR_SUFFIX}.get(label, f", {label}")

        def row(
            key: str,
            what: str,
            unit: str,
            runs: list[dict[str, float]] = runs,
            suffix: str = suffix,
        ) -> Result:
            return Result(
                f"{name}{suffix}: {what}",
                unit,
                [f[key] for f in base],
                [f[key] for f in runs],
                compare="delta",
                note="per-round figures of the timed calls, minus plain",
            )

        total = Result(
            f"{name}{suffix}: CPU (client + server) × plain",
            "µs",
            [f["client_cpu_us_per_call"] + f["server_cpu_us_per_call"] for f in base],
            [f["client_cpu_us_per_call"] + f["server_cpu_us_per_call"] for f in runs],
            target=1.30 if label == "instrumented" else None,
            note="process CPU per call, both sides, over plain",
        )
        results += [
            row("client_cpu_us_per_call", "client CPU per call", "µs"),
            row("server_cpu_us_per_call", "server CPU per call", "µs"),
            total,
            row("server_gc_full_per_1000", "server full collections per 1,000 calls", "GCs"),
            row("server_gc_ms_per_1000", "server GC pause per 1,000 calls", "ms"),
        ]
    return results


def flood_result(runner: Runner, count: int) -> Result:
    """Peak RSS growth of each server over one call opening ``count`` files, after the
    scenario's rounds: a span's records and counters are bounded (caps, then counts), so a
    call with 50 times more opens than a round's must not raise the peak (flat memory)."""
    peaks: dict[str, list[float]] = {}
    for label in ("baseline", "instrumented"):
        before = runner.figures[label][-1]["server_peak_rss_kib"] / 1024
        after = runner.round(label, calls=1, argument={"count": count})
        peaks[label] = [before, after["server_peak_rss_kib"] / 1024]
    result = Result(
        f"tool doing {count:,} opens in one call: server peak RSS growth",
        "MiB",
        baseline=[peaks["baseline"][1] - peaks["baseline"][0]],
        instrumented=[peaks["instrumented"][1] - peaks["instrumented"][0]],
        target=1.0,
        compare="delta",
        note="flat memory under a flood, after the scenario's rounds of smaller calls",
    )
    result.extra["peak_rss_mib"] = peaks
    return result


def memory_results(memory: dict[str, dict[str, float]], calls: int) -> list[Result]:
    """Peak RSS of the server: its footprint, and its growth since the warm-up (and the
    footprint of the OTel SDK alone, when the scenario ran the floor)."""
    footprint = Result(
        f"server peak RSS after {calls:,} calls",
        "MiB",
        baseline=[memory["baseline"]["server_peak_rss_kib"] / 1024],
        instrumented=[memory["instrumented"]["server_peak_rss_kib"] / 1024],
        target=5.0,
        compare="delta",
        note="OTel SDK, exporters and mcptrace loaded in the server; the echo scenario's servers",
    )
    growth = Result(
        f"server RSS growth during {calls:,} calls",
        "MiB",
        baseline=[memory["baseline"]["server_rss_growth_kib"] / 1024],
        instrumented=[memory["instrumented"]["server_rss_growth_kib"] / 1024],
        target=5.0,
        compare="delta",
        note="what instrumentation accumulates per call after the warm-up (flat = no leak)",
    )
    results = [footprint, growth]
    for label in (NOOP_FLOOR, "floor"):
        if label in memory:
            results.insert(
                1,
                Result(
                    f"server peak RSS after {calls:,} calls{FLOOR_SUFFIX[label]}",
                    "MiB",
                    baseline=[memory["baseline"]["server_peak_rss_kib"] / 1024],
                    instrumented=[memory[label]["server_peak_rss_kib"] / 1024],
                    compare="delta",
                    note=FLOOR_NOTE[label],
                ),
            )
    return results


@contextlib.contextmanager
def loopback_receiver() -> Iterator[str]:
    """A real OTLP/HTTP receiver (the ``oteltap`` package) on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "oteltap", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("oteltap did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def run(rounds: int, smoke: bool = False) -> list[Result]:
    calls = 20 if smoke else 1000
    files = 200 if smoke else 20_000
    connects = 20 if smoke else 2_000
    warm = 0.0 if smoke else WARMUP_SECONDS

    def scenario(*args: Any, **kwargs: Any) -> list[Result]:
        return measure(*args, warmup_seconds=warm, **kwargs)

    results = [
        *scenario(
            "echo tools/call, stdio", rounds, "stdio", calls, target=1.05,
            note=f"{calls} calls per round, client and server instrumented",
            memory_after=200 if smoke else 10_000, floor=True,
            variants={"spans only": SPANS_ONLY}, cpu_rows=True,
        ),
        *scenario(
            "echo tools/call, streamable HTTP", rounds, "http", calls, target=1.05,
            note=f"{calls} calls per round",  # no floor here: ≈50 s more of the suite
        ),
    ]  # fmt: skip
    with loopback_receiver() as endpoint:
        results += scenario(
            "echo tools/call, stdio, OTLP to a receiver", rounds, "stdio", calls // 2,
            options=["--endpoint", endpoint], note="oteltap on 127.0.0.1 instead of the spool",
        )  # fmt: skip
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{unused.getsockname()[1]}"
    results += scenario(
        "echo tools/call, stdio, OTLP to a dead collector", rounds, "stdio", calls // 2,
        options=["--endpoint", dead], note="a closed port: everything stays in the spool",
    )  # fmt: skip
    connect = Also(
        f"tool doing {connects:,} loopback connects",
        {"calls": 3, "tool": "connect_loopback", "argument": {"count": connects}},
    )
    results += scenario(  # 10 calls a round: with 3, one burst of the shared VM decided the ratio
        f"tool doing {files:,} file opens", rounds, "stdio", 10, "open_files",
        json.dumps({"count": files}), target=1.20, flood=2_000 if smoke else 1_000_000,
        also=[connect],
    )  # fmt: skip
    return results
