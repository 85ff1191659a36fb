"""An MCP server (stdio) whose tool reports the server's own mcptrace threads.

    python threads_server.py

``mcptrace_threads(wait)`` sleeps ``wait`` seconds (long enough for the module inventory's
start-up walks), then returns JSON: the names of the threads whose name starts with
"mcptrace", the time it looked, what its file descriptors point at and whether the module
inventory gave start-up's freed memory back.  Nothing here
writes to stdout: that is the JSON-RPC channel.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples"))
from _compat import FastMCP  # noqa: E402

server = FastMCP("threads")


@server.tool()
def mcptrace_threads(wait: float) -> str:
    time.sleep(wait)
    names = sorted(t.name for t in threading.enumerate() if t.name.startswith("mcptrace"))
    inventory = getattr(sys.modules.get("mcptrace.provenance.instrumentor"), "_inventory", None)
    return json.dumps(
        {
            "threads": names,
            "at": time.time_ns(),
            "open_files": open_files(),
            "trimmed": getattr(inventory, "trimmed", None),  # start-up's freed memory given back
        }
    )


def open_files() -> list[str]:
    """What this process's file descriptors point at."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass  # closed meanwhile (the listing's own descriptor)
    return targets


if __name__ == "__main__":
    server.run()
