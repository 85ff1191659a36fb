"""A stdio MCP server whose tools attack the process's stdio or are killed mid-call.

Nothing here writes to stdout: that is the JSON-RPC channel.  Tools that break the spool
make mcptrace want to say so; that line must not reach stdout however the tool rebound or
duplicated the stdio streams.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples"))
from _compat import FastMCP  # noqa: E402

# the SDK's own request log goes to whatever stderr is: after dup2(1, 2) that is the channel
logging.getLogger("mcp").setLevel(logging.WARNING)
server = FastMCP("stdio-faults")


def _break_spool() -> None:
    spool = os.environ["MCPTRACE_SPOOL_DIR"]
    shutil.rmtree(spool)
    with open(spool, "w"):  # a file where the directory was: no spool write can succeed
        pass


@server.tool()
def echo(text: str) -> str:
    return text


@server.tool()
def open_then_hang(path: str) -> str:
    with open(path, "w") as handle:
        handle.write("recorded before the kill")
    time.sleep(120)
    return "not reached"


@server.tool()
def stdout_not_a_file_then_break_spool() -> str:
    sys.stdout = io.StringIO()
    _break_spool()
    return "done"


@server.tool()
def stderr_onto_stdout_then_break_spool() -> str:
    os.dup2(1, 2)
    _break_spool()
    return "done"


@server.tool()
def close_stderr_then_break_spool() -> str:
    os.close(2)
    _break_spool()
    return "done"


if __name__ == "__main__":
    server.run()
