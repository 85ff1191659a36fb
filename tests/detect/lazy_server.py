"""A server that says how many detection rules its process has compiled (test_lazy_rules)."""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from _compat import FastMCP, run_server

server = FastMCP("lazy-rules-test")


@server.tool()
def compiled_rules(wait: float) -> str:
    """Waits, then counts the rules the process's detector compiled (-1: none loaded)."""
    time.sleep(wait)
    stage = sys.modules["mcptrace.policy.detect_stage"]._installed
    detector = stage._detector if stage is not None else None
    return str(-1 if detector is None else len(detector.rules))


if __name__ == "__main__":
    run_server(server, sys.argv)
