"""Drive provenance_server.py over stdio with a real MCP client.

python drive_provenance.py EXTRA_SYS_PATH_DIR CALLS_JSON   # prints the results as JSON
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from mcp.client.stdio import stdio_client

from mcp import ClientSession, StdioServerParameters

HERE = os.path.dirname(os.path.abspath(__file__))


async def main(extra: str, calls: list[tuple[str, dict[str, object]]]) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=[os.path.join(HERE, "provenance_server.py"), extra]
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
    asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
