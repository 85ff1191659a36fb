"""Benchmark client, kept alive by the harness: one session, a warm-up, then timed rounds.

    python _echo_client.py --transport stdio|http --calls N [--tool echo|open_files|...]
                           [--warmup N] [--warmup-seconds S]

After its warm-up it prints ``{"ready": true}``, then runs one round per line read from
stdin (a JSON object, e.g. ``{"calls": 1000, "concurrency": 8}``, optionally with another
``"tool"`` or ``"argument"``; ``{}`` means ``--calls`` calls, one in flight) and answers each
with one JSON line: the round's latencies (seconds) and the server's peak RSS; EOF ends it.
The harness (``_child.ServedChild``) keeps one plain and one instrumented client alive and
alternates rounds between them, so a scenario pays two start-ups instead of two per round.
``--warmup-seconds`` makes the warm-up last long enough for an instrumented process's
start-up work (the module inventory) to finish: rounds measure the steady state, start-up has
its own scenarios.  The warm-up and each round end with both sides flushing their telemetry
(outside the timed part, as a process exit would), so nothing left over from one variant
runs during the other's round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from contextlib import AsyncExitStack

from mcp.client.stdio import stdio_client

from _child import GC, READY, end_of_round, take_bare_sdk_flag
from mcp import ClientSession, StdioServerParameters

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "_echo_server.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def summary(latencies: list[float], total: float) -> dict[str, float]:
    latencies.sort()
    return {
        "total": total,
        "median": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


async def server_stats(session: ClientSession) -> dict[str, float]:
    result = await session.call_tool("process_stats", {})
    return dict(json.loads(result.content[0].text))  # type: ignore[union-attr]


def per_call(before: dict[str, float], after: dict[str, float], calls: int) -> dict[str, float]:
    """CPU microseconds per call, collections and GC pause per 1,000 calls, of one process."""
    return {
        "cpu_us_per_call": 1e6 * (after["cpu"] - before["cpu"]) / calls,
        "gc_per_1000": 1000 * (after["gc_count"] - before["gc_count"]) / calls,
        "gc_full_per_1000": 1000 * (after["gc_full"] - before["gc_full"]) / calls,
        "gc_ms_per_1000": 1e6 * (after["gc_seconds"] - before["gc_seconds"]) / calls,
    }


async def rss_kib(session: ClientSession) -> int:
    result = await session.call_tool("peak_rss_kib", {})
    return int(result.content[0].text)  # type: ignore[union-attr]


async def timed_calls(  # type: ignore[type-arg]
    session: ClientSession, tool: str, argument: dict, calls: int, concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    remaining = calls

    async def worker() -> None:  # `concurrency` of these keep that many calls in flight
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            call_started = time.perf_counter()
            await session.call_tool(tool, argument)
            latencies.append(time.perf_counter() - call_started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return summary(latencies, time.perf_counter() - started)


async def run(  # type: ignore[type-arg]
    transport: str,
    calls: int,
    warmup: int,
    tool: str,
    argument: dict,
    warmup_seconds: float,
    server_flags: list[str],
) -> None:
    server_process = None
    async with AsyncExitStack() as stack:
        if transport == "stdio":
            params = StdioServerParameters(command=sys.executable, args=[SERVER, *server_flags])
            streams = await stack.enter_async_context(stdio_client(params))
        else:
            from mcp.client.streamable_http import streamable_http_client

            port = free_port()
            server_process = subprocess.Popen(
                [sys.executable, SERVER, "http", str(port), *server_flags],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wait_for_port(port)
            streams = await stack.enter_async_context(
                streamable_http_client(f"http://127.0.0.1:{port}/mcp")
            )
        session = await stack.enter_async_context(ClientSession(streams[0], streams[1]))
        await session.initialize()
        warm_until = time.monotonic() + warmup_seconds
        served = 0
        while served < warmup or time.monotonic() < warm_until:
            await session.call_tool(tool, argument)
            served += 1
        await end_of_round(session, READY)  # what the warm-up left to export is not round 1's
        warm_rss_kib = await rss_kib(session)
        while (line := await asyncio.to_thread(sys.stdin.readline)).strip():
            request = json.loads(line)
            count = int(request.get("calls", calls))
            server_before, client_before = await server_stats(session), GC.snapshot()
            result = await timed_calls(  # a round may call another tool or argument
                session,
                request.get("tool", tool),
                request.get("argument", argument),
                count,
                int(request.get("concurrency", 1)),
            )
            client_after, server_after = GC.snapshot(), await server_stats(session)
            for side, (before, after) in (
                ("client", (client_before, client_after)),
                ("server", (server_before, server_after)),
            ):
                for key, value in per_call(before, after, count).items():
                    result[f"{side}_{key}"] = value
            served += count
            result["served"] = served  # calls of the benchmarked tool, warm-up included
            peak_rss_kib = await rss_kib(session)
            result["server_peak_rss_kib"] = peak_rss_kib
            result["server_rss_growth_kib"] = peak_rss_kib - warm_rss_kib
            await end_of_round(session, json.dumps(result))
    if server_process is not None:
        server_process.terminate()
        server_process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--calls", type=int, default=1000, help="calls per round by default")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--tool", default="echo")
    parser.add_argument("--argument", default='{"text": "hello"}')
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        default=0.0,
        help="keep warming up this long (instrumented: until start-up's module walks settle)",
    )
    bare_sdk = take_bare_sdk_flag(sys.argv, "bench-client")
    args = parser.parse_args()
    asyncio.run(
        run(
            args.transport,
            args.calls,
            args.warmup,
            args.tool,
            json.loads(args.argument),
            args.warmup_seconds,
            [bare_sdk] if bare_sdk else [],  # the server runs the same floor
        )
    )


if __name__ == "__main__":
    main()
