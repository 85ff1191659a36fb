"""A toy agent: its own spans (``agent.run``, ``agent.plan``, ``agent.act``) made with the
OpenTelemetry API parent the MCP client spans, so one trace goes agent → MCP → tool.

    mcptrace run -- python examples/agent_app.py

The "planner" is a fixed rule set (no LLM): for the task it lists the server's tools, picks
``word_count`` and ``add``, and calls them.  Without mcptrace the OTel API is a no-op and the
agent runs just the same.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from typing import Any

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from opentelemetry import trace

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT = "notes-agent"
tracer = trace.get_tracer("examples.agent_app")


def text_of(result: Any) -> str:
    return " ".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def plan(session: ClientSession, task: str, notes: str) -> list[tuple[str, dict[str, Any]]]:
    with tracer.start_as_current_span("agent.plan") as span:
        available = {tool.name for tool in (await session.list_tools()).tools}
        steps: list[tuple[str, dict[str, Any]]] = []
        if "count" in task and "word_count" in available:
            steps.append(("word_count", {"path": notes}))
        if "add" in task and "add" in available:
            steps.append(("add", {"a": 40, "b": 2}))
        span.set_attribute("agent.plan.steps", [name for name, _ in steps])
        return steps


async def run(task: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("agents call tools and tools touch the world")
    params = StdioServerParameters(command=sys.executable, args=[os.path.join(HERE, "server.py")])
    try:
        with tracer.start_as_current_span("agent.run") as root:
            root.set_attribute("gen_ai.agent.name", AGENT)
            root.set_attribute("agent.task", task)
            async with (
                stdio_client(params) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                for name, arguments in await plan(session, task, handle.name):
                    with tracer.start_as_current_span("agent.act") as step:
                        step.set_attribute("gen_ai.tool.name", name)
                        result = await session.call_tool(name, arguments)
                        print(f"{name} -> {text_of(result)}")
    finally:
        os.unlink(handle.name)


if __name__ == "__main__":
    asyncio.run(run("count the words in my notes, then add 40 and 2"))
