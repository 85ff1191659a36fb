"""A client application over streamable HTTP, with a request of its own to the same host.

    python http_transport_client.py PORT

Starts hidden_actions_server.py on 127.0.0.1:PORT (instrumented too under ``mcptrace run``),
calls ``echo`` three times and ``http_get`` with the server's own URL (the tool's own request
to the host the transport talks to), then makes one request of its own to that host, inside
a span of its own.  Prints the results as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from opentelemetry import trace

from mcp import ClientSession

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples"))
from _compat import tool_is_error  # noqa: E402

try:  # mcp 2.x
    from mcp.client.streamable_http import streamable_http_client as http_client
except ImportError:  # mcp 1.x
    from mcp.client.streamable_http import streamablehttp_client as http_client  # type: ignore


def wait_for(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server did not listen on {port}")


async def session_calls(url: str) -> list[dict[str, object]]:
    results = []
    async with http_client(url) as streams, ClientSession(streams[0], streams[1]) as session:
        await session.initialize()
        calls = [("echo", {"text": f"hi {index}"}) for index in range(3)]
        calls.append(("http_get", {"url": url}))  # the server's own endpoint: GET → an error
        for name, arguments in calls:
            result = await session.call_tool(name, arguments)
            results.append({"tool": name, "error": tool_is_error(result)})
    return results


def main(port: int) -> None:
    code = (
        "import runpy, sys; sys.argv = ['server']; "
        f"import hidden_actions_server as s, _compat; _compat.run_server(s.server, "
        f"['server', 'http', '{port}'])"
    )
    server = subprocess.Popen([sys.executable, "-c", code], cwd=HERE, stdout=subprocess.DEVNULL)
    try:
        wait_for(port)
        url = f"http://127.0.0.1:{port}/mcp"
        results = asyncio.run(session_calls(url))
        # the application's own request to the same host, in a span of its own
        with trace.get_tracer("app").start_as_current_span("app-own-work"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/app-own-request", timeout=10)
            except urllib.error.HTTPError:
                pass
    finally:
        server.terminate()
        server.wait(30)
    print(json.dumps(results))


if __name__ == "__main__":
    main(int(sys.argv[1]))
