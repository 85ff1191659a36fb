"""Fork and exec with the sensor on, in real processes under ``mcptrace run``.

A forked child starts with empty buffers (the parent's pending records are not emitted twice)
and records its own events from its own process; events recorded just before ``os.execv``
reach the spool although nothing of the old image runs afterwards.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from helpers import HERE, SENSOR_SCOPE

from mcptrace.export.spool_reader import (
    LogRecordEntry,
    SpanRecord,
    iter_requests,
    iter_spans,
    logs_in,
)
from mcptrace.record import vocabulary as ev
from support import PYTHON, SPAN_KIND_INTERNAL, clean_env, run_under_mcptrace

pytestmark = pytest.mark.slow


def writer_pid(file_name: str) -> int:
    """The process that wrote a spool file: ``{signal}-{stamp}-{pid}-{sequence}.jsonl``."""
    return int(file_name.split("-")[2])


def sensor_logs_by_pid(spool: Path) -> list[tuple[int, LogRecordEntry]]:
    return [
        (writer_pid(path.name), record)
        for path, tree in iter_requests(spool, "logs")
        for record in logs_in(tree)
        if record.scope == SENSOR_SCOPE
    ]


def spans_by_pid(spool: Path) -> list[tuple[int, SpanRecord]]:
    return [(writer_pid(span.file), span) for span in iter_spans(spool)]


def opened(span: SpanRecord, directory: Path) -> list[str]:
    """The files in ``directory`` the span's events say were opened (the interpreter opens
    others too: the script, and on 3.12+ its source for the fork-with-threads warning)."""
    return [
        str(e.attributes[ev.FILE_PATH])
        for e in span.events
        if e.name == ev.FILE_OPEN and str(e.attributes[ev.FILE_PATH]).startswith(f"{directory}/")
    ]


def test_forked_child_starts_empty_and_records_its_own_events(spool: Path, tmp_path: Path) -> None:
    result = run_under_mcptrace(
        [PYTHON, str(HERE / "fork_after_recording.py"), str(tmp_path)], spool
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    parent, child = report["parent"], report["child"]
    assert report["status"] == 0, result.stderr
    assert report["pending_at_fork"] >= 1  # the parent's open was still buffered at the fork
    before, in_child = str(tmp_path / "before-fork.txt"), str(tmp_path / "in-child.txt")

    logs = sensor_logs_by_pid(spool)
    opens = [
        (pid, record.attributes[ev.FILE_PATH], record)
        for pid, record in logs
        if record.event_name == ev.FILE_OPEN
        and record.attributes[ev.FILE_PATH] in (before, in_child)
    ]
    # once each, each from its own process: the child did not emit the parent's buffer
    assert [(pid, path) for pid, path, _ in opens] in (
        [(parent, before), (child, in_child)],
        [(child, in_child), (parent, before)],
    )
    forks = [
        (pid, record.attributes[ev.PROCESS_PID])
        for pid, record in logs
        if record.event_name == ev.PROCESS_FORK
    ]
    assert forks == [(parent, parent)]

    work = sorted(
        (span.name, pid, opened(span, tmp_path))
        for pid, span in spans_by_pid(spool)
        if span.name.endswith(" work")
    )
    assert work == [("child work", child, [in_child]), ("parent work", parent, [before])]
    (child_span,) = [span for _, span in spans_by_pid(spool) if span.name == "child work"]
    child_record = next(record for _, path, record in opens if path == in_child)
    assert (child_record.trace_id, child_record.span_id) == (
        child_span.trace_id,
        child_span.span_id,
    )
    assert child_record.attributes[ev.ATTRIBUTION] == ev.CONTEXT


@pytest.mark.parametrize("with_parent", [False, True], ids=["plain", "traceparent"])
def test_exec_flushes_what_was_recorded_before_it(
    spool: Path, tmp_path: Path, with_parent: bool
) -> None:
    env = clean_env()
    trace_id, parent_span_id = secrets.token_hex(16), secrets.token_hex(8)
    if with_parent:  # an instrumented parent's span: the process gets a `process …` span
        env["TRACEPARENT"] = f"00-{trace_id}-{parent_span_id}-01"
    run_under_mcptrace(
        [PYTHON, str(HERE / "exec_after_recording.py"), str(tmp_path)], spool, env=env
    )
    before = str(tmp_path / "before-exec.txt")

    logs = [record for _, record in sensor_logs_by_pid(spool)]
    opens = [
        r for r in logs if r.event_name == ev.FILE_OPEN and r.attributes[ev.FILE_PATH] == before
    ]
    execs = [r for r in logs if r.event_name == ev.PROCESS_EXEC]
    assert len(opens) == 1, [r.event_name for r in logs]
    assert len(execs) == 1
    assert execs[0].attributes[ev.PROCESS_EXECUTABLE_PATH] == "/bin/true"
    assert execs[0].attributes[ev.PROCESS_COMMAND_ARGS] == ["/bin/true", "replaced"]
    assert execs[0].severity_text == "WARN"
    if not with_parent:
        return
    processes = [
        span
        for _, span in spans_by_pid(spool)
        if span.scope == SENSOR_SCOPE and span.kind == SPAN_KIND_INTERNAL
    ]
    assert [span.name for span in processes] == ["process exec_after_recording.py"]
    process = processes[0]
    assert (process.trace_id, process.parent_span_id) == (trace_id, parent_span_id)
    assert opened(process, tmp_path) == [before]
    assert [e.name for e in process.events if e.name == ev.PROCESS_EXEC] == [ev.PROCESS_EXEC]
    assert (opens[0].trace_id, opens[0].span_id) == (process.trace_id, process.span_id)
