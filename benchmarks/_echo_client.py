"""Benchmark client: one session, warm-up, then timed tools/call round trips.

    python _echo_client.py --transport stdio|http --calls N [--tool echo|open_files|...]
                           [--concurrency K]

Prints one JSON object: per-call latencies summary (seconds).
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


async def run(  # type: ignore[type-arg]
    transport: str, calls: int, warmup: int, tool: str, argument: dict, concurrency: int = 1
) -> dict:
    server_process = None
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
        for _ in range(warmup):
            await session.call_tool(tool, argument)
        warm = await session.call_tool("peak_rss_kib", {})
        warm_rss_kib = int(warm.content[0].text)  # type: ignore[union-attr]
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
        total = time.perf_counter() - started
        rss = await session.call_tool("peak_rss_kib", {})
        peak_rss_kib = int(rss.content[0].text)  # type: ignore[union-attr]
    if server_process is not None:
        server_process.terminate()
        server_process.wait(timeout=10)
    latencies.sort()
    return {
        "total": total,
        "median": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "server_peak_rss_kib": peak_rss_kib,
        "server_rss_growth_kib": peak_rss_kib - warm_rss_kib,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--tool", default="echo")
    parser.add_argument("--argument", default='{"text": "hello"}')
    parser.add_argument("--concurrency", type=int, default=1, help="calls kept in flight")
    args = parser.parse_args()
    result = asyncio.run(
        run(
            args.transport,
            args.calls,
            args.warmup,
            args.tool,
            json.loads(args.argument),
            args.concurrency,
        )
    )
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
