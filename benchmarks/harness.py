"""Alternating A/B measurement: uninstrumented vs instrumented, same run, ratios only.

Each scenario gives a baseline and an instrumented callable returning seconds (or another
cost).  Rounds alternate A B A B ... (the order flips every round so drift hits both), and
the result is the median of the per-round ratios with its min-max: on a shared, noisy
machine ratios from the same run are what can be compared, absolute times are not.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

Measure = Callable[[], float]


@dataclass
class Result:
    scenario: str
    unit: str
    baseline: list[float] = field(default_factory=list)
    instrumented: list[float] = field(default_factory=list)
    target: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # "ratio": instrumented / baseline per round; "delta": instrumented - baseline (e.g. MiB);
    # "value": a figure of mcptrace alone (e.g. spans/s), no baseline
    compare: str = "ratio"

    @property
    def ratios(self) -> list[float]:
        if self.compare == "value":
            return list(self.instrumented)
        pairs = zip(self.baseline, self.instrumented, strict=True)
        if self.compare == "delta":
            return [i - b for b, i in pairs]
        return [i / b for b, i in pairs if b > 0]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios) if self.ratios else float("nan")

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        if self.compare == "value":  # throughput: higher is better
            return self.ratio >= self.target
        return self.ratio <= self.target

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            ratio=self.ratio,
            ratio_min=min(self.ratios, default=float("nan")),
            ratio_max=max(self.ratios, default=float("nan")),
            baseline_median=statistics.median(self.baseline) if self.baseline else None,
            instrumented_median=statistics.median(self.instrumented) if self.instrumented else None,
            met=self.met,
        )
        return data


def rotate(measures: dict[str, Measure], rounds: int) -> dict[str, list[float]]:
    """Round-robin over the variants, ``rounds`` times: the starting variant moves by one
    each round (with two variants: A B, B A, A B ...), so drift hits every variant alike."""
    labels = list(measures)
    samples: dict[str, list[float]] = {label: [] for label in labels}
    for index in range(rounds):
        shift = index % len(labels)
        for label in labels[shift:] + labels[:shift]:
            samples[label].append(measures[label]())
    return samples


def alternate(
    scenario: str,
    baseline: Measure,
    instrumented: Measure,
    rounds: int,
    unit: str = "s",
    target: float | None = None,
    note: str = "",
    compare: str = "ratio",
) -> Result:
    samples = rotate({"a": baseline, "b": instrumented}, rounds)
    return Result(scenario, unit, samples["a"], samples["b"], target, note, compare=compare)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in handle if "model name" in line), ""
            )
    except OSError:
        cpu = platform.processor()
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
    }


def format_result(result: Result) -> str:
    ratios = result.ratios
    if not ratios:
        return f"{result.scenario:<44} no data"
    verdict = "" if result.met is None else ("  target met" if result.met else "  TARGET MISSED")
    if result.compare == "value":
        return (
            f"{result.scenario:<46} {result.ratio:,.0f} {result.unit}"
            f" [{min(ratios):,.0f}–{max(ratios):,.0f}]{verdict}"
        )
    base = statistics.median(result.baseline)
    inst = statistics.median(result.instrumented)
    scale, unit = (1e3, "ms") if result.unit == "s" else (1.0, result.unit)
    if result.compare == "delta":
        target = f" (target ≤ +{result.target:g} {unit})" if result.target is not None else ""
        figure = f"{result.ratio:+.1f} {unit} [{min(ratios):+.1f}–{max(ratios):+.1f}]"
    else:
        target = f" (target ≤ ×{result.target:.2f})" if result.target is not None else ""
        figure = f"×{result.ratio:.3f} [{min(ratios):.3f}–{max(ratios):.3f}]"
    return (
        f"{result.scenario:<46} {figure}  {base * scale:.2f} → {inst * scale:.2f} {unit}"
        f"{target}{verdict}"
    )
