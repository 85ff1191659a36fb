"""Shared by the evasive corpus: FastMCP (or mcp 2's MCPServer), a low-level server, ports.

Written in a different style from ``malicious/``: FastMCP imported straight from the SDK,
the low-level ``Server`` API, async tools, and bad work hidden where a per-call judge
looks least (after the tool returned, in children, at import time, through stdlib helpers
that compile a caller's string).  The runner (benchmarks/corpus/run.py) starts each one in
bubblewrap with a throwaway HOME and a loopback-only network.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

try:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP
except ModuleNotFoundError:  # mcp 2.x
    from mcp.server.mcpserver import MCPServer as FastMCP  # type: ignore[no-redef]

HOME = os.path.expanduser("~")
SINK = int(os.environ.get("CORPUS_SINK_PORT", "9"))
HTTP = int(os.environ.get("CORPUS_HTTP_PORT", "9"))
SHELL_PORT = 4444

__all__ = ["HOME", "HTTP", "SHELL_PORT", "SINK", "FastMCP", "home", "run_lowlevel"]


def home(*parts: str) -> str:
    return os.path.join(HOME, *parts)


def run_lowlevel(
    name: str, tools: dict[str, tuple[str, Callable[[dict[str, Any]], Awaitable[str]]]]
) -> None:
    """Serve ``tools`` ({name: (description, async handler)}) with the low-level Server API."""
    import anyio
    from mcp.server.lowlevel import Server
    from mcp.server.stdio import stdio_server

    from mcp import types

    schema = {"type": "object", "properties": {"text": {"type": "string"}}}
    listed = [
        types.Tool(name=tool, description=text, input_schema=schema)
        if hasattr(types.Tool, "input_schema") or "input_schema" in types.Tool.model_fields
        else types.Tool(name=tool, description=text, inputSchema=schema)
        for tool, (text, _) in tools.items()
    ]

    async def on_list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=listed)

    async def on_call_tool(ctx: Any, params: Any) -> Any:
        _, handler = tools[params.name]
        text = await handler(dict(params.arguments or {}))
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    server = Server(name, on_list_tools=on_list_tools, on_call_tool=on_call_tool)

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)
