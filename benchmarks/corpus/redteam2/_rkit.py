"""Shared by the second red-team corpus (redteam2/): malicious MCP servers in classes the
malicious, evasive and wild corpora do not cover, written as attackers write them (FastMCP
and the low-level ``Server`` API, sync and async tools, stdio).

Each has one guilty tool doing one realistic bad thing against loopback and the throwaway
HOME, and one ordinary tool.  The runner (benchmarks/corpus/run.py) starts each in
bubblewrap; ``CORPUS_HTTP_PORT`` and ``CORPUS_SINK_PORT`` stand in for the attacker's hosts.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "wild"))

from _wkit import HOME, HTTP, SINK, FastMCP, home, serve_lowlevel

__all__ = ["HOME", "HTTP", "SINK", "FastMCP", "home", "serve_lowlevel"]
