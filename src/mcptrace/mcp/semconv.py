"""MCP span names and per-message attributes, built from the names in ``record.vocabulary``."""

from __future__ import annotations

from typing import Any

from mcptrace._version import __version__
from mcptrace.record.redact import redact_url
from mcptrace.record.vocabulary import (
    EXECUTE_TOOL,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROMPT_NAME,
    GEN_AI_TOOL_NAME,
    JSONRPC_REQUEST_ID,
    MCP_METHOD_NAME,
    MCP_RESOURCE_URI,
    NETWORK_PROTOCOL_NAME,
    NETWORK_TRANSPORT,
    PROMPTS_GET,
    PROTOCOL_HTTP,
    RESOURCE_METHODS,
    TOOLS_CALL,
    TRANSPORT_TCP,
)

SCOPE_VERSION = __version__  # our instrumentation scopes carry the package version
# JSON-RPC error code the SDK answers malformed params with
INVALID_PARAMS = -32602

# From this revision on, MCP is stateless: no initialize handshake, no protocol session.
FIRST_STATELESS_VERSION = "2026-07-28"


def is_stateless_version(version: Any) -> bool:
    """Whether a negotiated protocol version has no session (versions are ISO dates)."""
    return isinstance(version, str) and version >= FIRST_STATELESS_VERSION


# 2026-07-28's per-request envelope in params._meta, and the server's identity in results
PROTOCOL_VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion"
CLIENT_INFO_META_KEY = "io.modelcontextprotocol/clientInfo"
SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo"


def envelope_version(params: Any) -> str | None:
    """The protocol version a 2026-07-28 request names in its ``_meta`` envelope."""
    meta = params.get("_meta") if isinstance(params, dict) else None
    version = meta.get(PROTOCOL_VERSION_META_KEY) if isinstance(meta, dict) else None
    return version if is_stateless_version(version) else None


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
                attributes[MCP_RESOURCE_URI] = redact_url(str(uri))
    elif method == TOOLS_CALL:
        attributes[GEN_AI_OPERATION_NAME] = EXECUTE_TOOL
    return attributes


def transport_attributes(transport: str) -> dict[str, Any]:
    """``network.transport``, and ``network.protocol.name`` for the HTTP transports."""
    if transport == TRANSPORT_TCP:
        return {NETWORK_TRANSPORT: transport, NETWORK_PROTOCOL_NAME: PROTOCOL_HTTP}
    return {NETWORK_TRANSPORT: transport}
