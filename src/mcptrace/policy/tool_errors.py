"""Let the MCP client see which policy rule blocked a tool (mcp 2.x ``MCPServer``).

mcp 1.x FastMCP puts the exception's text in the tool error already.  mcp 2.x keeps the
text of an unexpected exception on the server and tells the client only "Error executing
tool X"; a policy denial is deliberate, not a crash, so it is turned into a ``ToolError``
whose text names the rule.

Usage::

    surface_violations()      # once; patches lazily when mcp.server.mcpserver is imported
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from mcptrace import importwatch
from mcptrace.instrumentor import wrap_function_wrapper
from mcptrace.policy.violation import PolicyViolation

_MODULE = "mcp.server.mcpserver.tools.base"


def violation_in(exc: BaseException | None, depth: int = 8) -> PolicyViolation | None:
    """The PolicyViolation that caused ``exc``, following ``__cause__``/``__context__``."""
    while exc is not None and depth > 0:
        if isinstance(exc, PolicyViolation):
            return exc
        exc = exc.__cause__ or exc.__context__
        depth -= 1
    return None


def _patch(module: ModuleType) -> None:
    from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError

    async def run(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            return await wrapped(*args, **kwargs)
        except UnexpectedToolError as exc:
            violation = violation_in(exc)
            if violation is None:
                raise
            name = getattr(instance, "name", "?")
            raise ToolError(f"Error executing tool {name}: {violation}") from violation

    wrap_function_wrapper(module.Tool, "run", run)


_registered = False


def surface_violations() -> None:
    global _registered
    if not _registered:
        _registered = True
        importwatch.after(_MODULE, _patch)
