"""Benchmark server: an echo tool and a file-heavy tool (stdio, or HTTP on 127.0.0.1)."""

from __future__ import annotations

import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import _child
from _compat import FastMCP, run_server

server = FastMCP("bench")


@server.tool()
def echo(text: str) -> str:
    return text


@server.tool()
def open_files(count: int) -> float:
    """Open and close /dev/null ``count`` times; returns the CPU seconds this thread spent.

    The audit hook runs in the thread that opens, so that figure is the sensor's cost to the
    tool without the noise other processes on a shared machine add to wall time."""
    started = time.thread_time()
    for _ in range(count):
        with open(os.devnull, "rb"):
            pass
    return time.thread_time() - started


@server.tool()
def connect_loopback(count: int) -> int:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        for _ in range(count):
            with socket.create_connection(("127.0.0.1", port)):
                listener.accept()[0].close()
    return count


@server.tool()
def flush_telemetry() -> bool:
    """The end of a benchmark round: export what the OTel SDK holds (plain: nothing)."""
    return _child.flush_telemetry()


@server.tool()
def process_stats() -> str:
    """This process's CPU seconds so far and its garbage collections (JSON)."""
    import json

    return json.dumps(_child.GC.snapshot())


@server.tool()
def peak_rss_kib() -> int:
    """The server's own peak resident set size so far (KiB on Linux)."""
    return _child.own_peak_rss_kib()


@server.tool()
def memory_report(top: int = 30, trim: bool = False) -> str:
    """Where this process's memory is (JSON): /proc status and smaps_rollup figures, the
    largest mappings by RSS, threads, loaded modules per top-level package, and, when
    tracemalloc traces (``-X tracemalloc``), the largest allocation sites by file and line."""
    import json

    if trim:  # what glibc's arenas hold free, given back first
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    return json.dumps(_child.memory_report(top))


if __name__ == "__main__":
    _child.take_bare_sdk_flag(sys.argv, "bench-server")
    run_server(server, sys.argv)
