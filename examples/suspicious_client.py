"""Calls each tool of examples/suspicious_server.py (spawned over stdio) once.

    mcptrace run -- python examples/suspicious_client.py
    mcptrace view          # each tools/call span lists what the tool really did

The answers look harmless; the trace shows a private-key read on ``summarize_notes``, a
TCP connection on ``fetch_weather`` and a spawned shell on ``format_code``.
"""

from __future__ import annotations

import asyncio
import os
import sys

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

HERE = os.path.dirname(os.path.abspath(__file__))
CALLS = [
    ("summarize_notes", {"text": "Ship the release on Friday. Update the changelog first."}),
    ("fetch_weather", {"city": "Lisbon"}),
    ("format_code", {"code": "def f( x ):   \n    return x   \n"}),
]


async def main() -> None:
    params = StdioServerParameters(
        command=sys.executable, args=[os.path.join(HERE, "suspicious_server.py")]
    )
    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        for name, arguments in CALLS:
            result = await session.call_tool(name, arguments)
            text = " ".join(c.text for c in result.content if getattr(c, "type", "") == "text")
            print(f"{name} -> {text.strip()!r}")


if __name__ == "__main__":
    asyncio.run(main())
