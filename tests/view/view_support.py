"""Helpers for the view tests: snapshot comparison."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"


def assert_snapshot(name: str, actual: str) -> None:
    """Compare with tests/view/snapshots/NAME; MCPTRACE_UPDATE_SNAPSHOTS=1 rewrites it."""
    path = SNAPSHOTS / name
    if os.environ.get("MCPTRACE_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"no snapshot {path}; run with MCPTRACE_UPDATE_SNAPSHOTS=1 to create it")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"output differs from {path} (MCPTRACE_UPDATE_SNAPSHOTS=1 updates)"
