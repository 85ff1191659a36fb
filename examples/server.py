"""A plain MCP server: tools, a resource, a resource template and a prompt.

    python examples/server.py              # stdio
    python examples/server.py http 8765    # streamable HTTP on 127.0.0.1:8765/mcp

Run it under mcptrace with no code change: ``mcptrace run -- python examples/server.py``.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _compat import Context, FastMCP, run_server

server = FastMCP("mcptrace-example")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def word_count(path: str) -> int:
    """Count the words in a text file."""
    with open(path, encoding="utf-8") as handle:
        return len(handle.read().split())


@server.tool()
def fail(message: str = "something went wrong") -> str:
    """Always raises, to show an error on the trace."""
    raise RuntimeError(message)


@server.tool()
async def countdown(ctx: Context, steps: int = 3) -> str:
    """Report progress while counting down."""
    for step in range(steps):
        await ctx.report_progress(step + 1, steps, f"step {step + 1}")
    return "liftoff"


@server.resource("example://greeting")
def greeting() -> str:
    """A static resource."""
    return "hello from mcptrace"


@server.resource("example://item/{item_id}")
def item(item_id: str) -> str:
    """A resource template."""
    return json.dumps({"id": item_id})


@server.prompt()
def summarize(text: str) -> str:
    """Ask for a summary."""
    return f"Summarize in one sentence: {text}"


if __name__ == "__main__":
    run_server(server, sys.argv)
