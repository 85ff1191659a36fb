"""Drive an MCP server over stdio with waves of concurrent tool calls.

python drive_concurrent.py SERVER_SCRIPT WAVES_JSON
# WAVES_JSON: [[["tool", {"arg": 1}], ...], ...]: the calls of a wave run concurrently,
# waves one after the other; prints every result as JSON
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from mcp.client.stdio import stdio_client

from mcp import ClientSession, StdioServerParameters


async def call(session: ClientSession, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await session.call_tool(name, arguments)
    error = bool(getattr(result, "is_error", getattr(result, "isError", False)))
    texts = [getattr(item, "text", "") for item in result.content]
    return {"tool": name, "error": error, "text": " ".join(texts)}


async def main(script: str, waves: list[list[tuple[str, dict[str, Any]]]]) -> None:
    params = StdioServerParameters(command=sys.executable, args=[script])
    results: list[dict[str, Any]] = []
    async with stdio_client(params) as streams, ClientSession(streams[0], streams[1]) as session:
        await session.initialize()
        for wave in waves:
            results.extend(
                await asyncio.gather(*(call(session, name, args) for name, args in wave))
            )
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
