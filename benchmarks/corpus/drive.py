"""A real MCP client for the corpus: start a server over stdio, run a workload, print JSON.

    python drive.py COMMAND_JSON PLAN

COMMAND_JSON is the server's argv (``["python", "server.py"]``); PLAN is a JSON list of
``[tool, arguments]`` calls, or ``all:N`` to call every listed tool N times with default
arguments (the malicious corpus: an ordinary user trying each tool).  Tool errors are
results; a server that dies ends the workload early, and that is a result too.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from mcp.client.stdio import stdio_client

from mcp import ClientSession, StdioServerParameters


def default_arguments(schema: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in schema.get("required", []):
        kind = schema.get("properties", {}).get(name, {}).get("type", "string")
        values[name] = {"integer": 1, "number": 1, "boolean": True}.get(kind, "hello")
    return values


def _schema(tool: Any) -> dict[str, Any]:
    """The tool's input schema (``inputSchema`` on mcp 1.x, ``input_schema`` on 2.x)."""
    return getattr(tool, "inputSchema", None) or getattr(tool, "input_schema", None) or {}


async def main(command: list[str], plan: str) -> None:
    params = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    results: list[dict[str, Any]] = []
    async with stdio_client(params) as streams, ClientSession(streams[0], streams[1]) as session:
        await session.initialize()
        listed = await session.list_tools()
        if plan.startswith("all:"):
            rounds = int(plan.split(":", 1)[1])
            calls = [
                (tool.name, default_arguments(_schema(tool)))
                for _ in range(rounds)
                for tool in listed.tools
            ]
        else:
            calls = json.loads(plan)
        for name, arguments in calls:
            try:
                result = await asyncio.wait_for(session.call_tool(name, arguments), 60)
            except Exception as exc:
                results.append({"tool": name, "error": True, "text": repr(exc)[:300]})
                break
            error = bool(getattr(result, "is_error", getattr(result, "isError", False)))
            texts = [getattr(item, "text", "") for item in result.content]
            results.append({"tool": name, "error": error, "text": " ".join(texts)[:300]})
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1]), sys.argv[2]))
