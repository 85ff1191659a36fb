"""Run the benchmark suite: ``python -m benchmarks [--json FILE] [--smoke] [--rounds N] [names]``.

Every scenario alternates uninstrumented and instrumented runs in this one invocation and
reports the median ratio with its min-max (or a delta, for memory; a rate, for export).  The
sensor, policy and provenance scenarios run as their own scripts (fresh interpreters per
variant) and are folded in.  ``--smoke`` runs everything with tiny sizes to check the
harness (CI), not to measure.  ``python -m benchmarks.table FILE`` renders the README table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks import components, export, roundtrip, startup
from benchmarks._child import compile_mcptrace
from benchmarks.harness import Result, format_result, machine

SCENARIOS: dict[str, Callable[[int, bool], list[Result]]] = {
    "startup": startup.run,
    "roundtrip": roundtrip.run,
    "export": export.run,
}
NAMES = [*SCENARIOS, *components.SCRIPTS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="SCENARIO", help=", ".join(NAMES))
    parser.add_argument("--rounds", type=int, default=5, help="A/B rounds per scenario (>= 5)")
    parser.add_argument("--smoke", action="store_true", help="2 rounds, tiny sizes: harness only")
    parser.add_argument("--json", metavar="FILE", help="also write results as JSON")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(NAMES))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    rounds = 2 if args.smoke else max(args.rounds, 5)
    compile_mcptrace()
    info = machine()
    print(f"machine: {info['cpus']} CPU(s), {info['cpu']}, Python {info['python']}", flush=True)
    started = time.monotonic()
    results: list[Result] = []
    figures: dict[str, Any] = {}
    durations: dict[str, float] = {}
    for name in args.names or NAMES:
        begun = time.monotonic()
        if name in SCENARIOS:
            for result in SCENARIOS[name](rounds, args.smoke):
                print(format_result(result), flush=True)
                results.append(result)
        else:
            figures[name] = components.run(name, args.smoke, rounds)
            for line in components.lines(name, figures[name]):
                print(line, flush=True)
        durations[name] = round(time.monotonic() - begun, 1)
        print(f"({name} took {durations[name]:.0f} s)", flush=True)
    print(f"suite took {time.monotonic() - started:.0f} s", flush=True)
    if args.json:
        document = {
            "machine": info,
            "rounds": rounds,
            "smoke": args.smoke,
            "results": [result.as_dict() for result in results],
            "components": figures,
            "seconds": durations,
        }
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
