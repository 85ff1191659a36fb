"""Helpers shared by the benchmarks and their child processes (``import _child`` from a
script in this directory, ``benchmarks._child`` from the suite)."""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

ROUND_TIMEOUT_SECONDS = 1800
# A kept-alive child warms up this long before its first round: long enough for an
# instrumented process's start-up work (the module inventory settles after ~3 s of quiet
# walks, see provenance/startup.py), so rounds measure the steady state.
WARMUP_SECONDS = 5.0


BARE_SDK_FLAG = "--bare-sdk"
BARE_SDK_NOOP_FLAG = "--bare-sdk-noop"  # the floor with a no-op exporter (issue 20's floor)


def take_bare_sdk_flag(argv: list[str], service_name: str) -> str:
    """Remove ``--bare-sdk`` or ``--bare-sdk-noop`` from a child's ``argv``; if one was there,
    install that round-trip floor (``_bare_sdk.install``) and return the flag ("" if none).
    Imported only then: a plain child must not even load the SDK, or its memory and start-up
    would not be plain."""
    for flag, exporter in ((BARE_SDK_FLAG, "protobuf"), (BARE_SDK_NOOP_FLAG, "no-op")):
        if flag in argv:
            argv.remove(flag)
            import _bare_sdk  # the script's directory is on sys.path

            _bare_sdk.install(service_name, exporter)
            return flag
    return ""


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without mcptrace/OTel settings, so every variant starts alike."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "MCPTRACE_")) and k not in ("TRACEPARENT", "PYTHONPATH")
    }
    env.update(extra)
    return env


