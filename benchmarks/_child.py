"""Helpers shared by the component benchmark scripts (run as scripts: ``import _child``)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without mcptrace/OTel settings, so every variant starts alike."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "MCPTRACE_")) and k not in ("TRACEPARENT", "PYTHONPATH")
    }
    env.update(extra)
    return env


def run_json(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run a benchmark child and return the last JSON object it printed."""
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise SystemExit(f"benchmark child failed: {command}\n{result.stderr[-2000:]}")
    values: dict[str, float] = json.loads(lines[-1])
    return values


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}
