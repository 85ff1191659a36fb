"""The benchmark harness computes what it claims, and the README shows the committed figures."""

from __future__ import annotations

import json
import sys

import pytest
from benchmarks._child import ServedChild
from benchmarks.harness import alternate
from benchmarks.table import END, START, render

from support import ROOT


def test_alternate_flips_order_and_takes_the_median_ratio() -> None:
    calls: list[str] = []

    def baseline() -> float:
        calls.append("a")
        return 2.0

    values = iter([2.2, 2.4, 2.6, 9.0, 2.3])

    def instrumented() -> float:
        calls.append("b")
        return next(values)

    result = alternate("s", baseline, instrumented, rounds=5, target=1.2)
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a", "a", "b"]
    assert result.ratios == [1.1, 1.2, 1.3, 4.5, 1.15]
    assert result.ratio == 1.2
    assert result.met is True


def test_delta_and_value_comparisons() -> None:
    memory = alternate(
        "m", lambda: 100.0, lambda: 103.0, rounds=3, unit="MiB", target=5.0, compare="delta"
    )
    assert memory.ratio == 3.0 and memory.met is True
    data = memory.as_dict()
    assert data["ratio_min"] == data["ratio_max"] == 3.0


def test_readme_table_matches_the_committed_results() -> None:
    document = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    assert document["smoke"] is False and document["rounds"] >= 5
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index(START) : readme.index(END) + len(END)]
    assert table == render(document)


SERVED = """
import json, sys
print("noise before ready")
print(json.dumps({"ready": True}), flush=True)
for n, line in enumerate(sys.stdin):
    request = json.loads(line)
    if request.get("fail"):
        sys.stderr.write("the child broke")
        sys.exit(3)
    print(json.dumps({"round": n, "calls": request.get("calls", 0)}), flush=True)
"""


def test_served_child_answers_rounds_and_reports_a_failure_with_its_stderr() -> None:
    child = ServedChild([sys.executable, "-c", SERVED], {})
    try:
        child.wait_ready()
        assert child.round(calls=5) == {"round": 0, "calls": 5}
        assert child.round() == {"round": 1, "calls": 0}
        with pytest.raises(RuntimeError, match="the child broke"):
            child.round(fail=True)
    finally:
        child.close()
    assert child.process.returncode is not None
