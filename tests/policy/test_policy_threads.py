"""A policy adds no thread: its violations go out through the record stage's one log pump."""

from __future__ import annotations

from pathlib import Path

from support import PYTHON, logs, run_under_mcptrace

SCRIPT = """
import sys, threading, time
from opentelemetry import trace
time.sleep(0.2)
tracer = trace.get_tracer("test")
with tracer.start_as_current_span("work"):
    try:
        open(sys.argv[1]).close()
    except PermissionError:
        pass
names = sorted(t.name for t in threading.enumerate() if t.name.startswith("mcptrace"))
sys.stderr.write("threads=" + ",".join(names) + "\\n")
"""


def test_a_policy_starts_no_thread_and_its_violations_still_leave(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[policy]\nmode = "observe"\napplies_to = "everything"\n'
        f'[[rule]]\nid = "no-secret"\ncategory = "file_read"\npaths = ["{secret}"]\n'
    )
    spool = tmp_path / "spool"
    result = run_under_mcptrace([PYTHON, "-c", SCRIPT, str(secret)], spool, "--policy", str(policy))
    threads = next(line for line in result.stderr.splitlines() if line.startswith("threads="))
    names = threads.removeprefix("threads=").split(",")
    assert "mcptrace-sensor-logs" in names
    assert not [name for name in names if "polic" in name]
    violations = [r for r in logs(spool) if r.event_name == "mcptrace.policy.violation"]
    assert [r.attributes["mcptrace.policy.rule"] for r in violations] == ["no-secret"]
