"""The child of ``callgrind_echo.py``: an echo client (``client``) and its stdio server
(``server``), each marking the counted window with callgrind client requests.

    python _callgrind_echo.py client --warmup N --calls N [--idle S] [--bare-sdk-noop]

The client starts this script's server over stdio, warms up, idles ``--idle`` seconds (an
instrumented process's start-up work settles), then: the server zeroes its counters (a
tool call), the client zeroes its own, ``--calls`` echo calls, the client dumps its counters,
the server dumps its own (a tool call). Each side's dump is labelled ``client-window`` or
``server-window``. The shim (``BENCH_CALLGRIND_SHIM``, built by ``callgrind_echo.py``)
issues the requests; outside valgrind they do nothing. With ``BENCH_PROFILE_DIR`` instead,
the same window is profiled by ``cProfile`` (the main thread's Python calls, exact counts).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import os
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class _Profile:
    """The same window under ``cProfile`` (``BENCH_PROFILE_DIR``): the thread's Python calls,
    written as ``LABEL.prof`` (pstats) there."""

    def __init__(self, directory: str) -> None:
        import cProfile
        import time

        self.directory = directory  # the thread's CPU time: steadier than the wall clock
        self.profile = cProfile.Profile(time.thread_time_ns, 1e-9)

    def cg_zero(self) -> None:
        self.profile.enable()

    def cg_dump(self, label: bytes) -> None:
        self.profile.disable()
        self.profile.dump_stats(os.path.join(self.directory, label.decode() + ".prof"))


def shim(where: str) -> Any:
    """``where``: the shim library, or ``profile:DIR``."""
    if where.startswith("profile:"):
        return _Profile(where[len("profile:") :])
    library = ctypes.CDLL(where)
    library.cg_dump.argtypes = [ctypes.c_char_p]
    return library


def serve(argv: list[str]) -> None:
    import _child
    import _echo_server

    controls = shim(argv.pop(1))  # (mcp starts a stdio server with a default environment)

    @_echo_server.server.tool()
    async def callgrind_zero() -> bool:  # on the event loop (cProfile: its thread)
        controls.cg_zero()
        return True

    @_echo_server.server.tool()
    async def callgrind_dump() -> bool:
        controls.cg_dump(b"server-window")
        return True

    _child.take_bare_sdk_flag(argv, "bench-server")
    _echo_server.run_server(_echo_server.server, ["server"])


async def client(args: argparse.Namespace, server_flags: list[str]) -> None:
    from mcp.client.stdio import stdio_client

    from mcp import ClientSession, StdioServerParameters

    where = os.environ.get("BENCH_CALLGRIND_SHIM") or "profile:" + os.environ["BENCH_PROFILE_DIR"]
    controls = shim(where)
    params = StdioServerParameters(
        command=sys.executable,
        args=[os.path.abspath(__file__), "server", where, *server_flags],
    )
    async with stdio_client(params) as streams, ClientSession(*streams) as session:
        await session.initialize()
        for _ in range(args.warmup):
            await session.call_tool("echo", {"text": "hello"})
        await asyncio.sleep(args.idle)
        await session.call_tool("callgrind_zero", {})
        controls.cg_zero()
        for _ in range(args.calls):
            await session.call_tool("echo", {"text": "hello"})
        controls.cg_dump(b"client-window")
        await session.call_tool("callgrind_dump", {})


def main() -> None:
    if sys.argv[1:2] == ["server"]:
        serve(sys.argv[1:])
        return
    import _child

    argv = sys.argv[2:]
    bare = _child.take_bare_sdk_flag(argv, "bench-client")
    parser = argparse.ArgumentParser()
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--idle", type=float, default=0.0)
    args = parser.parse_args(argv)
    asyncio.run(client(args, [bare] if bare else []))


if __name__ == "__main__":
    main()
