"""Drive policy_server.py over stdio with a real MCP client; prints the results as JSON.

    python drive_policy_client.py CALLS_JSON     # [["tool", {"arg": 1}], ...]

``SERVER_POLICY`` in the environment, if set, is handed to the server as MCPTRACE_POLICY
explicitly (the way an MCP host passes an environment), bypassing `mcptrace run`'s check.
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
    env = None
    if os.environ.get("SERVER_POLICY"):
        env = {"MCPTRACE_POLICY": os.environ["SERVER_POLICY"], "PATH": os.environ["PATH"]}
    params = StdioServerParameters(
        command=sys.executable, args=[os.path.join(HERE, "policy_server.py")], env=env
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
