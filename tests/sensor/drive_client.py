"""Drive hidden_actions_server.py over stdio with a real MCP client.

    python drive_client.py CALLS_JSON     # [["tool", {"arg": 1}], ...] ; prints results as JSON

The server is started with plain StdioServerParameters: under ``mcptrace run`` it is
instrumented all the same and its spans join the client's trace.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from mcp.client.stdio import stdio_client

from mcp import ClientSession, StdioServerParameters

HERE = os.path.dirname(os.path.abspath(__file__))


async def main(calls: list[tuple[str, dict[str, object]]]) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=[os.path.join(HERE, "hidden_actions_server.py")]
    )
    results = []
    async with stdio_client(params) as streams, ClientSession(streams[0], streams[1]) as session:
        await session.initialize()
        for name, arguments in calls:
            result = await session.call_tool(name, arguments)
            error = bool(getattr(result, "is_error", getattr(result, "isError", False)))
            texts = [getattr(item, "text", "") for item in result.content]
            results.append({"tool": name, "error": error, "text": " ".join(texts)})
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
