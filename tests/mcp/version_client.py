"""MCP client that speaks one given protocol version (mcp 1.x and 2.x), for the version tests.

python version_client.py VERSION [--http URL] [--server-python PY]

A handshake version (2024-11-05 ... 2025-11-25) is proposed in ``initialize``; 2026-07-28 is
negotiated with ``server/discover`` (mcp 2.x only) and also opens a ``subscriptions/listen``
stream.  Prints one ``RESULT {json}`` line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from contextlib import AsyncExitStack
from typing import Any

import mcp.client.session as client_session_module
from mcp.client.stdio import stdio_client
from opentelemetry import baggage
from opentelemetry import context as otel_context

from mcp import ClientSession, StdioServerParameters, types

HERE = os.path.dirname(os.path.abspath(__file__))
STATELESS = "2026-07-28"


def text_of(result: Any) -> str:
    return " ".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def propose(version: str) -> None:
    """Make ``ClientSession.initialize`` propose ``version`` (the SDKs always propose their
    latest; a client pinned to an older revision is what this test needs)."""
    if hasattr(client_session_module, "LATEST_HANDSHAKE_VERSION"):  # mcp 2.x
        client_session_module.LATEST_HANDSHAKE_VERSION = version  # type: ignore[attr-defined]
    else:  # mcp 1.x reads it from its types module at call time
        client_session_module.types.LATEST_PROTOCOL_VERSION = version


async def discover(session: ClientSession) -> Any:
    """``session.discover()`` with a probe timeout meant for a server that is still starting.

    The SDK gives ``server/discover`` 10 s (``DISCOVER_TIMEOUT_SECONDS``) counted from the
    send, and these clients send it right after spawning the stdio server: the probe then
    also waits for the server's Python, mcp and mcptrace to start, which on a loaded 2-core
    CI machine can take longer than 10 s (about 1.5 s idle).  The tests are about what
    mcptrace records, not start-up speed; a server that never answers still fails them.
    """
    client_session_module.DISCOVER_TIMEOUT_SECONDS = 120.0  # type: ignore[attr-defined]
    return await session.discover()  # type: ignore[attr-defined]


async def run(
    version: str, http: str | None, server_python: str, name: str, user: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    info = types.Implementation(name=name, version="7.1.0")
    async with AsyncExitStack() as stack:
        if http:
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            headers = {"X-User": user} if user else None  # who the caller says it is
            client = create_mcp_http_client(headers=headers)
            streams = await stack.enter_async_context(
                streamable_http_client(http, http_client=client)
            )
        else:
            params = StdioServerParameters(
                command=server_python, args=[os.path.join(HERE, "peer_server.py")]
            )
            streams = await stack.enter_async_context(stdio_client(params))
        session = await stack.enter_async_context(
            ClientSession(streams[0], streams[1], client_info=info)
        )
        if version >= STATELESS:
            discovered = await discover(session)
            out["negotiated"] = session.protocol_version  # type: ignore[attr-defined]
            out["discovered"] = list(discovered.supported_versions)
        else:
            propose(version)
            result = await session.initialize()
            negotiated = getattr(result, "protocol_version", None) or result.protocolVersion
            out["negotiated"] = str(negotiated)
        token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
        try:
            await session.list_tools()
            out["echo"] = text_of(await session.call_tool("echo", {"text": "hi"}))
            out["whoami"] = json.loads(text_of(await session.call_tool("whoami", {})))
            read = await session.read_resource("test://greeting")  # type: ignore[arg-type]
            out["greeting"] = read.contents[0].text  # type: ignore[union-attr]
            await session.get_prompt("summarize", {"text": "x"})
            if version >= STATELESS:
                from mcp.client.subscriptions import listen

                async with listen(session, tools_list_changed=True) as subscription:
                    out["listen_honored"] = subscription.honored is not None
        finally:
            otel_context.detach(token)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("version")
    parser.add_argument("--http")
    parser.add_argument("--server-python", default=sys.executable)
    parser.add_argument("--name", default="version-client")
    parser.add_argument("--user")
    args = parser.parse_args()
    result = asyncio.run(run(args.version, args.http, args.server_python, args.name, args.user))
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