def run_json(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run a benchmark child and return the last JSON object it printed."""
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise SystemExit(f"benchmark child failed: {command}\n{result.stderr[-2000:]}")
    values: dict[str, float] = json.loads(lines[-1])
    return values


def flush_telemetry() -> bool:
    """Export what the OTel SDK still holds (nothing to do in an uninstrumented process).

    Benchmark rounds end with it, outside their timed part, as a process exit would: so a
    kept-alive instrumented child exports nothing during the other variant's round.
    """
    from opentelemetry import _logs, trace

    flushed = True
    for provider in (trace.get_tracer_provider(), _logs.get_logger_provider()):
        flush = getattr(provider, "force_flush", None)
        if flush is not None:
            flushed = bool(flush()) and flushed
    return flushed


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def figure_line(
    key: str, figure: dict[str, float], target: float | None = None, unit: str = ""
) -> str:
    """One report line of a component benchmark: a ``spread`` figure, against its target
    (lower is better) when it has one."""
    line = (
        f"  {key}: median {figure['median']:.3g}{unit} "
        f"(min {figure['min']:.3g}, max {figure['max']:.3g}"
    )
    if target is None:
        return line + ")"
    verdict = "ok" if figure["median"] <= target else "OVER TARGET"
    return line + f"; target <= {target}) {verdict}"


def script_main(
    doc: str | None,
    measure: Callable[[argparse.Namespace], dict[str, Any]],
    report: Callable[[dict[str, Any]], str],
    options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """A component benchmark's command line: ``--json`` prints the results as JSON,
    ``--quick`` asks for fewer rounds; ``options`` adds the script's own."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and events")
    if options is not None:
        options(parser)
    args = parser.parse_args()
    results = measure(args)
    print(json.dumps(results, indent=2) if args.json else report(results))


class ServedChild:
    """A benchmark child kept alive across rounds: one JSON request line in, one JSON line out.

    Scenarios alternate rounds between a plain and an instrumented child, each started once
    (its start-up and warm-up are not timed).  The child prints one JSON line when it is ready
    (``wait_ready``), then one per request; EOF on its stdin ends it (``close``).
    """

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.command = command
        # stderr to a file: a pipe nobody reads could fill up and stall the child
        self.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")  # EOF

    def wait_ready(self) -> None:
        """Wait for the child's ``{"ready": true}`` line: its start-up and warm-up are over.

        Start every variant's child, then wait for all of them, so no round runs while
        another variant is still starting or warming up next to it."""
        self._reply()

    def round(self, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._reply()

    def _reply(self) -> dict[str, Any]:
        while True:  # one reply line per request; anything else on stdout is skipped
            try:
                line = self.lines.get(timeout=ROUND_TIMEOUT_SECONDS)
            except queue.Empty:
                line = ""
            if not line:
                self.process.kill()
                self.stderr.seek(0)
                raise RuntimeError(
                    f"benchmark child failed: {self.command}\n{self.stderr.read()[-2000:]}"
                )
            if line.startswith("{"):
                reply: dict[str, Any] = json.loads(line)
                return reply

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.stderr.close()


READY = json.dumps({"ready": True})  # what a served child prints once it is warm


class GcPauses:
    """Collections and the time spent in them, per generation, from ``gc.callbacks``."""

    def __init__(self) -> None:
        import gc

        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info.get("generation", 0)
        self.count[generation] += 1
        self.seconds[generation] += time.perf_counter() - self._started

    def snapshot(self) -> dict[str, float]:
        return {
            "cpu": time.process_time(),
            "gc_count": float(sum(self.count)),
            "gc_full": float(self.count[2]),
            "gc_seconds": sum(self.seconds),
        }


GC = GcPauses()


async def end_of_round(session: Any, reply: str) -> None:
    """A served child's round (or warm-up) ends: both sides of its MCP session (``session``)
    flush their telemetry, then ``reply`` goes to the harness as one line."""
    await session.call_tool("flush_telemetry", {})
    flush_telemetry()
    sys.stdout.write(reply + "\n")
    sys.stdout.flush()


def compile_mcptrace() -> None:
    """Write mcptrace's bytecode, as installing a wheel does.  An editable install from a
    fresh clone has none, and with PYTHONDONTWRITEBYTECODE set no child ever writes it:
    every instrumented run would compile mcptrace from source while the uninstrumented
    run loads its packages' installed bytecode."""
    import compileall

    import mcptrace

    compileall.compile_dir(os.path.dirname(mcptrace.__file__), quiet=1)


def own_peak_rss_kib() -> int:
    """This process's own peak resident set size (KiB): the kernel's ``VmHWM``.

    Not ``ru_maxrss``: Linux carries the parent's peak across (v)fork and exec into it, so
    a server spawned by a client that had grown larger would report the client's peak."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def memory_report(top: int = 30) -> dict[str, Any]:
    """Where this process's memory is: the kernel's figures (``/proc/self/status``,
    ``smaps_rollup``: anonymous against file-backed), the ``top`` mappings by RSS (a C
    extension's code, the heap, thread stacks), thread count, loaded modules per top-level
    package, and the ``top`` allocation sites by file and line when tracemalloc traces."""
    import tracemalloc

    def kib_fields(path: str) -> dict[str, int]:
        fields = {}
        with open(path, encoding="ascii") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if len(parts) == 2 and parts[1] == "kB":
                    fields[key] = int(parts[0])
        return fields

    mappings: dict[str, int] = {}
    name = "?"
    with open("/proc/self/smaps", encoding="ascii", errors="replace") as handle:
        for line in handle:
            head = line.split()
            if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                name = head[5] if len(head) > 5 else "[anonymous]"
            elif head and head[0] == "Rss:":
                mappings[name] = mappings.get(name, 0) + int(head[1])
    packages: dict[str, int] = {}
    for module in list(sys.modules):
        root = module.partition(".")[0]
        packages[root] = packages.get(root, 0) + 1
    report: dict[str, Any] = {
        "status": kib_fields("/proc/self/status"),
        "smaps_rollup": kib_fields("/proc/self/smaps_rollup"),
        "mappings_kib": sorted(mappings.items(), key=lambda item: -item[1])[:top],
        "threads": [thread.name for thread in threading.enumerate()],
        "modules": len(sys.modules),
        "module_names": sorted(sys.modules),
        "packages": sorted(packages.items(), key=lambda item: -item[1])[:top],
    }
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot()
        report["traced_kib"] = tracemalloc.get_traced_memory()[0] // 1024
        report["by_line"] = [
            [str(stat.traceback), stat.size // 1024, stat.count]
            for stat in snapshot.statistics("lineno")[:top]
        ]
        report["by_file"] = [
            [str(stat.traceback), stat.size // 1024, stat.count]
            for stat in snapshot.statistics("filename")[:top]
        ]
    return report
