"""The few names that differ between mcp 1.x and 2.x, so the examples run on both."""

from __future__ import annotations

try:  # mcp 1.x
    from mcp.server.fastmcp import Context, FastMCP

    MCP_MAJOR = 1
except ModuleNotFoundError:  # mcp 2.x renamed FastMCP to MCPServer
    from mcp.server.mcpserver import Context  # type: ignore[no-redef]
    from mcp.server.mcpserver import MCPServer as FastMCP  # type: ignore[no-redef]

    MCP_MAJOR = 2

try:
    from mcp import MCPError as McpError  # 2.x
except ImportError:  # 1.x
    from mcp.shared.exceptions import McpError  # type: ignore[no-redef]


def run_server(server: FastMCP, argv: list[str]) -> None:
    """``server.py`` (stdio), ``server.py http PORT`` or ``server.py sse PORT`` on 127.0.0.1."""
    transport = argv[1] if len(argv) > 1 else "stdio"
    if transport == "stdio":
        server.run()
        return
    port = int(argv[2]) if len(argv) > 2 else 8765
    name = {"http": "streamable-http", "sse": "sse"}[transport]
    if MCP_MAJOR == 1:
        server.settings.host = "127.0.0.1"
        server.settings.port = port
        server.run(name)
    else:
        server.run(name, host="127.0.0.1", port=port)


def tool_is_error(result: object) -> bool:
    return bool(getattr(result, "is_error", getattr(result, "isError", False)))


__all__ = ["MCP_MAJOR", "Context", "FastMCP", "McpError", "run_server", "tool_is_error"]
