"""An MCP client that starts examples/server.py over stdio (or connects over HTTP) and
exercises it: list, call (ok, error, unknown tool), read a resource, get a prompt, ping.

    python examples/client.py                          # spawns server.py over stdio
    python examples/client.py --http http://127.0.0.1:8765/mcp
    python examples/client.py --calls 100              # more echo calls

The server is started with plain ``StdioServerParameters`` (no env): under
``mcptrace run`` it is instrumented all the same, and its spans join the client's trace.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from contextlib import AsyncExitStack
from typing import Any

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _compat import McpError, tool_is_error

HERE = os.path.dirname(os.path.abspath(__file__))


def text_of(result: Any) -> str:
    return " ".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def connect(stack: AsyncExitStack, server: str, http: str | None) -> ClientSession:
    if http:
        from mcp.client.streamable_http import streamable_http_client

        streams = await stack.enter_async_context(streamable_http_client(http))
    else:
        params = StdioServerParameters(command=sys.executable, args=[server])
        streams = await stack.enter_async_context(stdio_client(params))
    session = await stack.enter_async_context(ClientSession(streams[0], streams[1]))
    await session.initialize()
    return session


async def exercise(session: ClientSession, calls: int) -> None:
    tools = await session.list_tools()
    print("tools:", ", ".join(tool.name for tool in tools.tools))
    for index in range(calls):
        await session.call_tool("echo", {"text": f"hello {index}"})
    print("add(2, 3) =", text_of(await session.call_tool("add", {"a": 2, "b": 3})))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("the quick brown fox")
    try:
        result = await session.call_tool("word_count", {"path": handle.name})
        print("word_count =", text_of(result))
    finally:
        os.unlink(handle.name)
    failed = await session.call_tool("fail", {"message": "on purpose"})
    print("fail -> isError:", tool_is_error(failed))
    unknown = await session.call_tool("no_such_tool", {})
    print("no_such_tool -> isError:", tool_is_error(unknown))
    progress = await session.call_tool("countdown", {"steps": 2})
    print("countdown =", text_of(progress))
    resource = await session.read_resource("example://greeting")  # type: ignore[arg-type]
    print("greeting =", resource.contents[0].text)  # type: ignore[union-attr]
    try:
        await session.read_resource("example://missing")  # type: ignore[arg-type]
    except McpError as exc:
        print("missing resource -> error", exc.error.code)
    prompt = await session.get_prompt("summarize", {"text": "mcptrace"})
    print("prompt =", prompt.messages[0].content.text)  # type: ignore[union-attr]
    await session.send_ping()
    print("ping ok")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=os.path.join(HERE, "server.py"))
    parser.add_argument("--http", metavar="URL", help="streamable HTTP endpoint instead of stdio")
    parser.add_argument("--calls", type=int, default=3, help="number of echo calls")
    args = parser.parse_args()
    async with AsyncExitStack() as stack:
        session = await connect(stack, args.server, args.http)
        await exercise(session, args.calls)


if __name__ == "__main__":
    asyncio.run(main())
