"""Which spans the record stage treats as MCP server spans (any SDK version, any producer)."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind

from mcptrace.record.vocabulary import MCP_METHOD_NAME, MCPTRACE_SCOPE, SDK_SCOPE


def is_mcp_server_span(kind: SpanKind, attributes: Any, scope_name: str | None) -> bool:
    """True for a span that handles one MCP message on the server side (any SDK version)."""
    if kind is not SpanKind.SERVER:
        return False
    if attributes and MCP_METHOD_NAME in attributes:
        return True
    return scope_name in (SDK_SCOPE, MCPTRACE_SCOPE)
