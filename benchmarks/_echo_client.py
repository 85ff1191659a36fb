"""Benchmark client: one session, warm-up, then timed tools/call round trips.

    python _echo_client.py --transport stdio|http --calls N [--tool echo|open_files|...]
                           [--concurrency K] [--serve]

Prints one JSON object: per-call latencies summary (seconds), the server's peak RSS.

With ``--serve`` the process stays up after its warm-up and runs one round per line read
from stdin (a JSON object, e.g. ``{"calls": 1000, "concurrency": 1}``, or ``{}`` for the
command-line values), answering each with one JSON line; EOF ends it.  The harness keeps one
plain and one instrumented client alive and alternates rounds between them, so a scenario
pays two start-ups instead of two per round.  ``--warmup-seconds`` makes the warm-up last
long enough for an instrumented process's start-up work (the module inventory) to finish:
rounds measure the steady state, start-up has its own scenarios.  The warm-up and each round
end with both sides flushing their telemetry (outside the timed part, as a process exit
would), so nothing left over from one variant runs during the other's round.
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

from _child import READY, flush_telemetry
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
    concurrency: int = 1,
    serve: bool = False,
    warmup_seconds: float = 0.0,
) -> dict:
    server_process = None
    result: dict[str, float] = {}
    async with AsyncExitStack() as stack:
        if transport == "stdio":
            params = StdioServerParameters(command=sys.executable, args=[SERVER])
            streams = await stack.enter_async_context(stdio_client(params))
        else:
            from mcp.client.streamable_http import streamable_http_client

            port = free_port()
            server_process = subprocess.Popen(
                [sys.executable, SERVER, "http", str(port)],
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
        done = 0
        while done < warmup or time.monotonic() < warm_until:
            await session.call_tool(tool, argument)
            done += 1
        if serve:  # what the warm-up left to export is not the first round's
            await session.call_tool("flush_telemetry", {})
            flush_telemetry()
            sys.stdout.write(READY + "\n")
            sys.stdout.flush()
        warm_rss_kib = await rss_kib(session)
        while True:
            if serve:
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line.strip():
                    break
                request = json.loads(line)
                calls = int(request.get("calls", calls))
                concurrency = int(request.get("concurrency", concurrency))
            result = await timed_calls(session, tool, argument, calls, concurrency)
            done += calls
            result["served"] = done  # tool calls so far, warm-up included
            peak_rss_kib = await rss_kib(session)
            result["server_peak_rss_kib"] = peak_rss_kib
            result["server_rss_growth_kib"] = peak_rss_kib - warm_rss_kib
            if not serve:
                break
            await session.call_tool("flush_telemetry", {})
            flush_telemetry()
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()
    if server_process is not None:
        server_process.terminate()
        server_process.wait(timeout=10)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--tool", default="echo")
    parser.add_argument("--argument", default='{"text": "hello"}')
    parser.add_argument("--concurrency", type=int, default=1, help="calls kept in flight")
    parser.add_argument("--serve", action="store_true", help="one round per stdin line")
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        default=0.0,
        help="keep warming up this long (instrumented: until start-up's module walks settle)",
    )
    args = parser.parse_args()
    result = asyncio.run(
        run(
            args.transport,
            args.calls,
            args.warmup,
            args.tool,
            json.loads(args.argument),
            args.concurrency,
            args.serve,
            args.warmup_seconds,
        )
    )
    if not args.serve:
        sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
