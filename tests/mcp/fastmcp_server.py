"""fastmcp (standalone package) server for the fastmcp tests: stdio or ``http PORT``."""

from __future__ import annotations

import json
import sys

from fastmcp import FastMCP
from opentelemetry import baggage, trace

server = FastMCP("fastmcp-peer", instructions="fastmcp test server")


@server.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool
def boom() -> str:
    """Raise inside the tool."""
    raise ValueError("kaboom")


@server.tool
def whoami() -> str:
    """The span and baggage the handler runs under."""
    context = trace.get_current_span().get_span_context()
    return json.dumps({"span_id": f"{context.span_id:016x}", "baggage": dict(baggage.get_all())})


@server.tool
def unlock() -> str:
    """Register the ``secret`` tool on the running server."""

    def secret() -> str:
        """Added after the server started."""
        return "s3cret"

    server.tool(secret)
    return "unlocked"


@server.resource("fm://greeting")
def greeting() -> str:
    """A static resource."""
    return "hello"


@server.resource("fm://item/{item_id}")
def item(item_id: str) -> str:
    """A resource template."""
    return item_id


@server.prompt
def summarize(text: str) -> str:
    """Ask for a summary."""
    return f"Summarize: {text}"


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        server.run("http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
