"""A server's inventory as log records: what it is and which tools, resources and prompts it
offers, so what a server exposed is auditable later.

Usage::

    announce_server(mcp_server)   # FastMCP (mcp 1.x) / MCPServer (mcp 2.x), once per instance
    fastmcp_server_components(server, name)   # fastmcp 4: its local provider's components

Input schemas are recorded as a SHA-256 of their canonical JSON: a changed schema is visible
without storing it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

from mcptrace.mcp.events import emit_event
from mcptrace.mcp.pinning import pin_server
from mcptrace.record.redact import redact_text, redact_url
from mcptrace.record.vocabulary import (
    EVENT_COMPONENT_REGISTERED,
    EVENT_SERVER_START,
    MCPTRACE_COMPONENT_DESCRIPTION,
    MCPTRACE_COMPONENT_KIND,
    MCPTRACE_COMPONENT_NAME,
    MCPTRACE_COMPONENT_SCHEMA_SHA256,
    MCPTRACE_COMPONENT_URI,
    MCPTRACE_INSTRUCTIONS_LENGTH,
    MCPTRACE_SERVER_COMPONENTS,
    MCPTRACE_SERVER_NAME,
    MCPTRACE_SERVER_VERSION,
)

_announced: set[int] = set()
_DESCRIPTION_MAX = 1024


def schema_sha256(schema: Any) -> str | None:
    if schema is None:
        return None
    try:
        text = json.dumps(schema, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def component_attributes(
    kind: str,
    name: Any,
    description: Any = None,
    uri: Any = None,
    input_schema: Any = None,
    server_name: str | None = None,
) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        MCPTRACE_COMPONENT_KIND: kind,
        MCPTRACE_COMPONENT_NAME: str(name) if name is not None else None,
        MCPTRACE_COMPONENT_DESCRIPTION: (
            redact_text(str(description))[:_DESCRIPTION_MAX] if description else None
        ),
        MCPTRACE_COMPONENT_URI: redact_url(str(uri)) if uri is not None else None,
        MCPTRACE_COMPONENT_SCHEMA_SHA256: schema_sha256(input_schema),
        MCPTRACE_SERVER_NAME: server_name,
    }
    return attributes


def announce_components(components: Iterable[dict[str, Any]]) -> int:
    count = 0
    for attributes in components:
        emit_event(
            EVENT_COMPONENT_REGISTERED,
            attributes,
            body=f"{attributes.get(MCPTRACE_COMPONENT_KIND)} registered",
        )
        count += 1
    return count


def _prompt_schema(prompt: Any) -> Any:
    arguments = getattr(prompt, "arguments", None) or []
    plain = []
    for argument in arguments:
        dump = getattr(argument, "model_dump", None)
        plain.append(dump(mode="json") if callable(dump) else str(argument))
    return plain


def sdk_server_components(server: Any, server_name: str | None) -> list[dict[str, Any]]:
    """Components of an mcp FastMCP (1.x) / MCPServer (2.x) from its managers."""
    found: list[dict[str, Any]] = []
    tools = getattr(server, "_tool_manager", None)
    for tool in tools.list_tools() if tools is not None else []:
        found.append(
            component_attributes(
                "tool",
                tool.name,
                getattr(tool, "description", None),
                input_schema=getattr(tool, "parameters", None),
                server_name=server_name,
            )
        )
    resources = getattr(server, "_resource_manager", None)
    if resources is not None:
        for resource in resources.list_resources():
            found.append(
                component_attributes(
                    "resource",
                    getattr(resource, "name", None) or str(resource.uri),
                    getattr(resource, "description", None),
                    uri=resource.uri,
                    server_name=server_name,
                )
            )
        for template in resources.list_templates():
            found.append(
                component_attributes(
                    "resource_template",
                    getattr(template, "name", None),
                    getattr(template, "description", None),
                    uri=getattr(template, "uri_template", None),
                    input_schema=getattr(template, "parameters", None),
                    server_name=server_name,
                )
            )
    prompts = getattr(server, "_prompt_manager", None)
    for prompt in prompts.list_prompts() if prompts is not None else []:
        found.append(
            component_attributes(
                "prompt",
                prompt.name,
                getattr(prompt, "description", None),
                input_schema=_prompt_schema(prompt),
                server_name=server_name,
            )
        )
    return found


# fastmcp 4 keys its components "tool:NAME@VERSION", "resource:URI@", "template:URI@", ...
_FASTMCP_KINDS = {
    "tool": "tool",
    "resource": "resource",
    "template": "resource_template",
    "prompt": "prompt",
}
_KIND_ORDER = {"tool": 0, "resource": 1, "resource_template": 2, "prompt": 3}


def fastmcp_component_attributes(component: Any, server_name: str | None) -> dict[str, Any] | None:
    """One fastmcp 4 component (Tool, Resource, ResourceTemplate, Prompt); None if another kind."""
    key = getattr(component, "key", None)
    kind = _FASTMCP_KINDS.get(key.split(":", 1)[0]) if isinstance(key, str) else None
    if kind is None:
        return None
    name = getattr(component, "name", None)
    description = getattr(component, "description", None)
    if kind == "tool":
        schema = getattr(component, "parameters", None)
        return component_attributes(kind, name, description, None, schema, server_name)
    if kind == "resource":
        uri = getattr(component, "uri", None)
        return component_attributes(kind, name or uri, description, uri, None, server_name)
    if kind == "resource_template":
        uri = getattr(component, "uri_template", None)
        schema = getattr(component, "parameters", None)
        return component_attributes(kind, name, description, uri, schema, server_name)
    schema = _prompt_schema(component)
    return component_attributes(kind, name, description, None, schema, server_name)


def fastmcp_server_components(server: Any, server_name: str | None) -> list[dict[str, Any]]:
    """Components registered on a fastmcp 4 server itself (its local provider), by kind.

    Mounted servers and other providers are not listed: listing them is async and may call
    out (a proxy), and their names depend on the mount's transforms.
    """
    provider = getattr(server, "_local_provider", None)
    stored = getattr(provider, "_components", None)
    if not isinstance(stored, dict):
        return []
    found = []
    for component in list(stored.values()):
        attributes = fastmcp_component_attributes(component, server_name)
        if attributes is not None:
            found.append(attributes)
    found.sort(key=lambda a: _KIND_ORDER.get(a[MCPTRACE_COMPONENT_KIND], len(_KIND_ORDER)))
    return found


def server_identity(server: Any) -> tuple[str | None, str | None, str | None]:
    lowlevel = getattr(server, "_mcp_server", None) or getattr(server, "_lowlevel_server", None)
    name = getattr(server, "name", None) or getattr(lowlevel, "name", None)
    version = getattr(lowlevel, "version", None) or getattr(server, "version", None)
    instructions = getattr(server, "instructions", None)
    if instructions is None:
        instructions = getattr(lowlevel, "instructions", None)
    return (
        str(name) if name is not None else None,
        str(version) if version is not None else None,
        instructions if isinstance(instructions, str) else None,
    )


def announce_server_start(
    name: str | None, version: str | None, instructions: str | None, components: int | None
) -> None:
    emit_event(
        EVENT_SERVER_START,
        {
            MCPTRACE_SERVER_NAME: name,
            MCPTRACE_SERVER_VERSION: version,
            MCPTRACE_INSTRUCTIONS_LENGTH: len(instructions) if instructions else 0,
            MCPTRACE_SERVER_COMPONENTS: components,
        },
        body="MCP server start",
    )


def announce_server(server: Any) -> None:
    """Server start plus one record per component; once per server instance, never raises."""
    try:
        if id(server) in _announced:
            return
        _announced.add(id(server))
        name, version, instructions = server_identity(server)
        components = sdk_server_components(server, name)
        announce_server_start(name, version, instructions, len(components))
        announce_components(components)
        pin_server(server, name)  # a rug pull: the offer changed since the last run
    except Exception:
        pass


async def wrap_server_run(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``run_*_async`` of a high-level server (FastMCP on 1.x, MCPServer on 2.x)."""
    announce_server(instance)
    return await wrapped(*args, **kwargs)
