"""Start threads_server.py over stdio with a real MCP client, ask for its threads.

python drive_threads.py WAIT_SECONDS   # prints {"server": ..., "client": [...]} as JSON
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading

from mcp.client.stdio import stdio_client

from mcp import ClientSession, StdioServerParameters

HERE = os.path.dirname(os.path.abspath(__file__))


async def main(wait: float) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=[os.path.join(HERE, "threads_server.py")], env=dict(os.environ)
    )
    async with stdio_client(params) as streams, ClientSession(streams[0], streams[1]) as session:
        await session.initialize()
        result = await session.call_tool("mcptrace_threads", {"wait": wait})
        text = " ".join(getattr(item, "text", "") for item in result.content)
    client = sorted(t.name for t in threading.enumerate() if t.name.startswith("mcptrace"))
    print(json.dumps({"server": json.loads(text), "client": client}))


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1])))
