"""MCP server driven by the tests (mcp 1.x and 2.x): every message kind the tests assert on.

python peer_server.py              # stdio
python peer_server.py http PORT    # streamable HTTP on 127.0.0.1:PORT/mcp
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from opentelemetry import baggage, trace

from _compat import Context, FastMCP, run_server
from mcp import types

server = FastMCP(
    os.environ.get("PEER_SERVER_NAME", "peer-server"), instructions="Test server for mcptrace."
)


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def boom() -> str:
    """Raise inside the tool."""
    raise RuntimeError("kaboom")


@server.tool()
def soft_error() -> types.CallToolResult:
    """Return a result flagged isError."""
    return types.CallToolResult(
        content=[types.TextContent(type="text", text="soft failure")], isError=True
    )


@server.tool()
def login(username: str, password: str, api_key: str) -> str:
    """Takes secrets (capture/redaction tests)."""
    return json.dumps({"user": username, "token": "Bearer abcdefghijklmnopqrstuvwxyz012345"})


@server.tool()
def whoami() -> str:
    """The span and baggage the handler runs under."""
    context = trace.get_current_span().get_span_context()
    return json.dumps(
        {
            "trace_id": f"{context.trace_id:032x}",
            "span_id": f"{context.span_id:016x}",
            "baggage": dict(baggage.get_all()),
        }
    )


@server.tool()
async def ask_roots(ctx: Context) -> str:
    """Send roots/list to the client (a server -> client request)."""
    result = await ctx.session.list_roots()
    return ",".join(str(root.uri) for root in result.roots)


@server.tool()
async def countdown(ctx: Context, steps: int = 2) -> str:
    """Report progress (server -> client notifications)."""
    for step in range(steps):
        await ctx.report_progress(step + 1, steps, f"step {step + 1}")
    return "liftoff"


@server.resource("test://greeting")
def greeting() -> str:
    """A static resource."""
    return "hello"


@server.resource("test://item/{item_id}")
def item(item_id: str) -> str:
    """A resource template."""
    return item_id


@server.prompt()
def summarize(text: str) -> str:
    """Ask for a summary."""
    return f"Summarize: {text}"


if __name__ == "__main__":
    run_server(server, sys.argv)
