"""What judging a finished tool call costs (detections run at span end, never in the hook).

    python benchmarks/bench_detect.py

A call's records are capped at 256 per category, so the worst case is 256 file opens of
distinct paths never seen before (cold), and the common one the same paths again (warm:
the path gate remembers them).  Prints the median of 5 runs of each, in milliseconds.
"""

from __future__ import annotations

import statistics
import tempfile
import time

from mcptrace.policy.detect import Action, Detector, builtin_rules


def main() -> None:
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for run in range(5):
            detector = Detector(builtin_rules().values())
            actions = [
                Action(i, "mcptrace.file.open", {"file.path": f"{scratch}/r{run}/f{i}.txt",
                                                 "mcptrace.file.access": "read"})
                for i in range(256)
            ]  # fmt: skip
            started = time.perf_counter()
            detector.evaluate(actions, "tool")
            cold.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            detector.evaluate(actions, "tool")
            warm.append((time.perf_counter() - started) * 1000)
    print(f"256 file opens, new paths: {statistics.median(cold):.1f} ms per call")
    print(f"256 file opens, paths seen before: {statistics.median(warm):.2f} ms per call")


if __name__ == "__main__":
    main()
