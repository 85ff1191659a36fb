"""A server with ordinary tools for `policy suggest`: reads, scratch writes, a peer, a program.

``SUGGEST_DATA`` is the data folder; ``SUGGEST_PORT`` a loopback TCP sink.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from _compat import FastMCP, run_server

server = FastMCP("suggest-test")
DATA = os.environ["SUGGEST_DATA"]


@server.tool()
def report() -> str:
    """Concatenate the data files."""
    parts = []
    for name in sorted(os.listdir(DATA)):
        if name.endswith(".txt"):
            with open(os.path.join(DATA, name), encoding="utf-8") as handle:
                parts.append(handle.read().strip())
    return " ".join(parts)


@server.tool()
def save(text: str) -> str:
    """Write text to a scratch file and read it back."""
    with tempfile.NamedTemporaryFile("w+", suffix=".txt") as scratch:
        scratch.write(text)
        scratch.flush()
        scratch.seek(0)
        return scratch.read()


@server.tool()
def notify() -> str:
    """Tell the loopback sink something happened."""
    with socket.create_connection(("127.0.0.1", int(os.environ["SUGGEST_PORT"])), timeout=5) as s:
        s.sendall(b"done")
    return "notified"


@server.tool()
def run_program(program: str = "true") -> str:
    """Run a program (true by default)."""
    return str(subprocess.run([program], capture_output=True).returncode)


@server.tool()
def read_file(path: str) -> str:
    """Read any file (the workload reads one in the data folder)."""
    with open(path, encoding="utf-8") as handle:
        return handle.read()[:100]


@server.tool()
def run_snippet(code: str) -> str:
    """Run base64-encoded Python (the workload never calls it: new code under a policy)."""
    scope: dict[str, object] = {}
    exec(base64.b64decode(code).decode(), scope)
    return str(scope.get("result"))


if __name__ == "__main__":
    run_server(server, sys.argv)
