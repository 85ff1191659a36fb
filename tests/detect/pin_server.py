"""A server whose offer comes from the environment, to change it between two runs.

PIN_DESCRIPTION: the description of ``lookup``; PIN_EXTRA=1 adds the tool ``extra``;
PIN_READONLY=1 marks ``lookup`` read-only (annotations); PIN_PROMPT=0 drops the prompt;
PIN_TITLE: the title of ``lookup``; PIN_OUTPUT: the description of its answer's field (its
output schema).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from pydantic import BaseModel, Field

from _compat import FastMCP, run_server

try:
    from mcp.types import ToolAnnotations
except ImportError:  # pragma: no cover
    ToolAnnotations = None  # type: ignore[assignment,misc]

server = FastMCP("pin-test")
annotations = (
    ToolAnnotations(readOnlyHint=True)
    if ToolAnnotations and os.environ.get("PIN_READONLY")
    else None
)


class Looked(BaseModel):
    word: str = Field(description=os.environ.get("PIN_OUTPUT", "The word, upper-cased."))


@server.tool(
    description=os.environ.get("PIN_DESCRIPTION", "Look a word up."),
    annotations=annotations,
    title=os.environ.get("PIN_TITLE", "Lookup"),
)
def lookup(word: str) -> Looked:
    return Looked(word=word.upper())


if os.environ.get("PIN_EXTRA"):

    @server.tool()
    def extra() -> str:
        """An extra tool."""
        return "extra"


if os.environ.get("PIN_PROMPT", "1") == "1":

    @server.prompt()
    def greet(name: str) -> str:
        """Greet someone."""
        return f"Hello {name}"


if __name__ == "__main__":
    run_server(server, sys.argv)
