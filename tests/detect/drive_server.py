"""Drive an MCP server over stdio with a real client; print the tool results as JSON.

    python drive_server.py SERVER.py CALLS_JSON        # [["tool", {"arg": 1}], ...]
    python drive_server.py SERVER.py all               # every tool it lists, default arguments
    python drive_server.py http://127.0.0.1:PORT/mcp CALLS_JSON   # streamable HTTP

The server gets this process's environment (HOME included), so a test can point it at a
throwaway home directory.  Tool errors are results, not failures of the driver.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from contextlib import AsyncExitStack
from typing import Any

from mcp.client.stdio import stdio_client

from mcp import ClientSession, StdioServerParameters


def _default_arguments(schema: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in schema.get("required", []):
        kind = schema.get("properties", {}).get(name, {}).get("type", "string")
        values[name] = {"integer": 1, "number": 1, "boolean": True}.get(kind, "hello")
    return values


async def main(server: str, plan: str) -> None:
    async with AsyncExitStack() as stack:
        if server.startswith("http://"):
            try:
                from mcp.client.streamable_http import streamable_http_client as http_client
            except ImportError:  # mcp 1.x before the rename
                from mcp.client.streamable_http import streamablehttp_client as http_client
            streams = await stack.enter_async_context(http_client(server))
        else:
            params = StdioServerParameters(
                command=sys.executable,
                args=[server],
                env=dict(os.environ),
                cwd=os.path.dirname(server),
            )
            streams = await stack.enter_async_context(stdio_client(params))
        session = await stack.enter_async_context(ClientSession(streams[0], streams[1]))
        await session.initialize()
        await run_plan(session, plan)


async def run_plan(session: ClientSession, plan: str) -> None:
    results = []
    listed = await session.list_tools()
    try:
        await session.list_prompts()
    except Exception:  # a server without prompts
        pass
    if plan == "all":
        schemas = {tool.name: getattr(tool, "inputSchema", None) or {} for tool in listed.tools}
        calls = [(name, _default_arguments(schema)) for name, schema in schemas.items()]
    else:
        calls = json.loads(plan)
    for name, arguments in calls:
        try:
            result = await asyncio.wait_for(session.call_tool(name, arguments), 60)
        except Exception as exc:  # a tool that kills its server: a result all the same
            results.append({"tool": name, "error": True, "text": repr(exc)})
            break
        error = bool(getattr(result, "is_error", getattr(result, "isError", False)))
        texts = [getattr(item, "text", "") for item in result.content]
        results.append({"tool": name, "error": error, "text": " ".join(texts)[:500]})
    print(json.dumps(results))


if __name__ == "__main__":
    target = sys.argv[1]
    asyncio.run(
        main(target if target.startswith("http://") else os.path.abspath(target), sys.argv[2])
    )
