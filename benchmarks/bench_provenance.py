"""Start-up cost of module provenance: hashing every loaded module file, cold and warm cache.

    python benchmarks/bench_provenance.py [--rounds N] [--quick] [--json [FILE]]

Four variants, each a fresh interpreter running ``import mcp, pydantic, anyio, starlette``
(those installed), alternated in a shuffled order every round:

* ``plain``        uninstrumented Python;
* ``no-provenance`` instrumented like ``mcptrace run`` with ``MCPTRACE_SENSOR`` without
  ``import`` (provenance off);
* ``cold``         provenance on, an empty hash cache (every module file hashed);
* ``warm``         provenance on, the cache filled by an earlier process;
* ``floor``        no mcptrace: the OTel SDK only, emitting one log record per loaded module
  at exit to an exporter that keeps them unencoded (``_bare_sdk.install_module_records``):
  less than any OTel-based provenance with a record per module can cost.

``--breakdown`` adds ``no-provenance/logs-off`` and ``warm/logs-off`` (``OTEL_LOGS_EXPORTER=
none``): their ratio is provenance's own work (stat, cache, RECORD) without the cost of
encoding hundreds of per-module log records into the spool.

``floor`` then runs extra rounds, alternating with ``plain`` only, until it has
``--floor-rounds`` samples (31 by default): whether the floor is above the warm target is
the question the floor exists to answer, so its median gets a 95% confidence interval
(bootstrap, seeded) narrow enough to tell.  Every ratio against plain reports that interval.

The cost is the child's CPU time (user + system, from ``os.wait4``): on this shared VM it is
far less noisy than wall time, and provenance's background hashing thread counts too.  The
instrumented processes get the environment ``mcptrace run`` would exec them with, so the
``mcptrace`` CLI's own start-up is not measured.  Printed: median ratio and min-max per
variant against ``plain`` and against ``no-provenance``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

STACK = ("mcp", "pydantic", "anyio", "starlette")
TARGETS = {"warm": 1.05, "cold": 1.15}
VARIANTS = ("plain", "no-provenance", "cold", "warm", "floor")
BREAKDOWN = ("no-provenance/logs-off", "warm/logs-off")
SENSOR_WITHOUT_IMPORT = "file,network,process,code,native"


def import_code() -> str:
    present = [name for name in STACK if importlib.util.find_spec(name) is not None]
    return "import " + ", ".join(present)


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MCPTRACE_"))}
    env.pop("PYTHONPATH", None)
    env.pop("TRACEPARENT", None)
    return env


def _instrumented_env(spool: Path, **extra: str) -> dict[str, str]:
    from mcptrace.cli import child_environment

    return child_environment({**_base_env(), "MCPTRACE_SPOOL_DIR": str(spool), **extra})


def child_cpu_seconds(command: list[str], env: dict[str, str]) -> float:
    """User + system CPU time of one child process, from its rusage."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read() if process.stderr else b""
    if process.stderr:
        process.stderr.close()
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed: {stderr.decode(errors='replace')}")
    return usage.ru_utime + usage.ru_stime


class Bench:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.code = import_code()
        self.command = [sys.executable, "-c", self.code]
        here = str(Path(__file__).parent)
        floor = f"import sys; sys.path.insert(0, {here!r}); import _bare_sdk; "
        floor += "_bare_sdk.install_module_records('floor'); "
        self.floor_command = [sys.executable, "-c", floor + self.code]
        self.warm_cache = work / "warm.sqlite3"
        self.cold_count = 0

    def env_for(self, variant: str) -> dict[str, str]:
        if variant.endswith("/logs-off"):
            return {**self.env_for(variant.removesuffix("/logs-off")), "OTEL_LOGS_EXPORTER": "none"}
        spool = self.work / f"spool-{variant}"
        if variant == "plain":
            return _base_env()
        if variant == "no-provenance":
            return _instrumented_env(spool, MCPTRACE_SENSOR=SENSOR_WITHOUT_IMPORT)
        if variant == "warm":
            return _instrumented_env(spool, MCPTRACE_HASH_CACHE=str(self.warm_cache))
        self.cold_count += 1  # a new, empty cache every time
        cold = self.work / f"cold-{self.cold_count}.sqlite3"
        return _instrumented_env(spool, MCPTRACE_HASH_CACHE=str(cold))

    def measure(self, variant: str) -> float:
        if variant == "floor":
            return child_cpu_seconds(self.floor_command, _base_env())
        return child_cpu_seconds(self.command, self.env_for(variant))

    def prepare(self) -> None:
        """Fill the warm cache, and let fresh .pyc files age past the racy window."""
        import time

        from mcptrace.provenance.describe import RACY_WINDOW_NS

        sys.path.insert(0, str(Path(__file__).parent))
        from _child import compile_mcptrace

        compile_mcptrace()
        for _ in range(2):
            self.measure("warm")
            time.sleep(RACY_WINDOW_NS / 1e9 + 0.1)
        self.measure("warm")


