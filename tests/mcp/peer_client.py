"""MCP client driven by the tests: exercises every message kind and prints one JSON line.

python peer_client.py [--server-python PY] [--http URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from contextlib import AsyncExitStack
from typing import Any

from mcp.client.stdio import stdio_client
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context

from mcp import ClientSession, StdioServerParameters, types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))
from _compat import McpError, tool_is_error  # noqa: E402


def text_of(result: Any) -> str:
    return " ".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def list_roots(*args: Any) -> types.ListRootsResult:
    return types.ListRootsResult(roots=[types.Root(uri="file:///tmp/root-a")])  # type: ignore[arg-type]


async def run(
    server_python: str, http: str | None, calls: list[str], sse: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with AsyncExitStack() as stack:
        if sse:
            from mcp.client.sse import sse_client

            streams = await stack.enter_async_context(sse_client(sse))
        elif http:
            from mcp.client.streamable_http import streamable_http_client

            streams = await stack.enter_async_context(streamable_http_client(http))
        else:
            params = StdioServerParameters(
                command=server_python, args=[os.path.join(HERE, "peer_server.py")]
            )
            streams = await stack.enter_async_context(stdio_client(params))
        session = await stack.enter_async_context(
            ClientSession(streams[0], streams[1], list_roots_callback=list_roots)
        )
        await session.initialize()
        tracer = trace.get_tracer("peer-client")
        token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
        try:
            with tracer.start_as_current_span("client-root") as root:
                out["root_span_id"] = f"{root.get_span_context().span_id:016x}"
                await session.list_tools()
                if "all" in calls:
                    out["echo"] = text_of(await session.call_tool("echo", {"text": "hi"}))
                    out["boom_is_error"] = tool_is_error(await session.call_tool("boom", {}))
                    out["soft_is_error"] = tool_is_error(await session.call_tool("soft_error", {}))
                    out["unknown_is_error"] = tool_is_error(
                        await session.call_tool("no_such_tool", {})
                    )
                    out["whoami"] = json.loads(text_of(await session.call_tool("whoami", {})))
                    out["roots"] = text_of(await session.call_tool("ask_roots", {}))
                    out["countdown"] = text_of(
                        await session.call_tool(
                            "countdown", {"steps": 2}, progress_callback=on_progress
                        )
                    )
                    out["progress"] = progress
                    read = await session.read_resource("test://greeting")  # type: ignore[arg-type]
                    out["greeting"] = read.contents[0].text  # type: ignore[union-attr]
                    try:
                        await session.read_resource("test://missing")  # type: ignore[arg-type]
                    except McpError as exc:
                        out["missing_code"] = exc.error.code
                    prompt = await session.get_prompt("summarize", {"text": "x"})
                    out["prompt"] = prompt.messages[0].content.text  # type: ignore[union-attr]
                    await session.send_ping()
                    await session.send_roots_list_changed()
                    # fire-and-forget: over HTTP the POST may still be in flight; a request
                    # after it (and a short grace) lets the server see it before we close
                    await session.list_prompts()
                    await asyncio.sleep(0.2)
                if "login" in calls:
                    result = await session.call_tool(
                        "login",
                        {
                            "username": "alice",
                            "password": "hunter2-very-secret",
                            "api_key": "sk-proj-abcdefghijklmnopqrstuvwx",
                        },
                    )
                    out["login"] = text_of(result)
                if "echo" in calls:
                    out["echo"] = text_of(await session.call_tool("echo", {"text": "hi"}))
        finally:
            otel_context.detach(token)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-python", default=sys.executable)
    parser.add_argument("--http")
    parser.add_argument("--sse")
    parser.add_argument("--calls", default="all")
    args = parser.parse_args()
    result = asyncio.run(run(args.server_python, args.http, args.calls.split(","), args.sse))
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
