"""One MCP client with sessions to two stdio servers at once (mcp 1.x and 2.x), for the view's
grouping test.

python multi_server_client.py VERSION    # a handshake version, or 2026-07-28 (mcp 2.x)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from contextlib import AsyncExitStack
from typing import Any

from mcp.client.stdio import stdio_client
from version_client import STATELESS, discover, propose, text_of

from mcp import ClientSession, StdioServerParameters, types

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = ("alpha", "beta")


async def run(version: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    info = types.Implementation(name="multi-client", version="1.0")
    async with AsyncExitStack() as stack:
        sessions = []
        for name in SERVERS:
            params = StdioServerParameters(
                command=sys.executable,
                args=[os.path.join(HERE, "peer_server.py")],
                env={**os.environ, "PEER_SERVER_NAME": name},
            )
            streams = await stack.enter_async_context(stdio_client(params))
            session = await stack.enter_async_context(
                ClientSession(streams[0], streams[1], client_info=info)
            )
            if version >= STATELESS:
                await discover(session)
            else:
                propose(version)
                await session.initialize()
            sessions.append(session)
        for round_ in range(2):  # interleaved, as an agent using two servers would
            for name, session in zip(SERVERS, sessions, strict=True):
                text = f"{name}-{round_}"
                out[text] = text_of(await session.call_tool("echo", {"text": text}))
    return out


if __name__ == "__main__":
    print("RESULT " + json.dumps(asyncio.run(run(sys.argv[1]))))
