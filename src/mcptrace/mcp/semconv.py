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
PROTOCOL_HTTP = "http"  # every MCP transport over TCP (streamable HTTP, SSE) is HTTP
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


SCOPE_VERSION = "0.1.0"
FASTMCP_SCOPE = "fastmcp"  # the standalone fastmcp package's tracer
MCP_SPAN_SCOPES = frozenset({SDK_SCOPE, MCPTRACE_SCOPE, FASTMCP_SCOPE})

# mcptrace's own attributes on MCP spans and log records
MCPTRACE_SESSION_SIDE = "mcptrace.mcp.side"  # client | server
MCPTRACE_SERVER_NAME = "mcptrace.mcp.server.name"
MCPTRACE_SERVER_VERSION = "mcptrace.mcp.server.version"
MCPTRACE_INSTRUCTIONS_LENGTH = "mcptrace.mcp.server.instructions_length"
MCPTRACE_COMPONENT_KIND = (
    "mcptrace.mcp.component.kind"  # tool | resource | resource_template | prompt
)
MCPTRACE_COMPONENT_NAME = "mcptrace.mcp.component.name"
MCPTRACE_COMPONENT_DESCRIPTION = "mcptrace.mcp.component.description"
MCPTRACE_COMPONENT_URI = "mcptrace.mcp.component.uri"
MCPTRACE_COMPONENT_SCHEMA_SHA256 = "mcptrace.mcp.component.input_schema.sha256"
MCPTRACE_CONNECT_COMMAND = "mcptrace.mcp.connect.command"
MCPTRACE_CONNECT_URL = "mcptrace.mcp.connect.url"
MCPTRACE_SESSION_DURATION = "mcptrace.mcp.session.duration_s"
URL_FULL = "url.full"
PROCESS_EXECUTABLE_PATH = "process.executable.path"
PROCESS_COMMAND_ARGS = "process.command_args"

# log record event names (OTel `event.name`)
EVENT_SERVER_START = "mcptrace.mcp.server.start"
EVENT_COMPONENT_REGISTERED = "mcptrace.mcp.component.registered"
EVENT_SESSION_START = "mcptrace.mcp.session.start"
EVENT_SESSION_END = "mcptrace.mcp.session.end"
EVENT_CLIENT_CONNECT = "mcptrace.mcp.client.connect"

# method names that carry a target or need special attributes
TOOLS_CALL = "tools/call"
PROMPTS_GET = "prompts/get"
INITIALIZE = "initialize"
RESOURCE_METHODS = frozenset(
    {
        "resources/read",
        "resources/subscribe",
        "resources/unsubscribe",
        "notifications/resources/updated",
    }
)


def span_name(method: str, params: Any) -> str:
    """``{mcp.method.name} {target}``: the tool or prompt name; resource URIs stay out."""
    if method in (TOOLS_CALL, PROMPTS_GET) and params:
        target = params.get("name")
        if isinstance(target, str):
            return f"{method} {target}"
    return method


def message_attributes(method: str, request_id: Any, params: Any) -> dict[str, Any]:
    """The per-message attributes both sides share (from the wire method and params dict)."""
    attributes: dict[str, Any] = {MCP_METHOD_NAME: method}
    if request_id is not None:
        attributes[JSONRPC_REQUEST_ID] = str(request_id)
    if params:
        if method == TOOLS_CALL:
            attributes[GEN_AI_OPERATION_NAME] = EXECUTE_TOOL
            name = params.get("name")
            if isinstance(name, str):
                attributes[GEN_AI_TOOL_NAME] = name
        elif method == PROMPTS_GET:
            name = params.get("name")
            if isinstance(name, str):
                attributes[GEN_AI_PROMPT_NAME] = name
        elif method in RESOURCE_METHODS:
            uri = params.get("uri")
            if uri is not None:
                attributes[MCP_RESOURCE_URI] = str(uri)
    elif method == TOOLS_CALL:
        attributes[GEN_AI_OPERATION_NAME] = EXECUTE_TOOL
    return attributes


def transport_attributes(transport: str) -> dict[str, Any]:
    """``network.transport``, and ``network.protocol.name`` for the HTTP transports."""
    if transport == TRANSPORT_TCP:
        return {NETWORK_TRANSPORT: transport, NETWORK_PROTOCOL_NAME: PROTOCOL_HTTP}
    return {NETWORK_TRANSPORT: transport}
