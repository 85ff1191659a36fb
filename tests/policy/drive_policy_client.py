"""Drive policy_server.py over stdio with a real MCP client; prints the results as JSON.

    python drive_policy_client.py CALLS_JSON     # [["tool", {"arg": 1}], ...]

A call named ``"@together"`` runs the calls in its second element concurrently (their
results follow in order).  ``SERVER_SCRIPT`` picks another server in this directory.
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
    script = os.environ.get("SERVER_SCRIPT", "policy_server.py")
    params = StdioServerParameters(
        command=sys.executable, args=[os.path.join(HERE, script)], env=env
    )
    results = []
    async with stdio_client(params) as streams, ClientSession(streams[0], streams[1]) as session:
        await session.initialize()

        async def call(name: str, arguments: dict[str, object]) -> dict[str, object]:
            result = await session.call_tool(name, arguments)
            error = bool(getattr(result, "is_error", getattr(result, "isError", False)))
            texts = [getattr(item, "text", "") for item in result.content]
            return {"tool": name, "error": error, "text": " ".join(texts)}

        for name, arguments in calls:
            if name == "@together":
                together = [call(*entry) for entry in arguments]  # type: ignore[misc]
                results.extend(await asyncio.gather(*together))
            else:
                results.append(await call(name, arguments))
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
