"""Runtime sensor overhead, as ratios measured in one run.

    python benchmarks/bench_sensor.py [--json] [--quick]

* per event: a rejected hot event (``id()`` → ``builtins.id``) and a recorded event
  (``sys.audit("open", ...)`` inside a span, translated, attributed, counted) against no
  hook, in fresh interpreters (an audit hook cannot be removed), ns added per event;
* a tool doing 20,000 file opens and an echo round trip, driven by a real MCP client over
  stdio: plain (no mcptrace) vs ``mcptrace run`` with the sensor off vs on (one client per
  variant, kept alive across rounds, warmed up until start-up work has settled); the tool is
  timed by the client (round trip) and by its own thread's CPU time (where the audit hook
  runs); the variants take 15 short turns each (3 heavy calls, 60 echo calls), alternating;
* the per-event costs and the file-heavy tool again with the pure-Python hook alone
  (``MCPTRACE_NATIVE_HOOK=false``: what an install without a C compiler runs).

The per-event variants alternate in A/B rounds (at least 5, 3 with --quick), the round trips
in 15 turns; each figure is the median over rounds (turns) with min–max.  Targets: rejection
≤ 0.35 µs/event, file-heavy tool ≤ ×1.20 (sensor vs plain), echo round trip with the sensor
on ≤ ×1.05 (vs the sensor off).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _child import (
    READY,
    WARMUP_SECONDS,
    ServedChild,
    clean_env,
    end_of_round,
    figure_line,
    run_json,
    script_main,
    spread,
)

HERE = Path(__file__).resolve().parent
# The round trips alternate variants in short turns (3 heavy calls, the fastest counting, and
# 60 echo calls each), so the VM's slow drifts hit all variants alike: each figure is the
# median of the turns' ratios.
ALTERNATIONS = 15
TURN_CALLS = 60
SERVER = HERE / "_echo_server.py"

# ------------------------------------------------------------------ per-event (child side)


def _micro(variant: str, events: int) -> dict[str, float]:
    if variant in ("sensor", "python_hook"):
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider

        from mcptrace.export.enrich import EnrichingSpanProcessor, register_enricher
        from mcptrace.sensor.hook import Sensor, install
        from mcptrace.sensor.lifecycle import SensorEnricher

        categories = {"file", "network", "process", "code", "native", "import"}
        sensor = Sensor(categories, native=variant == "sensor")
        register_enricher(SensorEnricher(sensor))
        provider = TracerProvider()
        provider.add_span_processor(EnrichingSpanProcessor([]))
        install(sensor)
        span = provider.get_tracer("bench").start_span("tool")
        token = trace.use_span(span, end_on_exit=False)
        token.__enter__()
    value = object()
    best_id = best_audit = float("inf")
    audit = sys.audit
    for _ in range(5):
        start = time.thread_time_ns()
        for _ in range(events):
            id(value)
        best_id = min(best_id, (time.thread_time_ns() - start) / events)
        start = time.thread_time_ns()
        for _ in range(events):
            audit("open", "/nonexistent/bench", "r", 0)
        best_audit = min(best_audit, (time.thread_time_ns() - start) / events)
    return {"id_ns": best_id, "audit_ns": best_audit}


# ------------------------------------------------------------------ MCP round trips (client)


async def _drive(opens: int, warmup_seconds: float) -> None:
    """Serve requests (``_child.ServedChild``): ``{"echo": N, "heavy": K}`` runs N echo calls
    and the file-heavy tool K times (``opens`` opens each), then flushes both sides' telemetry
    outside the timed part and answers the median echo latency and the fastest heavy call
    (client wall time, and the tool thread's CPU time)."""
    from mcp.client.stdio import stdio_client

    from mcp import ClientSession, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=[str(SERVER)])
    async with stdio_client(params) as streams, ClientSession(streams[0], streams[1]) as session:
        await session.initialize()
        warm_until = time.monotonic() + warmup_seconds  # start-up work settles (roundtrip.py)
        await session.call_tool("open_files", {"count": 100})
        for index in itertools.count():
            if index >= 20 and time.monotonic() >= warm_until:
                break
            await session.call_tool("echo", {"text": "warm"})
        await end_of_round(session, READY)
        while (line := await asyncio.to_thread(sys.stdin.readline)).strip():
            request = json.loads(line)
            echo: list[float] = []
            for index in range(int(request["echo"])):
                start = time.perf_counter()
                await session.call_tool("echo", {"text": f"hello {index}"})
                echo.append(time.perf_counter() - start)
            heavy: list[float] = []
            heavy_cpu: list[float] = []
            for _ in range(int(request["heavy"])):
                start = time.perf_counter()
                result = await session.call_tool("open_files", {"count": opens})
                heavy.append(time.perf_counter() - start)
                heavy_cpu.append(float(result.content[0].text))  # type: ignore[union-attr]
            reply = {
                "echo_s": statistics.median(echo),
                "heavy_s": min(heavy),
                "heavy_cpu_s": min(heavy_cpu),
            }
            await end_of_round(session, json.dumps(reply))


# ------------------------------------------------------------------ orchestration (parent)