def median_ci95(values: list[float], resamples: int = 4000) -> tuple[float, float]:
    """95% bootstrap confidence interval of the median (seeded: the same samples give the
    same interval)."""
    draw = random.Random(0)
    medians = sorted(
        statistics.median(draw.choices(values, k=len(values))) for _ in range(resamples)
    )
    return medians[int(resamples * 0.025)], medians[int(resamples * 0.975) - 1]


def summarize(
    samples: dict[str, list[float]], floor_pairs: list[tuple[float, float]] | None = None
) -> dict[str, Any]:
    def ratios(variant: str, base: str) -> list[float]:
        pairs = list(zip(samples[variant], samples[base], strict=True))
        if variant == "floor" and base == "plain":
            pairs += floor_pairs or []
        return [v / b for v, b in pairs if b > 0]

    result: dict[str, Any] = {"cpu_ms_median": {}, "vs_plain": {}, "vs_no_provenance": {}}
    for variant in samples:
        result["cpu_ms_median"][variant] = round(statistics.median(samples[variant]) * 1000, 1)
    for variant in ("no-provenance", "cold", "warm", "floor"):
        if variant not in samples:
            continue
        values = ratios(variant, "plain")
        low, high = median_ci95(values)
        result["vs_plain"][variant] = {  # the targets are against plain python
            "median": round(statistics.median(values), 3),
            "min": round(min(values), 3),
            "max": round(max(values), 3),
            "ci95": [round(low, 3), round(high, 3)],
            "rounds": len(values),
            **({"target": TARGETS[variant]} if variant in TARGETS else {}),
        }
    for variant in ("cold", "warm") + (("warm/logs-off",) if "warm/logs-off" in samples else ()):
        base = "no-provenance/logs-off" if variant.endswith("/logs-off") else "no-provenance"
        values = ratios(variant, base)
        result["vs_no_provenance"][variant] = {
            "median": round(statistics.median(values), 3),
            "min": round(min(values), 3),
            "max": round(max(values), 3),
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 rounds (a smoke run)")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE", help="JSON output")
    parser.add_argument("--breakdown", action="store_true", help="also measure with log export off")
    parser.add_argument(
        "--floor-rounds", type=int, default=31, help="floor samples in all (extra plain/floor)"
    )
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else max(5, args.rounds)
    floor_extra = 0 if args.quick else max(0, args.floor_rounds - rounds)
    variants = VARIANTS + (BREAKDOWN if args.breakdown else ())
    samples: dict[str, list[float]] = {variant: [] for variant in variants}
    with tempfile.TemporaryDirectory(prefix="mcptrace-bench-provenance-") as temp:
        bench = Bench(Path(temp))
        bench.prepare()
        order = list(variants)
        for _ in range(rounds):
            random.shuffle(order)
            for variant in order:
                samples[variant].append(bench.measure(variant))
        floor_pairs: list[tuple[float, float]] = []
        for index in range(floor_extra):
            pair = ("floor", "plain") if index % 2 else ("plain", "floor")
            measured = {variant: bench.measure(variant) for variant in pair}
            floor_pairs.append((measured["floor"], measured["plain"]))
    result = summarize(samples, floor_pairs)
    result.update(rounds=rounds, code=bench.code, python=sys.version.split()[0])
    if args.json:
        text = json.dumps(result, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    if args.json != "-":
        print(f"{bench.code}  ({rounds} rounds, child CPU time, Python {result['python']})")
        for variant, ms in result["cpu_ms_median"].items():
            print(f"  {variant:<22} {ms:8.1f} ms")
        for label, key in (("uninstrumented", "vs_plain"), ("no provenance", "vs_no_provenance")):
            for variant, r in result[key].items():
                target = r.get("target")
                mark = "" if target is None else f"  target ≤ ×{target}"
                ci = f", 95% CI ×{r['ci95'][0]:.3f}–×{r['ci95'][1]:.3f}" if "ci95" in r else ""
                print(
                    f"  {variant:<22} vs {label:<15} ×{r['median']:.3f}"
                    f" (min ×{r['min']:.3f}, max ×{r['max']:.3f}{ci}){mark}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
