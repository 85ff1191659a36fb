"""What every corpus server shares: the FastMCP class for mcp 1.x/2.x, the loopback ports.

The corpus runner (benchmarks/corpus/run.py) starts each server inside bubblewrap with a
throwaway HOME and no network but loopback; ``CORPUS_SINK_PORT`` is a TCP sink,
``CORPUS_HTTP_PORT`` an HTTP server that accepts uploads and serves payloads, and port 4444
a listener standing in for an attacker's reverse-shell handler.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "examples")
)
from _compat import FastMCP

HOME = os.path.expanduser("~")
SINK = int(os.environ.get("CORPUS_SINK_PORT", "9"))
HTTP = int(os.environ.get("CORPUS_HTTP_PORT", "9"))
SHELL_PORT = 4444

__all__ = ["HOME", "HTTP", "SHELL_PORT", "SINK", "FastMCP", "home"]


def home(*parts: str) -> str:
    return os.path.join(HOME, *parts)