def measure(quick: bool) -> dict[str, Any]:
    rounds = 3 if quick else 5
    events = 100_000 if quick else 300_000
    opens = 2_000 if quick else 20_000
    me = str(Path(__file__).resolve())
    rejection: list[float] = []
    recording: list[float] = []
    rejection_python: list[float] = []
    recording_python: list[float] = []
    micro_variants = ["none", "sensor", "python_hook"]
    for index in range(rounds):
        order = micro_variants[index % 3 :] + micro_variants[: index % 3]
        got = {
            variant: run_json(
                [sys.executable, me, "--child-micro", variant, str(events)], clean_env()
            )
            for variant in order
        }
        rejection.append(got["sensor"]["id_ns"] - got["none"]["id_ns"])
        recording.append(got["sensor"]["audit_ns"] - got["none"]["audit_ns"])
        rejection_python.append(got["python_hook"]["id_ns"] - got["none"]["id_ns"])
        recording_python.append(got["python_hook"]["audit_ns"] - got["none"]["audit_ns"])
    alternations, turn_calls = (3, 20) if quick else (ALTERNATIONS, TURN_CALLS)
    heavy_ratio: list[float] = []
    heavy_python: list[float] = []
    heavy_cpu: list[float] = []
    echo_ratio: list[float] = []
    echo_vs_plain: list[float] = []
    with tempfile.TemporaryDirectory() as spool:
        warm = "0" if quick else str(WARMUP_SECONDS)
        drive = [sys.executable, me, "--child-drive", str(opens), warm]
        run = [sys.executable, "-m", "mcptrace.cli", "run", "--spool", spool, "--"]
        variants = {
            "plain": (drive, {}),
            "sensor_off": ([*run, *drive], {"MCPTRACE_SENSOR": "none"}),
            "sensor_on": ([*run, *drive], {}),
            "python_hook": ([*run, *drive], {"MCPTRACE_NATIVE_HOOK": "false"}),
        }
        children = {
            name: ServedChild(command, clean_env(**extra))
            for name, (command, extra) in variants.items()
        }
        try:
            for child in children.values():  # all started: no round runs beside a warm-up
                child.wait_ready()
            names = list(variants)
            for index in range(alternations):  # short turns: drift hits every variant alike
                order = names[index % len(names) :] + names[: index % len(names)]
                got = {name: children[name].round(echo=turn_calls, heavy=3) for name in order}
                heavy_ratio.append(got["sensor_on"]["heavy_s"] / got["plain"]["heavy_s"])
                heavy_cpu.append(got["sensor_on"]["heavy_cpu_s"] / got["plain"]["heavy_cpu_s"])
                heavy_python.append(got["python_hook"]["heavy_s"] / got["plain"]["heavy_s"])
                echo_ratio.append(got["sensor_on"]["echo_s"] / got["sensor_off"]["echo_s"])
                echo_vs_plain.append(got["sensor_on"]["echo_s"] / got["plain"]["echo_s"])
        finally:
            for child in children.values():
                child.close()
    return {
        "python": sys.version.split()[0],
        "rounds": rounds,
        "alternations": alternations,
        "rejected_event_ns_added": spread(rejection),
        "recorded_event_ns_added": spread(recording),
        "file_heavy_tool_ratio_sensor_vs_plain": spread(heavy_ratio),
        "file_heavy_tool_cpu_ratio_sensor_vs_plain": spread(heavy_cpu),
        "rejected_event_ns_added_python_hook": spread(rejection_python),
        "recorded_event_ns_added_python_hook": spread(recording_python),
        "file_heavy_tool_ratio_python_hook_vs_plain": spread(heavy_python),
        "echo_round_trip_ratio_sensor_on_vs_off": spread(echo_ratio),
        "echo_round_trip_ratio_sensor_on_vs_plain": spread(echo_vs_plain),
        "targets": {
            "rejected_event_ns_added": 350,
            "file_heavy_tool_ratio_sensor_vs_plain": 1.20,
            "echo_round_trip_ratio_sensor_on_vs_off": 1.05,
        },
    }


def _report(results: dict[str, Any]) -> str:
    lines = [f"sensor benchmark, Python {results['python']}, {results['rounds']} A/B rounds"]
    for key, target in results["targets"].items():
        unit = " ns" if key.endswith("_ns_added") else "x"
        lines.append(figure_line(key, results[key], target, unit))
    for key in (
        "recorded_event_ns_added",
        "file_heavy_tool_cpu_ratio_sensor_vs_plain",
        "echo_round_trip_ratio_sensor_on_vs_plain",
        "rejected_event_ns_added_python_hook",
        "recorded_event_ns_added_python_hook",
        "file_heavy_tool_ratio_python_hook_vs_plain",
    ):
        lines.append(figure_line(key, results[key]))
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-micro":
        print(json.dumps(_micro(sys.argv[2], int(sys.argv[3]))))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child-drive":
        asyncio.run(_drive(int(sys.argv[2]), float(sys.argv[3])))
        return
    script_main(__doc__, lambda args: measure(args.quick), _report)


if __name__ == "__main__":
    main()
