"""Only the stdio echo round trip with its CPU and GC rows (and its floor and spans-only
variants): ``python -m benchmarks.cpu_roundtrip --json FILE [--rounds N] [--memory]``;
``--memory`` adds the server memory rows (peak RSS after 10,000 calls, with both floors).

The full suite (``python -m benchmarks``) runs this scenario too, among all the others; this
entry point exists for a shorter run of the per-call CPU figures alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from benchmarks._child import WARMUP_SECONDS, compile_mcptrace
from benchmarks.harness import format_result, machine
from benchmarks.roundtrip import SPANS_ONLY, measure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cpu_roundtrip")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="and the servers' peak RSS once each served 10,000 calls (with both floors)",
    )
    args = parser.parse_args(argv)
    compile_mcptrace()
    started = time.monotonic()
    results = measure(
        "echo tools/call, stdio", max(args.rounds, 5), "stdio", 1000, target=1.05,
        note="1000 calls per round, client and server instrumented",
        warmup_seconds=WARMUP_SECONDS, floor=True, variants={"spans only": SPANS_ONLY},
        cpu_rows=True, memory_after=10_000 if args.memory else 0,
    )  # fmt: skip
    for result in results:
        print(format_result(result), flush=True)
    if args.json:
        document = {
            "machine": machine(),
            "rounds": max(args.rounds, 5),
            "smoke": False,
            "results": [result.as_dict() for result in results],
            "components": {},
            "seconds": {"cpu_roundtrip": round(time.monotonic() - started, 1)},
        }
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
