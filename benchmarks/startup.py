"""Start-up cost of ``mcptrace run`` (fresh processes, so cold interpreter start each time)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Result, alternate

STACK = ("mcp", "pydantic", "httpx", "anyio", "starlette")


def import_stack() -> str:
    """``import mcp, pydantic, httpx, anyio, starlette`` limited to what is installed
    (mcp 2.x depends on httpx2 instead of httpx)."""
    present = [name for name in STACK if importlib.util.find_spec(name) is not None]
    return "import " + ", ".join(present)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MCPTRACE_"))}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _instrumented_command(code: str) -> list[str]:
    return [sys.executable, "-m", "mcptrace.cli", "run", "--", sys.executable, "-c", code]


def run(rounds: int, smoke: bool = False) -> list[Result]:
    spool = Path(tempfile.mkdtemp(prefix="mcptrace-bench-"))
    env = _env(MCPTRACE_SPOOL_DIR=str(spool), MCPTRACE_HASH_CACHE=str(spool / "cache.sqlite3"))
    results = []
    stack = import_stack()
    for label, code in (("python -c pass", "pass"), (stack.removeprefix("import "), stack)):
        results.append(
            alternate(
                f"start-up: {label}",
                lambda code=code: _timed([sys.executable, "-c", code], _env()),  # type: ignore[misc]
                lambda code=code: _timed(_instrumented_command(code), env),  # type: ignore[misc]
                rounds,
                note="whole-process wall time, `mcptrace run` (CLI + exec + bootstrap) vs plain",
            )
        )
    return results
