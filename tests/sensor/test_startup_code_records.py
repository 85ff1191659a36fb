"""What the sensor keeps of a real import-heavy start-up, and what is judged of it.

A program under ``mcptrace run`` imports pydantic, builds models with forward references and
a dataclass, then does what a hostile tool could do before serving anything: ``exec`` a
string calling ``__import__``, compile and run a string that imports by name, and have
typing evaluate a forward reference that imports.  The hook does less for an observation
nothing will keep (issue 20: no origin walk for a start-up import or a code event past the
judges' limit): these tests hold what must not change with that — every kept code record
exact and marked as before, the counts complete, and the detections on the tool's actions.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import HERE

from mcptrace.record import vocabulary as ev
from mcptrace.record.recorder import JUDGE_ONLY_LIMIT
from support import PYTHON, clean_env, logs, run_under_mcptrace

pytestmark = pytest.mark.slow

PROGRAM = HERE / "startup_code_program.py"
TOOL_EXEC = "value = __import__('os').getcwd()"
PAYLOAD = "value = __import__('base64').b64decode('aGk=')"
HINT = "__import__('os').sep and int"


def digest(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    root = tmp_path_factory.mktemp("startup-code")
    out, spool = root / "kept.json", root / "spool"
    run_under_mcptrace([PYTHON, str(PROGRAM), str(out)], spool, env=clean_env(), timeout=180)
    kept: dict[str, Any] = json.loads(out.read_text())
    return kept, spool


def code_records(kept: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in kept["records"] if r["category"] == ev.CODE]


def test_the_tools_own_strings_are_kept_exactly_and_unmarked(
    run: tuple[dict[str, Any], Path],
) -> None:
    kept, _ = run
    assert kept["errors"] == 0
    records = code_records(kept)
    tool = [
        r["attributes"] for r in records if r["attributes"].get(ev.CODE_SHA256) == digest(TOOL_EXEC)
    ]
    assert tool == [
        {
            ev.CODE_OPERATION: "compile",
            ev.CODE_FILENAME: "<string>",
            ev.CODE_SHA256: digest(TOOL_EXEC),
            ev.CODE_SIZE: len(TOOL_EXEC),
            ev.CODE_IMPORTS_MODULE: True,
        }
    ]
    payload = [
        r["attributes"] for r in records if r["attributes"].get(ev.CODE_FILENAME) == "<payload>"
    ]
    assert payload == [
        {
            ev.CODE_OPERATION: "compile",
            ev.CODE_FILENAME: "<payload>",
            ev.CODE_SHA256: digest(PAYLOAD),
            ev.CODE_SIZE: len(PAYLOAD),
            ev.CODE_IMPORTS_MODULE: True,
        }
    ]


def test_library_code_is_kept_marked_and_the_counts_are_complete(
    run: tuple[dict[str, Any], Path],
) -> None:
    kept, _ = run
    records = code_records(kept)
    hint = [r["attributes"] for r in records if r["attributes"].get(ev.CODE_SHA256) == digest(HINT)]
    assert hint and all(
        a[ev.ORIGIN] == ev.LIBRARY and a[ev.ORIGIN_MODULE] == "typing" and a[ev.CODE_IMPORTS_MODULE]
        for a in hint
    ), hint
    assert any(r["queue"] == "pending" and ev.ORIGIN_LIBRARY in r["attributes"] for r in records)
    tools = {digest(TOOL_EXEC), digest(PAYLOAD)}
    unmarked = [
        r["attributes"]
        for r in records
        if ev.ORIGIN not in r["attributes"] and r["attributes"].get(ev.CODE_SHA256) not in tools
    ]
    assert unmarked == []  # every other code event is pydantic's, typing's or dataclasses'
    # every code event is counted; past the span records, only what a detection could be
    # about is kept for the judges (issue 20): the tool's code, strings importing a module,
    # code named by a file; library machinery's generated code (pydantic, typing's forward
    # references, dataclasses: hundreds here) is only counted
    count = kept["counts"][ev.CODE]
    assert count == kept["kept"][ev.CODE] and kept["span_cap"] < count <= JUDGE_ONLY_LIMIT
    judged = [r["attributes"] for r in records if r["queue"] == "judge_only"]
    assert {digest(TOOL_EXEC), digest(PAYLOAD), digest(HINT)} <= {
        a.get(ev.CODE_SHA256) for a in judged
    }
    assert all(
        ev.ORIGIN not in a
        or a.get(ev.CODE_IMPORTS_MODULE)
        or not str(a.get(ev.CODE_FILENAME, "<")).startswith("<")
        for a in judged
    ), judged
    assert count - kept["span_cap"] > 10 * len(judged)  # most of them only counted
    # judged only, so without the responsible library (an emitted record's detail)
    assert all(ev.ORIGIN_LIBRARY not in a for a in judged)
    # start-up imports are counted only (the module inventory reports them)
    assert kept["counts"][ev.IMPORT] > 50
    assert [r for r in kept["records"] if r["category"] == ev.IMPORT] == []


def test_the_start_up_actions_are_detected(run: tuple[dict[str, Any], Path]) -> None:
    _, spool = run
    found = [
        (r.attributes.get(ev.DETECTION_RULE), r.attributes.get(ev.CODE_FILENAME))
        for r in logs(spool)
        if r.event_name == ev.DETECTION
    ]
    rules = {rule for rule, _ in found}
    assert "execution.string-import" in rules, found
    assert "execution.dynamic-code" in rules, found
