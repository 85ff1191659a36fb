"""The client/server pair over streamable HTTP, in one command.

    mcptrace run -- python examples/http_client.py

Starts ``examples/server.py http PORT`` on a free 127.0.0.1 port as a child process (under
``mcptrace run`` it is instrumented too), waits until it accepts connections, runs the same
session as ``examples/client.py --http``, then stops the server.  Client and server spans
share one trace per request and carry ``network.transport=tcp``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import AsyncExitStack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client import HERE, connect, exercise


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_listening(server: subprocess.Popen[bytes], port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited with {server.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server did not listen on 127.0.0.1:{port} within {timeout:.0f}s")


async def run_session(url: str, calls: int) -> None:
    async with AsyncExitStack() as stack:
        session = await connect(stack, "", url)
        await exercise(session, calls)


def main() -> None:
    port = free_port()
    command = [sys.executable, os.path.join(HERE, "server.py"), "http", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_listening(server, port)
        asyncio.run(run_session(f"http://127.0.0.1:{port}/mcp", calls=3))
    finally:
        server.send_signal(signal.SIGINT)  # graceful: the server flushes its telemetry
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
