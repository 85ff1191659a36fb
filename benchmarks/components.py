"""The component benchmarks (sensor, policy, provenance) run as their own scripts, because
each needs fresh interpreters per variant; their JSON is folded into the suite's output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCRIPTS = {
    "sensor": ["bench_sensor.py", "--json"],
    "events": ["bench_events.py", "--json"],
    "policy": ["bench_policy.py", "--json"],
    "provenance": ["bench_provenance.py", "--json", "-"],
}


ROUNDS_OPTION = {"policy", "provenance"}  # the scripts that take --rounds
# Fresh interpreters importing the mcp stack are the noisiest figures of the suite (each
# round's ratio ranges ±0.3 on this VM): their median needs more rounds to settle.
MIN_ROUNDS = {"provenance": 15}


def run(name: str, smoke: bool, rounds: int = 5) -> dict[str, Any]:
    script, *args = SCRIPTS[name]
    command = [sys.executable, str(HERE / script), *args]
    if smoke:
        command.append("--quick")
    elif name in ROUNDS_OPTION:
        command += ["--rounds", str(max(rounds, MIN_ROUNDS.get(name, 0)))]
    output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=1800)
    figures: dict[str, Any] = json.loads(output.stdout[output.stdout.index("{") :])
    return figures


def lines(name: str, figures: dict[str, Any]) -> list[str]:
    """Human-readable summary lines of one component's figures."""
    out: list[str] = []
    if name == "provenance":
        for variant, figure in figures.get("vs_plain", {}).items():
            target = f" (target ≤ ×{figure['target']})" if "target" in figure else ""
            out.append(
                f"start-up `import mcp, …`, {variant} vs plain python: ×{figure['median']:.3f}"
                f" [{figure['min']:.3f}–{figure['max']:.3f}]{target}"
            )
        for variant, figure in figures.get("vs_no_provenance", {}).items():
            out.append(
                f"provenance start-up, {variant} cache vs no provenance: ×{figure['median']:.3f}"
                f" [{figure['min']:.3f}–{figure['max']:.3f}]"
            )
        return out
    targets = figures.get("targets", {})
    for key, figure in figures.items():
        if isinstance(figure, dict) and "median" in figure:
            target = targets.get(key)
            suffix = f" (target ≤ {target})" if target is not None else ""
            out.append(
                f"{name}: {key}: {figure['median']:.3g} [{figure['min']:.3g}–{figure['max']:.3g}]"
                f"{suffix}"
            )
    return out
