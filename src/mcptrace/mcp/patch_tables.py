"""Where the MCP instrumentation hooks, once: (module, attribute, wrapper's name) per home.

Each table names, as strings, the function (or dotted method) patched in an mcp/fastmcp
module and the wrapper in its home module that goes on it.  The instrumentor binds the
names in each home (``bind``: ``transports.CLIENT_TRANSPORT_PATCHES``, ``v1.V1_PATCHES``,
``v2.V2_PATCHES``, ``fastmcp.FASTMCP_PATCHES``); ``lazy`` puts a thin wrapper on the same
entry points at ``import mcp`` without importing those homes.  This module imports nothing:
it is read at every interpreter start.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: this module is imported at every interpreter start
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    Table = tuple[tuple[str, str, str], ...]

TRANSPORTS_HOME = "mcptrace.mcp.transports"
TRANSPORTS: Table = (
    ("mcp.client.stdio", "stdio_client", "wrap_stdio_client"),
    ("mcp.client.streamable_http", "streamable_http_client", "wrap_http_client"),
    ("mcp.client.streamable_http", "streamablehttp_client", "wrap_http_client"),
    ("mcp.client.streamable_http", "StreamableHTTPTransport.post_writer", "wrap_post_writer"),
    ("mcp.client.sse", "sse_client", "wrap_sse_client"),
)
V1_HOME = "mcptrace.mcp.v1"
V1: Table = (
    ("mcp.shared.session", "BaseSession.send_request", "wrap_send_request"),
    ("mcp.shared.session", "BaseSession.send_notification", "wrap_send_notification"),
    ("mcp.shared.session", "BaseSession.__aenter__", "wrap_session_aenter"),
    ("mcp.shared.session", "BaseSession.__aexit__", "wrap_session_aexit"),
    ("mcp.shared.session", "RequestResponder.respond", "wrap_respond"),
    ("mcp.client.session", "ClientSession.__init__", "wrap_client_session_init"),
    ("mcp.client.session", "ClientSession._received_request", "wrap_client_received_request"),
    (
        "mcp.client.session",
        "ClientSession._received_notification",
        "wrap_client_received_notification",
    ),
    ("mcp.server.session", "ServerSession.__init__", "wrap_server_session_init"),
    ("mcp.server.session", "ServerSession._received_request", "wrap_server_received_request"),
    ("mcp.server.lowlevel.server", "Server._handle_message", "wrap_handle_message"),
    (
        "mcp.server.streamable_http",
        "StreamableHTTPServerTransport.connect",
        "wrap_http_transport_connect",
    ),
    ("mcp.server.fastmcp.server", "FastMCP.run_stdio_async", "wrap_server_run"),
    ("mcp.server.fastmcp.server", "FastMCP.run_streamable_http_async", "wrap_server_run"),
    ("mcp.server.fastmcp.server", "FastMCP.run_sse_async", "wrap_server_run"),
)
V2_HOME = "mcptrace.mcp.v2"
# the server side uses only public names (Server.__init__ adds the middleware; a
# connection's session is made in Connection.for_loop and ended in aclose_shielded)
V2: Table = (
    (
        "mcp.shared.jsonrpc_dispatcher",
        "JSONRPCDispatcher.send_raw_request",
        "wrap_send_raw_request",
    ),
    ("mcp.shared.jsonrpc_dispatcher", "JSONRPCDispatcher._resolve_pending", "wrap_resolve_pending"),
    ("mcp.shared.jsonrpc_dispatcher", "JSONRPCDispatcher.notify", "wrap_notify"),
    ("mcp.server.connection", "Connection.for_loop", "wrap_connection_for_loop"),
    ("mcp.server.runner", "aclose_shielded", "wrap_aclose_shielded"),
    ("mcp.server.lowlevel.server", "Server.__init__", "wrap_server_init"),
    ("mcp.client.session", "ClientSession.__init__", "wrap_client_session_init"),
    ("mcp.client.session", "ClientSession.__aexit__", "wrap_client_session_aexit"),
    ("mcp.client.session", "ClientSession._on_request", "wrap_client_handles"),
    ("mcp.client.session", "ClientSession._on_notify", "wrap_client_handles"),
    (
        "mcp.client.session",
        "ClientSession._intercept_notification",
        "wrap_client_intercept_notification",
    ),
    ("mcp.server.mcpserver.server", "MCPServer.run_stdio_async", "wrap_server_run"),
    ("mcp.server.mcpserver.server", "MCPServer.run_streamable_http_async", "wrap_server_run"),
    ("mcp.server.mcpserver.server", "MCPServer.run_sse_async", "wrap_server_run"),
)
FASTMCP_HOME = "mcptrace.mcp.fastmcp"
FASTMCP: Table = (
    ("fastmcp.server.server", "FastMCP.run_async", "wrap_fastmcp_run_async"),
    (
        "fastmcp.server.providers.local_provider.local_provider",
        "LocalProvider._add_component",
        "wrap_local_provider_add_component",
    ),
)
TABLES: tuple[tuple[str, Table], ...] = (
    (TRANSPORTS_HOME, TRANSPORTS),
    (V1_HOME, V1),
    (V2_HOME, V2),
    (FASTMCP_HOME, FASTMCP),
)


def bind(table: Table, home: Mapping[str, Any]) -> tuple[tuple[str, str, Callable[..., Any]], ...]:
    """``table`` with each wrapper's name replaced by the function of that name in ``home``
    (a home module's globals); a name missing there is a KeyError at that module's import."""
    return tuple((module, dotted, home[name]) for module, dotted, name in table)
