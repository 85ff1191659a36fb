"""A module imported with importlib.import_module inside a tool call of a real MCP server,
driven by a real client: a span event on that tool's span, with the file's real hash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from provenance_support import DIST, LOGGER, WARN, install_wheel, sha256_of

from mcptrace.record import vocabulary as names
from support import PYTHON, SPAN_KIND_SERVER, clean_env, logs, run_under_mcptrace, spans

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_import_inside_a_tool_is_an_event_on_its_span(tmp_path: Path) -> None:
    site = install_wheel(tmp_path)
    core = site / "provtest" / "core.py"
    core.write_text(core.read_text() + "PATCHED = True\n")  # drift in an installed module
    spool = tmp_path / "spool"
    calls = [["load_module", {"name": "provtest.lazy"}], ["load_module", {"name": "provtest.core"}]]
    result = run_under_mcptrace(
        [PYTHON, str(HERE / "drive_provenance.py"), str(site), json.dumps(calls)],
        spool,
        env=clean_env(MCPTRACE_HASH_CACHE=str(tmp_path / "cache.sqlite3")),
        timeout=180,
    )
    assert '"error": false' in result.stdout, result.stdout + result.stderr
    lazy = site / "provtest" / "lazy.py"
    tool_spans = [
        s for s in spans(spool) if s.kind == SPAN_KIND_SERVER and s.name == "tools/call load_module"
    ]
    assert len(tool_spans) == 2
    span, patched = sorted(tool_spans, key=lambda s: s.start_unix_nano)
    events = [e for e in span.events if e.name == names.MODULE_IMPORT]
    # the package is imported first, then the module the tool asked for
    assert [e.attributes[names.MODULE_NAME] for e in events] == ["provtest", "provtest.lazy"]
    for event, path in zip(events, [site / "provtest" / "__init__.py", lazy], strict=True):
        attributes = event.attributes
        assert attributes[names.FILE_PATH] == str(path)
        assert attributes[names.MODULE_SHA256] == sha256_of(path)
        assert attributes[names.MODULE_DISTRIBUTION] == DIST
        assert attributes[names.MODULE_VERIFICATION] == names.VERIFIED
        assert attributes[names.ATTRIBUTION] == "context"
    # the inventory also lists it once, after start-up, as a runtime import
    inventory = [
        r
        for r in logs(spool)
        if r.scope == LOGGER
        and r.event_name == names.MODULE_IMPORT
        and r.attributes[names.FILE_PATH] == str(lazy)
    ]
    assert len(inventory) <= 1
    for record in inventory:
        assert record.attributes[names.MODULE_SHA256] == sha256_of(lazy)

    (event,) = [e for e in patched.events if e.name == names.MODULE_IMPORT]
    assert event.attributes[names.MODULE_NAME] == "provtest.core"
    assert event.attributes[names.MODULE_SHA256] == sha256_of(core)
    assert event.attributes[names.MODULE_VERIFICATION] == names.MISMATCH
    warnings = [
        r
        for r in logs(spool)
        if r.event_name == names.MODULE_IMPORT
        and r.attributes[names.FILE_PATH] == str(core)
        and r.severity_number == WARN
    ]
    assert warnings, "a mismatching module gets a WARN record"
