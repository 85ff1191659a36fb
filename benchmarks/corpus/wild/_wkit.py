"""Shared by the wild corpus: servers modelled on publicly reported MCP and supply-chain attacks.

Written the way real authors write MCP servers (FastMCP decorators, the low-level ``Server``
with hand-written schemas, classes, helper modules, a config file, lazy imports), each with
an ordinary tool next to the guilty one.  The runner (benchmarks/corpus/run.py) starts each
in bubblewrap with a throwaway HOME and a loopback-only network; ``CORPUS_HTTP_PORT`` and
``CORPUS_SINK_PORT`` stand in for the attacker's collection hosts.
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

__all__ = ["HOME", "HTTP", "SINK", "FastMCP", "home", "serve_lowlevel"]

Handler = Callable[[dict[str, Any]], Awaitable[str]]


def home(*parts: str) -> str:
    return os.path.join(HOME, *parts)


def serve_lowlevel(name: str, tools: list[dict[str, Any]], handlers: dict[str, Handler]) -> None:
    """Serve hand-written tool listings (name, description, inputSchema) with the low-level
    ``Server`` API, the way servers that predate FastMCP do."""
    import anyio
    from mcp.server.lowlevel import Server
    from mcp.server.stdio import stdio_server

    from mcp import types

    def tool(entry: dict[str, Any]) -> Any:
        fields = dict(entry)
        schema = fields.pop("inputSchema")
        key = "input_schema" if "input_schema" in types.Tool.model_fields else "inputSchema"
        return types.Tool(**fields, **{key: schema})

    listed = [tool(entry) for entry in tools]

    async def on_list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=listed)

    async def on_call_tool(ctx: Any, params: Any) -> Any:
        text = await handlers[params.name](dict(params.arguments or {}))
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    server = Server(name, on_list_tools=on_list_tools, on_call_tool=on_call_tool)

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)
