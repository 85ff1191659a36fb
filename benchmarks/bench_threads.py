"""What carrying the OTel context into threads costs the MCP echo round trip.

    python benchmarks/bench_threads.py [--json] [--quick]

The context is handed over only where work changes threads (``Thread.start``,
``ThreadPoolExecutor.submit``, ``_thread.start_new_thread``: ``mcptrace.threads``), so its
cost to a round trip is (hand-overs per call) × (cost of one hand-over).  Both are measured
directly, because a 1 % difference is far below what an A/B of round trips can resolve on a
shared 2-CPU VM (their ratios swing by ±10-20 % from round to round):

* hand-overs per echo call: a real client and server, both under ``mcptrace run``, over
  stdio and over streamable HTTP; each process counts the calls that reach the patched
  functions (a counting wrapper around them) over the timed calls, after a warm-up;
* cost of one hand-over: ``ThreadPoolExecutor.submit(...).result()`` and a thread
  ``start()``/``join()`` with the instrumentor on vs off, in fresh interpreters, alternating,
  ns added per hand-over (thread CPU time, the minimum of 5 repeats);
* the share of the echo round trip: hand-overs per call × ns added / the median echo latency.

Target: ≤ 1 % of the echo round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _child import clean_env, run_json, spread  # noqa: E402

HANDOFFS: Counter[str] = Counter()


def count_handoffs() -> None:
    """Wrap whatever the thread starters are now (mcptrace's, under ``mcptrace run``)."""
    import _thread
    from concurrent import futures

    start, submit = threading.Thread.start, futures.ThreadPoolExecutor.submit
    low_level = _thread.start_new_thread

    def counted_start(self: threading.Thread) -> None:
        HANDOFFS["thread_start"] += 1
        start(self)

    def counted_submit(self: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        HANDOFFS["pool_submit"] += 1
        return submit(self, fn, *args, **kwargs)

    def counted_low_level(function: Any, *args: Any, **kwargs: Any) -> Any:
        HANDOFFS["start_new_thread"] += 1
        return low_level(function, *args, **kwargs)

    threading.Thread.start = counted_start  # type: ignore[method-assign]
    futures.ThreadPoolExecutor.submit = counted_submit  # type: ignore[method-assign]
    _thread.start_new_thread = counted_low_level


# ------------------------------------------------------------------ children


def serve(transport: str, port: int) -> None:
    """The benchmark echo server, counting hand-overs; a ``thread_handoffs`` tool reports."""
    count_handoffs()
    sys.path.insert(0, str(HERE.parent / "examples"))
    import _echo_server
    from _compat import run_server

    @_echo_server.server.tool()
    def thread_handoffs() -> str:
        return json.dumps(dict(HANDOFFS))

    run_server(_echo_server.server, ["server", transport, str(port)])


async def drive(transport: str, calls: int) -> dict[str, Any]:
    from contextlib import AsyncExitStack

    from mcp import ClientSession, StdioServerParameters

    count_handoffs()
    me = str(Path(__file__).resolve())
    async with AsyncExitStack() as stack:
        if transport == "stdio":
            from mcp.client.stdio import stdio_client

            params = StdioServerParameters(command=sys.executable, args=[me, "--serve", "stdio"])
            read, write = await stack.enter_async_context(stdio_client(params))
        else:
            from mcp.client.streamable_http import streamable_http_client

            from _echo_client import free_port, wait_for_port

            port = free_port()
            server = subprocess.Popen([sys.executable, me, "--serve", "http", str(port)])
            stack.callback(server.wait, 30)
            stack.callback(server.terminate)
            wait_for_port(port)
            streams = await stack.enter_async_context(
                streamable_http_client(f"http://127.0.0.1:{port}/mcp")
            )
            read, write = streams[0], streams[1]
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        for index in range(50):  # warm-up: connections, lazy imports, the first spans
            await session.call_tool("echo", {"text": f"warm {index}"})

        async def server_handoffs() -> Counter[str]:
            result = await session.call_tool("thread_handoffs", {})
            return Counter(json.loads(result.content[0].text))  # type: ignore[union-attr]

        client_before, server_before = Counter(HANDOFFS), await server_handoffs()
        latencies = []
        for index in range(calls):
            started = time.perf_counter()
            await session.call_tool("echo", {"text": f"hello {index}"})
            latencies.append(time.perf_counter() - started)
        client_after = Counter(HANDOFFS)
        # the reporting call itself is one more call through the server: subtract nothing,
        # count it as one of the calls (an upper bound)
        server_after = await server_handoffs()
    client = sum((client_after - client_before).values())
    server_side = sum((server_after - server_before).values())
    return {
        "calls": calls,
        # hand-overs before the timed calls (start-up, warm-up): the counters do count
        "warmup_handoffs": sum(client_before.values()) + sum(server_before.values()),
        "client_handoffs": client,
        "server_handoffs": server_side,
        "handoffs_per_call": (client + server_side) / calls,
        "echo_s": statistics.median(latencies),
    }


def micro(instrumented: bool, operations: int) -> dict[str, float]:
    from concurrent.futures import ThreadPoolExecutor

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    if instrumented:
        from mcptrace.threads import ThreadContextInstrumentor

        ThreadContextInstrumentor().instrument()
    span = TracerProvider().get_tracer("bench").start_span("tool")
    with trace.use_span(span, end_on_exit=True), ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(int).result()  # the worker exists before timing
        best_submit = best_thread = float("inf")
        for _ in range(5):
            started = time.thread_time_ns()
            for _ in range(operations):
                pool.submit(int).result()
            best_submit = min(best_submit, (time.thread_time_ns() - started) / operations)
            started = time.thread_time_ns()
            for _ in range(operations // 10):
                worker = threading.Thread(target=int)
                worker.start()
                worker.join()
            best_thread = min(best_thread, (time.thread_time_ns() - started) / (operations // 10))
    return {"submit_ns": best_submit, "thread_ns": best_thread}


# ------------------------------------------------------------------ orchestration


def measure(quick: bool) -> dict[str, Any]:
    rounds = 3 if quick else 7
    operations = 2_000 if quick else 20_000
    calls = 200 if quick else 1_000
    me = str(Path(__file__).resolve())
    submit_added: list[float] = []
    thread_added: list[float] = []
    for index in range(rounds):
        order = [True, False] if index % 2 == 0 else [False, True]
        got = {
            on: run_json(
                [sys.executable, me, "--micro", "on" if on else "off", str(operations)],
                clean_env(),
            )
            for on in order
        }
        submit_added.append(got[True]["submit_ns"] - got[False]["submit_ns"])
        thread_added.append(got[True]["thread_ns"] - got[False]["thread_ns"])
    trips: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as spool:
        for transport in ("stdio", "http"):
            command = [sys.executable, "-m", "mcptrace.cli", "run", "--spool", spool, "--"]
            command += [sys.executable, me, "--drive", transport, str(calls)]
            trips[transport] = run_json(command, clean_env(PYTHONPATH=str(HERE)))
    per_handoff_ns = max(statistics.median(submit_added), statistics.median(thread_added), 0.0)
    shares = {
        transport: trip["handoffs_per_call"] * per_handoff_ns / (trip["echo_s"] * 1e9)
        for transport, trip in trips.items()
    }
    return {
        "python": sys.version.split()[0],
        "rounds": rounds,
        "submit_ns_added": spread(submit_added),
        "thread_start_ns_added": spread(thread_added),
        "round_trips": trips,
        "echo_round_trip_share": shares,
        "target_share": 0.01,
    }


def report(results: dict[str, Any]) -> str:
    lines = [f"threads benchmark, Python {results['python']}, {results['rounds']} A/B rounds"]
    for key in ("submit_ns_added", "thread_start_ns_added"):
        figure = results[key]
        lines.append(
            f"  {key}: median {figure['median']:.0f} ns "
            f"(min {figure['min']:.0f}, max {figure['max']:.0f})"
        )
    for transport, trip in results["round_trips"].items():
        share = results["echo_round_trip_share"][transport]
        verdict = "ok" if share <= results["target_share"] else "OVER TARGET"
        lines.append(
            f"  echo over {transport}: {trip['client_handoffs']} client + "
            f"{trip['server_handoffs']} server hand-overs in {trip['calls']} calls "
            f"({trip['warmup_handoffs']} during start-up and warm-up), "
            f"median {trip['echo_s'] * 1e3:.2f} ms; share of the round trip {share:.4%} "
            f"(target <= 1%) {verdict}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--micro", nargs=2, metavar=("ON_OFF", "OPERATIONS"))
    parser.add_argument("--drive", nargs=2, metavar=("TRANSPORT", "CALLS"))
    parser.add_argument("--serve", nargs="+", metavar="TRANSPORT [PORT]")
    args = parser.parse_args()
    if args.micro:
        print(json.dumps(micro(args.micro[0] == "on", int(args.micro[1]))))
        return
    if args.drive:
        print(json.dumps(asyncio.run(drive(args.drive[0], int(args.drive[1])))))
        return
    if args.serve:
        serve(args.serve[0], int(args.serve[1]) if len(args.serve) > 1 else 0)
        return
    results = measure(args.quick)
    print(json.dumps(results, indent=2) if args.json else report(results))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
