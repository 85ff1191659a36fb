"""Attribute, metric and scope names of the OTel MCP semantic conventions (development status)
and mcptrace's own names, in one place so no string literal is scattered through the code."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind

# MCP semantic conventions
MCP_METHOD_NAME = "mcp.method.name"
MCP_SESSION_ID = "mcp.session.id"
MCP_PROTOCOL_VERSION = "mcp.protocol.version"
MCP_RESOURCE_URI = "mcp.resource.uri"
JSONRPC_REQUEST_ID = "jsonrpc.request.id"
JSONRPC_PROTOCOL_VERSION = "jsonrpc.protocol.version"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_PROMPT_NAME = "gen_ai.prompt.name"
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"
EXECUTE_TOOL = "execute_tool"
TOOL_ERROR = "tool_error"
ERROR_TYPE = "error.type"
RPC_RESPONSE_STATUS_CODE = "rpc.response.status_code"
NETWORK_TRANSPORT = "network.transport"
NETWORK_PROTOCOL_NAME = "network.protocol.name"
NETWORK_PROTOCOL_VERSION = "network.protocol.version"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
CLIENT_ADDRESS = "client.address"
CLIENT_PORT = "client.port"
TRANSPORT_PIPE = "pipe"
TRANSPORT_TCP = "tcp"

# metrics (histograms, seconds)
MCP_CLIENT_OPERATION_DURATION = "mcp.client.operation.duration"
MCP_SERVER_OPERATION_DURATION = "mcp.server.operation.duration"
MCP_CLIENT_SESSION_DURATION = "mcp.client.session.duration"
MCP_SERVER_SESSION_DURATION = "mcp.server.session.duration"

# instrumentation scopes that create MCP spans
SDK_SCOPE = "mcp-python-sdk"  # mcp 2.x's own tracer
MCPTRACE_SCOPE = "mcptrace.mcp"  # ours (mcp 1.x)


def is_mcp_server_span(kind: SpanKind, attributes: Any, scope_name: str | None) -> bool:
    """True for a span that handles one MCP message on the server side (any SDK version)."""
    if kind is not SpanKind.SERVER:
        return False
    if attributes and MCP_METHOD_NAME in attributes:
        return True
    return scope_name in (SDK_SCOPE, MCPTRACE_SCOPE)
