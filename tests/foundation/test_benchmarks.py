"""The benchmark harness computes what it claims, and the README shows the committed figures."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from benchmarks._child import ServedChild, clean_env
from benchmarks.harness import alternate, rotate
from benchmarks.table import CPU_END, CPU_START, END, START, render, render_cpu

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


def test_readme_cpu_table_matches_the_committed_results() -> None:
    document = json.loads((ROOT / "benchmarks" / "results-cpu.json").read_text())
    assert document["smoke"] is False and document["rounds"] >= 5
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index(CPU_START) : readme.index(CPU_END) + len(CPU_END)]
    assert table == render_cpu(document)


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


def test_rotate_visits_every_variant_each_round_and_moves_the_start() -> None:
    calls: list[str] = []

    def measure(label: str) -> Callable[[], float]:
        def run() -> float:
            calls.append(label)
            return float(len(calls))

        return run

    samples = rotate({name: measure(name) for name in "abc"}, rounds=4)
    assert calls == list("abcbcacababc")
    assert samples == {
        "a": [1.0, 6.0, 8.0, 10.0],
        "b": [2.0, 4.0, 9.0, 11.0],
        "c": [3.0, 5.0, 7.0, 12.0],
    }


def run_in_benchmarks(script: str) -> str:
    """Run ``script`` in a plain interpreter, the benchmarks directory as ``sys.argv[1]``;
    its stdout."""
    result = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "benchmarks")],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


FLOOR = """
import atexit, json, sys
sys.path.insert(0, sys.argv[1])
import _bare_sdk
from opentelemetry import trace

spans, logs = _bare_sdk.install_module_records("floor-test")
with trace.get_tracer("mcp-python-sdk").start_as_current_span("MCP send tools/call echo") as span:
    recording = span.is_recording()
modules = sum(isinstance(getattr(m, "__file__", None), str) for m in list(sys.modules.values()))
proto_at_exit = "google.protobuf" in sys.modules
atexit._run_exitfuncs()  # emits a record per module, shuts the providers down (flushing them)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
spans.file.seek(0)
traces = ExportTraceServiceRequest.FromString(spans.file.read())
out = {
    "recording": recording,
    "modules": modules,
    "spans": [
        [span.name, [kv.key for kv in span.attributes]]
        for resource in traces.resource_spans for scope in resource.scope_spans
        for span in scope.spans
    ],
    "logs": [
        [record.log_record.event_name, list(record.log_record.attributes)]
        for record in logs.records
    ],
    "proto_at_exit": proto_at_exit,
}
print(json.dumps(out))
"""


def test_the_floor_makes_sdk_spans_real_encodes_them_and_emits_a_record_per_module() -> None:
    """The benchmark's floor variant does the work it claims (see benchmarks/_bare_sdk.py),
    and no more: until spans are exported, protobuf is not even loaded."""
    out = json.loads(run_in_benchmarks(FLOOR))
    assert out["recording"] is True
    assert out["proto_at_exit"] is False
    assert out["spans"] == [["MCP send tools/call echo", []]]
    records = out["logs"]
    assert len(records) >= out["modules"] > 50  # modules imported at exit count too
    assert {name for name, _ in records} == {"mcptrace.module.import"}
    assert all(
        keys == ["mcptrace.module.name", "file.path", "mcptrace.module.sha256"]
        for _, keys in records
    )


NOOP_FLOOR = """
import json, sys
sys.path.insert(0, sys.argv[1])
import _child
from opentelemetry import trace

argv = ["server", _child.BARE_SDK_NOOP_FLAG, "stdio"]
flag = _child.take_bare_sdk_flag(argv, "noop-floor-test")
for _ in range(3):
    with trace.get_tracer("mcp-python-sdk").start_as_current_span("MCP send tools/call") as span:
        recording = span.is_recording()
flushed = trace.get_tracer_provider().force_flush()
print(json.dumps({"flag": flag, "argv": argv, "recording": recording, "flushed": flushed,
                  "proto": any(m.startswith("google.protobuf") for m in sys.modules)}))
"""


def test_the_issues_floor_makes_spans_real_and_drops_them_without_protobuf() -> None:
    """Issue 20's floor (``--bare-sdk-noop``): the SDK's spans are real and go through the
    batch processor to an exporter that drops them; protobuf never loads, even after a flush
    (which is what separates its memory from our protobuf floor's)."""
    out = json.loads(run_in_benchmarks(NOOP_FLOOR))
    assert out == {
        "flag": "--bare-sdk-noop",
        "argv": ["server", "stdio"],
        "recording": True,
        "flushed": True,
        "proto": False,
    }


PLAIN_IMPORTS = """
import runpy, sys
sys.path.insert(0, sys.argv[1])
for script in ("_echo_client.py", "_echo_server.py"):
    runpy.run_path(f"{sys.argv[1]}/{script}", run_name="not_main")
loaded = [name for name in ("opentelemetry.sdk", "opentelemetry.exporter", "_bare_sdk")
          if any(module == name or module.startswith(name + ".") for module in sys.modules)]
print(",".join(loaded))
"""


@pytest.mark.slow
def test_the_plain_children_load_no_sdk() -> None:
    """The baseline must be plain: the floor's SDK loads only with ``--bare-sdk``."""
    assert run_in_benchmarks(PLAIN_IMPORTS).strip() == ""


def test_the_table_renderer_says_one_line_for_a_missing_file(tmp_path: Path) -> None:
    from benchmarks.table import main

    assert main([str(tmp_path / "none.json")]) == 2


def test_a_childs_peak_rss_is_its_own_not_its_larger_parents() -> None:
    """ru_maxrss carries the parent's peak across (v)fork and exec; the server's figure must
    not: a child of a 256 MiB parent reads its own few MiB."""
    script = (
        "import subprocess, sys\n"
        "held = bytearray(256 * 1024 * 1024)\n"
        "held[::4096] = b'\\x01' * len(held[::4096])\n"
        "code = 'import resource; from benchmarks._child import own_peak_rss_kib as p; "
        "print(p(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)'\n"
        "print(subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,"
        " check=True).stdout)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    own_kib, inherited_kib = map(int, result.stdout.split())
    assert inherited_kib > 256 * 1024  # the kernel's behaviour this guards against
    assert own_kib < 128 * 1024
