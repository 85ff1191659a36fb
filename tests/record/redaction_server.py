"""An MCP server whose tools push given strings through every channel mcptrace records.

python redaction_server.py [ARGS...]   # stdio; extra arguments are ignored (the client puts
                                       # secrets there to test the connect command)
Each tool takes a batch, so one session carries the whole corpus.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from _compat import FastMCP, McpError
from mcp import types

server = FastMCP("redaction-server")


@server.tool()
def spawn(argvs: list[list[str]]) -> int:
    """Start each argv (its program is /bin/true: argv[0] is only a name)."""
    for argv in argvs:
        subprocess.run(argv, executable="/bin/true", check=False)
    return len(argvs)


@server.tool()
def shell(commands: list[str]) -> int:
    """os.system each command line (each starts with ':' so the shell runs nothing)."""
    for command in commands:
        os.system(command + " >/dev/null 2>&1")
    return len(commands)


@server.tool()
def fetch(urls: list[str]) -> int:
    """Open each URL with an opener that has no handlers: the request is audited, then
    refused without touching the network."""
    opener = urllib.request.OpenerDirector()
    for url in urls:
        try:
            opener.open(url, timeout=1)
        except Exception:
            pass
    return len(urls)


@server.tool()
def fail(message: str) -> str:
    """Raise with the message (the SDK answers with an isError result holding it)."""
    raise RuntimeError(message)


@server.tool()
def refuse(message: str) -> str:
    """Answer with a JSON-RPC error whose message is the given text."""
    raise McpError(types.ErrorData(code=-32001, message=message))


@server.tool()
def echo(data: dict[str, Any], texts: list[str]) -> dict[str, Any]:
    """Return what was given, as structured content and as text."""
    return {"data": data, "texts": texts}


@server.resource("corpus://{name}")
def corpus_resource(name: str) -> str:
    return name


if __name__ == "__main__":
    server.run()
