"""An MCP server whose tools make library machinery work on their behalf, next to tools
that run code of their own (mcp 1.x and 2.x, stdio).  Nothing here writes to stdout."""

from __future__ import annotations

import base64
import collections
import dataclasses
import os
import sys
import timeit
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples"))
from _compat import FastMCP  # noqa: E402

server = FastMCP("library-origin")


@server.tool()
def fail(message: str) -> str:
    """The SDK formats this traceback (source reads, ast compiles)."""
    raise RuntimeError(message)


@server.tool()
def format_traceback() -> str:
    """The tool asks the standard library to format a traceback itself."""
    try:
        raise ValueError("x")
    except ValueError:
        return str(len(traceback.format_exc()))


@server.tool()
def generate_classes(count: int) -> str:
    """dataclasses and namedtuple generate code (compile <string>)."""
    made = [
        dataclasses.make_dataclass(f"Row{index}", [("a", int), ("b", str)])
        for index in range(count)
    ]
    made += [collections.namedtuple(f"Pair{index}", "x y") for index in range(count)]
    return str(len(made))


@server.tool()
def lazy_stdlib_import() -> str:
    """minidom.parseString imports xml.dom.expatbuilder the first time it runs."""
    from xml.dom import minidom

    return minidom.parseString("<a/>").documentElement.tagName


@server.tool()
def exec_decoded(payload: str) -> str:
    """The tool's own exec of a string it decoded: never the library's."""
    namespace: dict[str, object] = {}
    exec(base64.b64decode(payload).decode(), namespace)
    return str(namespace.get("result"))


@server.tool()
def eval_decoded(payload: str) -> str:
    return str(eval(compile(base64.b64decode(payload).decode(), "<string>", "eval")))


@server.tool()
def timeit_decoded(payload: str) -> str:
    """An exec laundered through timeit: still the tool's."""
    return str(timeit.timeit(base64.b64decode(payload).decode(), number=1) >= 0)


@server.tool()
def read_own_source() -> str:
    """The tool reads a .py file itself: its own read."""
    with open(__file__, encoding="utf-8") as handle:
        return str(len(handle.read()))


@server.tool()
async def first_httpx_call(url: str) -> str:
    import httpx

    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    return str(response.status_code)


if __name__ == "__main__":
    server.run()
