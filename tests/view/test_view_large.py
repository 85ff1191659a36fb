"""A spool of 10^5 spans renders in bounded time and memory (generous bounds, not benchmarks)."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from spoolgen import write_large_spool

from support import PYTHON, clean_env

CALLS = 50_000  # a client span and a server span each: 10^5 spans
TIME_LIMIT_S = 60.0  # per rendering, on a loaded CI machine; typically a few seconds
RSS_GROWTH_LIMIT_MIB = 200.0

# Renders in a fresh interpreter and reports its own peak RSS growth over the baseline
# taken after imports (so neither pytest nor the spool generator count). The peak is the
# process's own high-water mark (VmHWM), not ru_maxrss: Linux carries the parent's peak
# across (v)fork and exec into ru_maxrss, so a child of a grown pytest worker read that
# worker's peak (223 MiB "growth" in one CI run, 75 MiB alone).
MEASURE = textwrap.dedent(
    """
    import json, sys, time
    from mcptrace.cli import main

    def status_kib(field):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise SystemExit(f"no {field} in /proc/self/status")

    def rss_kib():
        return status_kib("VmRSS")

    spool, out_dir = sys.argv[1], sys.argv[2]
    baseline = rss_kib()
    timings = {}
    for name, options in [("tree", []), ("json", ["--json"]),
                          ("html", ["--html", f"{out_dir}/report.html"])]:
        started = time.monotonic()
        with open(f"{out_dir}/{name}.out", "w") as out:
            sys.stdout = out
            assert main(["view", spool, *options]) == 0
            sys.stdout = sys.__stdout__
        timings[name] = time.monotonic() - started
    peak = status_kib("VmHWM")
    print(json.dumps({"timings": timings, "growth_mib": (peak - baseline) / 1024}))
    """
)


@pytest.fixture(scope="module")
def large_spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spool = tmp_path_factory.mktemp("large") / "spool"
    write_large_spool(spool, CALLS)
    return spool


@pytest.mark.slow
def test_large_spool_renders_in_bounded_time_and_memory(large_spool: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [PYTHON, "-c", MEASURE, str(large_spool), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    measured = json.loads(result.stdout.splitlines()[-1])
    for name, seconds in measured["timings"].items():
        assert seconds < TIME_LIMIT_S, f"{name} took {seconds:.1f}s"
    assert measured["growth_mib"] < RSS_GROWTH_LIMIT_MIB, measured

    tree = (tmp_path / "tree.out").read_text(encoding="utf-8").splitlines()
    # every request is counted; only the most recent ones are listed in detail
    assert tree[-2].startswith(f"summary {CALLS} requests, {CALLS} tool calls, 2500 failed")
    assert "49,000" not in tree[2] and "… 49000 earlier requests not shown" in tree[2]
    assert sum(1 for line in tree if "tools/call " in line) == 1000
    assert tree[1].endswith(f"{CALLS} requests, 2500 failed")
    data = json.loads((tmp_path / "json.out").read_text(encoding="utf-8"))
    (session,) = data["sessions"]
    assert session["requests"] == CALLS and session["requests_not_shown"] == CALLS - 1000
    assert len(session["calls"]) == 1000
    # the most recent requests, complete: both halves joined, events from the server span
    last = session["calls"][-1]
    assert last["request_id"] == str(CALLS) and last["client"] and last["server"]
    assert last["activity"]["counts"] == {"file": 1, "network": 1, "import": 1}
    assert data["summary"]["events"] == {"file": CALLS, "network": CALLS, "import": CALLS}
    assert len(data["summary"]["hosts_contacted"]) == 50
    assert (tmp_path / "report.html").stat().st_size < 20 * 1024 * 1024


@pytest.mark.slow
def test_trace_filter_finds_one_request_in_a_large_spool(
    large_spool: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mcptrace.cli import main

    trace_id = f"{(0xC1 << 120) | (31_337 << 96) | 0x7ACE:032x}"  # the 31337th client trace
    assert main(["view", str(large_spool), "--json", "--trace", trace_id[:10]]) == 0
    data = json.loads(capsys.readouterr().out)
    (session,) = data["sessions"]
    (call,) = session["calls"]
    assert call["trace_id"] == trace_id and call["request_id"] == "31337"
    assert call["client"] and call["server"]
    assert call["activity"]["counts"] == {"file": 1, "network": 1, "import": 1}
    assert data["summary"]["requests"] == 1
