"""fastmcp.Client against fastmcp_server.py over stdio; prints one RESULT line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context

HERE = os.path.dirname(os.path.abspath(__file__))


async def main() -> dict[str, Any]:
    out: dict[str, Any] = {}
    token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
    transport = StdioTransport(
        command=sys.executable, args=[os.path.join(HERE, "fastmcp_server.py")]
    )
    try:
        with trace.get_tracer("fastmcp-client").start_as_current_span("client-root") as root:
            out["root_span_id"] = f"{root.get_span_context().span_id:016x}"
            async with Client(transport) as client:
                out["add"] = (await client.call_tool("add", {"a": 1, "b": 2})).data
                try:
                    await client.call_tool("boom", {})
                except Exception as exc:
                    out["boom"] = type(exc).__name__
                out["whoami"] = json.loads((await client.call_tool("whoami", {})).data)
                out["greeting"] = (await client.read_resource("fm://greeting"))[0].text
                out["unlock"] = (await client.call_tool("unlock", {})).data
                out["secret"] = (await client.call_tool("secret", {})).data
    finally:
        otel_context.detach(token)
    return out


if __name__ == "__main__":
    print("RESULT " + json.dumps(asyncio.run(main())))
