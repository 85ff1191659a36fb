"""An MCP server (stdio, mcp 1.x and 2.x) whose tool imports a module by name at call time.

    python provenance_server.py EXTRA_SYS_PATH_DIR

Nothing here writes to stdout: that is the JSON-RPC channel.
"""

from __future__ import annotations

import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples"))
if len(sys.argv) > 1:
    sys.path.insert(0, sys.argv[1])
from _compat import FastMCP  # noqa: E402

server = FastMCP("provenance")


@server.tool()
def load_module(name: str) -> str:
    module = importlib.import_module(name)
    return str(module.__file__)


if __name__ == "__main__":
    server.run()
