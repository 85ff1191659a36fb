"""The module inventory owns no thread: it walks on the record stage's one log pump.

A real stdio MCP server under ``mcptrace run`` lists its own threads from inside a tool call,
after its start-up had time to settle: one log thread of mcptrace's (the pump), the
inventory's summary already written before the call looked; the export shipper
(``mcptrace-shipper``) ships spool files and is not a log thread.  With the sensor off there
is no pump: the inventory then walks once, at exit, and still reports every module and the
summary.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mcptrace.record import vocabulary as names
from support import PYTHON, clean_env, logs, run_under_mcptrace

HERE = Path(__file__).resolve().parent
LOG_THREAD = "mcptrace-sensor-logs"
NOT_LOG_THREADS = {"mcptrace-shipper"}  # export: ships spool files, emits no log record


def serve(tmp_path: Path, wait: float, **extra: str) -> tuple[dict[str, Any], Path]:
    spool = tmp_path / "spool"
    env = clean_env(
        MCPTRACE_HASH_CACHE=str(tmp_path / "cache.sqlite3"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        **extra,
    )
    result = run_under_mcptrace(
        [PYTHON, str(HERE / "drive_threads.py"), str(wait)], spool, env=env, timeout=180
    )
    return json.loads(result.stdout.strip().splitlines()[-1]), spool


def of_server(spool: Path, event: str) -> list[Any]:
    return [
        record
        for record in logs(spool)
        if record.event_name == event and record.resource.get("service.name") == "threads_server"
    ]


@pytest.mark.slow
def test_a_server_has_one_log_thread_and_its_inventory_runs_on_it(tmp_path: Path) -> None:
    report, spool = serve(tmp_path, wait=8.0)
    server = report["server"]
    log_threads = [name for name in server["threads"] if name not in NOT_LOG_THREADS]
    assert log_threads == [LOG_THREAD], server["threads"]
    assert [n for n in report["client"] if n not in NOT_LOG_THREADS] == [LOG_THREAD]
    summaries = of_server(spool, names.MODULE_SUMMARY)
    assert len(summaries) == 1
    # settled and summarized on the pump while the server ran, not by the exit walk
    assert summaries[0].time_unix_nano < server["at"]
    modules = of_server(spool, names.MODULE_IMPORT)
    walked = {
        record.attributes[names.MODULE_NAME]
        for record in modules
        if record.time_unix_nano < server["at"]
    }
    assert {"mcp", "pydantic", "anyio", "json"} <= walked
    # settled: the hash cache is closed until the next walk needs it (its page cache freed)
    assert not [f for f in server["open_files"] if "cache.sqlite3" in f], server["open_files"]
    assert server["trimmed"] is True  # and what start-up's work freed went back (_memory.py)


@pytest.mark.slow
def test_without_the_sensor_the_inventory_walks_at_exit(tmp_path: Path) -> None:
    report, spool = serve(
        tmp_path, wait=4.0, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="mcptrace_sensor"
    )
    server = report["server"]
    assert [name for name in server["threads"] if name not in NOT_LOG_THREADS] == []
    summaries = of_server(spool, names.MODULE_SUMMARY)
    assert len(summaries) == 1
    assert summaries[0].time_unix_nano > server["at"]  # at exit
    assert summaries[0].attributes[names.SUMMARY_COUNT] > 100
    modules = of_server(spool, names.MODULE_IMPORT)
    assert {"mcp", "pydantic", "anyio"} <= {r.attributes[names.MODULE_NAME] for r in modules}


@pytest.mark.slow
def test_a_server_whose_modules_were_reported_before_writes_one_summary(tmp_path: Path) -> None:
    """Past its first walks too: start-up's set of module files, reported in full by an
    earlier run and unchanged, is one summary record that counts it, not a record each."""
    _, spool = serve(tmp_path, wait=6.0)
    full = of_server(spool, names.MODULE_IMPORT)
    assert len(full) > 100
    [summary] = of_server(spool, names.MODULE_SUMMARY)
    assert summary.attributes[names.SUMMARY_KNOWN] == 0
    assert summary.attributes[names.SUMMARY_COUNT] > 100
    before = len(logs(spool))

    second, _ = serve(tmp_path, wait=6.0)
    records = logs(spool)[before:]
    again = [r for r in records if r.resource.get("service.name") == "threads_server"]
    [summary] = [r for r in again if r.event_name == names.MODULE_SUMMARY]
    assert summary.time_unix_nano < second["server"]["at"]  # decided while it ran
    assert summary.attributes[names.SUMMARY_KNOWN] > 100
    assert summary.attributes[names.SUMMARY_COUNT] == 0
    assert len(str(summary.attributes[names.SUMMARY_SET_DIGEST])) == 32
    modules = [r for r in again if r.event_name == names.MODULE_IMPORT]
    assert len(modules) < 20  # only what it imported after start-up, if anything
    assert not [r for r in modules if r.attributes[names.MODULE_NAME] in ("mcp", "pydantic")]
