"""Every MCP duration point a process recorded is in the spool however it ends: a normal
exit, ``os._exit`` and SIGTERM at its default (the plain histograms are exported by the
metric reader's last collection, which each of these endings runs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mcptrace.export.spool_reader import MetricPoint
from mcptrace.mcp.metrics import BUCKETS
from support import PYTHON, clean_env, mcptrace_cmd, metric_points

PROGRAM = Path(__file__).resolve().parent / "histogram_endings_program.py"
COUNT = 500


def run(how: str, spool: Path) -> list[MetricPoint]:
    result = subprocess.run(
        mcptrace_cmd("run", "--spool", str(spool), "--", PYTHON, str(PROGRAM), how, str(COUNT)),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == (-15 if how == "sigterm" else 0), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return [p for p in metric_points(spool) if p.name == "mcp.server.operation.duration"]


@pytest.mark.parametrize("how", ["return", "os_exit", "sigterm"])
def test_no_point_is_lost_at_the_end(how: str, spool: Path) -> None:
    points = run(how, spool)
    (point,) = points  # one collection: the last one
    assert point.attributes == {"mcp.method.name": "tools/call", "gen_ai.tool.name": "echo"}
    assert int(point.data["count"]) == COUNT
    assert [float(b) for b in point.data["explicitBounds"]] == list(BUCKETS)
    assert sum(int(c) for c in point.data["bucketCounts"]) == COUNT
    assert float(point.data["sum"]) == pytest.approx(sum(0.001 * (i % 40) for i in range(COUNT)))
    assert len(point.data["exemplars"]) == 3  # buckets ≤0.01, ≤0.02, ≤0.05 had points


def test_a_forked_child_ending_by_os_exit_writes_its_points(spool: Path) -> None:
    """As with the SDK's histogram: the child's last collection has its own points and the
    ones it inherited from its parent; the parent's has only the parent's."""
    points = run("fork", spool)
    by_tool: dict[str, list[int]] = {}
    for point in points:
        by_tool.setdefault(point.attributes["gen_ai.tool.name"], []).append(
            int(point.data["count"])
        )
    assert by_tool == {"child": [5], "echo": [COUNT, COUNT]}
