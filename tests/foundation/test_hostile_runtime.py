"""A program that turns on the runtime mcptrace uses neither breaks it nor is broken by it.

Replaced ``os`` functions do not reach the spool's writes (they are bound at start); an
audit hook of the program's that refuses the spool's opens costs the telemetry with one
line on stderr, no traceback, and the program's own operations go on as without mcptrace;
a file opened at the recursion limit opens as it does without mcptrace (the C hook does not
turn the limit hit by its own call into the program's RecursionError).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mcptrace.export.spool_reader import iter_logs, iter_spans
from support import PYTHON, clean_env, run_under_mcptrace

pytestmark = pytest.mark.slow
PROGRAM = Path(__file__).resolve().parent / "hostile_runtime_program.py"


def run(how: str, spool: Path, work: Path, active: bool) -> tuple[dict[str, str], str]:
    env = clean_env(MCPTRACE_SPOOL_DIR=str(spool))
    command = [PYTHON, str(PROGRAM), how, str(work), *(["active"] if active else [])]
    result = run_under_mcptrace(command, spool, env=env)
    return json.loads((work / "result.json").read_text()), result.stderr


def recorded(spool: Path, work: Path) -> bool:
    path = str(work / "recorded.txt")
    return any(path in record.attributes.values() for record in iter_logs(spool))


@pytest.mark.parametrize("active", [False, True], ids=["lazy", "active"])
def test_replaced_os_functions_do_not_reach_the_spool(
    active: bool, spool: Path, tmp_path: Path
) -> None:
    seen, stderr = run("replace_os", spool, tmp_path, active)
    assert seen == {"os.open": "TypeError"}  # the program's replacement, as without mcptrace
    assert "Traceback" not in stderr and "mcptrace" not in stderr, stderr
    assert recorded(spool, tmp_path)
    if active:
        assert "program work" in {span.name for span in iter_spans(spool)}


@pytest.mark.parametrize("active", [False, True], ids=["lazy", "active"])
def test_an_audit_hook_refusing_the_spool_costs_telemetry_with_one_line(
    active: bool, spool: Path, tmp_path: Path
) -> None:
    seen, stderr = run("refuse_spool", spool, tmp_path, active)
    assert seen == {"own open": "ok"}
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mcptrace: "), stderr
    assert "the program refuses" in lines[0]  # why, in the one line


@pytest.mark.skipif(
    os.environ.get("MCPTRACE_NATIVE_HOOK", "true").lower() in ("0", "false", "no", "off"),
    reason="the pure-Python hook is called with a frame: at the limit it cannot run (README)",
)
def test_an_open_at_the_recursion_limit_behaves_as_without_mcptrace(
    spool: Path, tmp_path: Path
) -> None:
    seen, stderr = run("deep_recursion", spool, tmp_path, active=True)
    assert seen == {"open at the limit": "ok"}, stderr
    assert recorded(spool, tmp_path)
