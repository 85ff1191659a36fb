"""Run the benchmark suite: ``python -m benchmarks [--json FILE] [--smoke] [--rounds N] [names]``.

Every scenario alternates uninstrumented and instrumented runs in this one invocation and
reports the median ratio with its min-max.  ``--smoke`` runs each scenario with tiny sizes
to check the harness (CI), not to measure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from benchmarks import export, roundtrip, startup
from benchmarks.harness import Result, format_result, machine

SCENARIOS: dict[str, Callable[[int, bool], list[Result]]] = {
    "startup": startup.run,
    "roundtrip": roundtrip.run,
    "export": export.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*SCENARIOS, []], metavar="SCENARIO")
    parser.add_argument("--rounds", type=int, default=7, help="A/B rounds per scenario (>= 5)")
    parser.add_argument("--smoke", action="store_true", help="2 rounds, harness check only")
    parser.add_argument("--json", metavar="FILE", help="also write results as JSON")
    args = parser.parse_args(argv)
    rounds = 2 if args.smoke else max(args.rounds, 5)
    info = machine()
    print(f"machine: {info['cpus']} CPU(s), {info['cpu']}, Python {info['python']}")
    results: list[Result] = []
    for name in args.names or list(SCENARIOS):
        for result in SCENARIOS[name](rounds, args.smoke):
            print(format_result(result), flush=True)
            results.append(result)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(
                {"machine": info, "rounds": rounds, "results": [r.as_dict() for r in results]},
                handle,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
