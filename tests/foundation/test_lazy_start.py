"""Pay for what you use: what a process under ``mcptrace run`` loads, and what it still reports.

Every test runs real processes under ``mcptrace run`` and reads what they imported from
``python -X importtime`` (which lists every module, including those imported at exit) and
what they reported from the spool.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mcptrace import importwatch
from mcptrace._bootstrap import SENSOR_CATEGORIES, quick_settings, state_dir
from mcptrace.config import SENSOR_CATEGORIES as CONFIG_CATEGORIES
from mcptrace.config import default_state_dir
from mcptrace.record import vocabulary as ev
from support import PYTHON, SPAN_KIND_INTERNAL, clean_env, logs, run_under_mcptrace, spans

SENSOR_SCOPE = "mcptrace.sensor"
HEAVY = ("opentelemetry", "wrapt", "importlib.metadata", "sqlite3", "mcptrace.export")


def imported(stderr: str) -> set[str]:
    """Module names from ``-X importtime`` lines on stderr."""
    names = set()
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", line)
        if match:
            names.add(match.group(1))
    return names


def heavy(names: set[str]) -> list[str]:
    return sorted(name for name in names if name.startswith(HEAVY))


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_env(
        MCPTRACE_HASH_CACHE=str(tmp_path / "cache.sqlite3"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        **extra,
    )


def spool_files(spool: Path) -> list[str]:
    return sorted(path.name for path in spool.glob("*.jsonl")) if spool.is_dir() else []


def test_python_c_pass_loads_no_opentelemetry(spool: Path, tmp_path: Path) -> None:
    env = env_for(tmp_path)
    # the first runs report their modules (an unknown set of files): they may activate (the
    # very first also scans the entry points, which loads more modules than later runs do)
    for _ in range(2):
        run_under_mcptrace([PYTHON, "-c", "pass"], spool, env=env)
    before = spool_files(spool)
    result = run_under_mcptrace([PYTHON, "-X", "importtime", "-c", "pass"], spool, env=env)
    names = imported(result.stderr)
    assert "mcptrace.sensor.hook" in names  # instrumented: the audit hook is in
    assert "mcptrace.children" in names  # and so are the spawn patches
    assert heavy(names) == []
    assert spool_files(spool) == before  # nothing new to say, nothing written


def test_python_c_pass_with_the_default_cache_loads_no_settings(
    spool: Path, tmp_path: Path
) -> None:
    """Without MCPTRACE_HASH_CACHE (the usual case) the exit check finds the default cache
    beside the state directory itself: no settings module, no redaction patterns."""
    env = clean_env(XDG_STATE_HOME=str(tmp_path / "state"))
    for _ in range(2):
        run_under_mcptrace([PYTHON, "-c", "pass"], spool, env=env)
    result = run_under_mcptrace([PYTHON, "-X", "importtime", "-c", "pass"], spool, env=env)
    names = imported(result.stderr)
    assert "mcptrace.sensor.hook" in names
    assert heavy(names) == []
    assert not names & {"mcptrace.config", "mcptrace.record.redact", "dataclasses"}
    assert (tmp_path / "state" / "mcptrace" / "hash-cache.sqlite3.known").is_file()


@pytest.mark.slow  # a program run of 1.5-3 s: CI runs it, the fast loop keeps the cheaper ones
def test_a_module_set_file_others_can_write_is_not_trusted(spool: Path, tmp_path: Path) -> None:
    """The file that lets a process skip reporting its modules is trusted only as the hash
    cache is: made writable by others (or planted), it reads as empty and all is reported."""
    env = env_for(tmp_path)
    for _ in range(3):
        run_under_mcptrace([PYTHON, "-c", "pass"], spool, env=env)
    before = spool_files(spool)
    run_under_mcptrace([PYTHON, "-c", "pass"], spool, env=env)
    assert spool_files(spool) == before  # known: nothing written
    known = tmp_path / "cache.sqlite3.known"
    known.chmod(0o666)
    run_under_mcptrace([PYTHON, "-c", "pass"], spool, env=env)
    after = spool_files(spool)
    assert len(after) > len(before)  # reported again, in full
    summaries = [r for r in logs(spool) if r.event_name == ev.MODULE_SUMMARY]
    assert len(summaries) >= 2


def test_switched_off_loads_nothing_of_mcptrace(spool: Path, tmp_path: Path) -> None:
    env = env_for(tmp_path, MCPTRACE_ENABLED="false")
    result = run_under_mcptrace([PYTHON, "-X", "importtime", "-c", "pass"], spool, env=env)
    names = imported(result.stderr)
    assert "sitecustomize" in names
    assert sorted(name for name in names if name.startswith("mcptrace")) == []
    assert spool_files(spool) == []


def test_a_child_reports_what_it_did_in_its_parents_trace(spool: Path, tmp_path: Path) -> None:
    trace_id, parent_span = secrets.token_hex(16), secrets.token_hex(8)
    target = tmp_path / "written.txt"
    seen = tmp_path / "grandchild-traceparent.txt"
    grandchild = f"import os; open({str(seen)!r}, 'w').write(os.environ.get('TRACEPARENT', ''))"
    script = (
        "import subprocess, sys\n"
        f"open({str(target)!r}, 'w').write('x')\n"
        f"subprocess.run([sys.executable, '-c', {grandchild!r}], check=True)\n"
    )
    env = env_for(tmp_path, TRACEPARENT=f"00-{trace_id}-{parent_span}-01")
    run_under_mcptrace([PYTHON, "-c", script], spool, env=env)

    processes = [
        span
        for span in spans(spool)
        if span.scope == SENSOR_SCOPE
        and span.kind == SPAN_KIND_INTERNAL
        and span.parent_span_id == parent_span
    ]
    assert len(processes) == 1, [(s.name, s.parent_span_id) for s in spans(spool)]
    process = processes[0]
    assert process.trace_id == trace_id
    records = [r for r in logs(spool) if r.scope == SENSOR_SCOPE]
    opens = [
        r
        for r in records
        if r.event_name == ev.FILE_OPEN and r.attributes[ev.FILE_PATH] == str(target)
    ]
    assert len(opens) == 1
    assert (opens[0].trace_id, opens[0].span_id) == (trace_id, process.span_id)
    spawns = [r for r in records if r.event_name == ev.PROCESS_SPAWN]
    assert spawns and all(r.span_id == process.span_id for r in spawns)
    # the grandchild continues the trace under the child's process span
    assert seen.read_text() == f"00-{trace_id}-{process.span_id}-01"
    assert [e.name for e in process.events if e.name == ev.FILE_OPEN]


@pytest.mark.slow  # a program run of 1.5-3 s: CI runs it, the fast loop keeps the cheaper ones
def test_an_exit_during_a_background_activation_keeps_the_process_span(
    spool: Path, tmp_path: Path
) -> None:
    """A child that lives past ``LAZY_WRITE_SECONDS`` after its first record sets up
    OpenTelemetry in a thread; the exit can come while that thread is still running the
    set-up's callbacks (the process span starts in one).  The exit waits for them: the span
    was lost when the exit came between the providers and the process span (seen under load,
    made certain here by slowing the span's start in the child)."""
    trace_id, parent_span = secrets.token_hex(16), secrets.token_hex(8)
    target = tmp_path / "written.txt"
    script = (
        "import time\n"
        "from mcptrace.sensor import lifecycle\n"
        "start = lifecycle.SensorLifecycle._start_process_span\n"
        "def slow(self):\n"
        "    time.sleep(1.5)\n"
        "    start(self)\n"
        "lifecycle.SensorLifecycle._start_process_span = slow\n"
        f"open({str(target)!r}, 'w').write('x')\n"
        "time.sleep(lifecycle.LAZY_WRITE_SECONDS + 0.5)\n"  # ends while slow() sleeps
    )
    env = env_for(tmp_path, TRACEPARENT=f"00-{trace_id}-{parent_span}-01")
    run_under_mcptrace([PYTHON, "-c", script], spool, env=env)

    processes = [s for s in spans(spool) if s.parent_span_id == parent_span]
    assert [(s.name, s.trace_id) for s in processes] == [("process -c", trace_id)]
    opens = [
        r
        for r in logs(spool)
        if r.event_name == ev.FILE_OPEN and r.attributes.get(ev.FILE_PATH) == str(target)
    ]
    assert [(r.trace_id, r.span_id) for r in opens] == [(trace_id, processes[0].span_id)]


@pytest.mark.parametrize(
    ("ending", "code"),
    [
        ("sys.exit(3)", 3),
        ("raise RuntimeError('boom')", 1),
        ("os.kill(os.getpid(), signal.SIGTERM); time.sleep(30)", -signal.SIGTERM),
    ],
    ids=["sys.exit", "exception", "sigterm"],
)
def test_a_process_ending_early_writes_what_it_recorded(
    spool: Path, tmp_path: Path, ending: str, code: int
) -> None:
    target = tmp_path / "before-the-end.txt"
    script = f"import os, signal, sys, time\nopen({str(target)!r}, 'w').write('x')\n{ending}\n"
    result = run_under_mcptrace([PYTHON, "-c", script], spool, env=env_for(tmp_path), check=False)
    assert result.returncode == code, result.stderr
    opens = [
        r
        for r in logs(spool)
        if r.event_name == ev.FILE_OPEN and r.attributes.get(ev.FILE_PATH) == str(target)
    ]
    assert len(opens) == 1, result.stderr


@pytest.mark.slow  # a program run of 1.5-3 s: CI runs it, the fast loop keeps the cheaper ones
def test_importing_mcp_sets_up_telemetry_before_it_runs(spool: Path, tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "assert 'opentelemetry.sdk.trace' not in sys.modules\n"
        "import mcp\n"
        "from opentelemetry import trace\n"
        "print(type(trace.get_tracer_provider()).__module__)\n"
    )
    result = run_under_mcptrace([PYTHON, "-c", script], spool, env=env_for(tmp_path))
    assert result.stdout.strip() == "opentelemetry.sdk.trace"


def test_the_short_launcher_path_and_the_full_cli_agree(tmp_path: Path) -> None:
    show = "import os; print(os.environ['OTEL_PYTHON_DISTRO'], os.environ['PYTHONPATH'])"
    env = env_for(tmp_path, MCPTRACE_SPOOL_DIR=str(tmp_path / "spool"))
    launcher = [PYTHON, "-m", "mcptrace.quickrun", "run"]
    short = subprocess.run([*launcher, "--", PYTHON, "-c", show], env=env, capture_output=True)
    full = subprocess.run(
        [*launcher, "--spool", str(tmp_path / "spool"), "--", PYTHON, "-c", show],
        env=env,
        capture_output=True,
    )
    assert short.returncode == full.returncode == 0, (short.stderr, full.stderr)
    assert short.stdout == full.stdout
    assert short.stdout.decode().startswith("mcptrace ")
    # a bad setting is the full CLI's business: one clear line, the command not started
    bad = subprocess.run(
        [*launcher, "--", PYTHON, "-c", "print('ran')"],
        env={**env, "MCPTRACE_SENSOR": "files"},
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert "MCPTRACE_SENSOR" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    missing = subprocess.run(
        [*launcher, "--", "no-such-command-here"], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 127
    assert "command not found: no-such-command-here" in missing.stderr


def test_start_up_reads_settings_as_config_does() -> None:
    assert SENSOR_CATEGORIES == CONFIG_CATEGORIES
    for environ in ({}, {"XDG_STATE_HOME": "/somewhere/state"}):
        saved = {key: os.environ.get(key) for key in ("XDG_STATE_HOME",)}
        try:
            os.environ.pop("XDG_STATE_HOME", None)
            os.environ.update(environ)
            assert state_dir(os.environ) == str(default_state_dir())
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    quick = quick_settings({"MCPTRACE_SENSOR": "file, network", "MCPTRACE_NATIVE_HOOK": "off"})
    assert quick is not None
    assert quick.sensor == {"file", "network"} and quick.native is False
    assert quick_settings({"MCPTRACE_SENSOR": "files"}) is None  # config reports it
    assert quick_settings({"MCPTRACE_MAX_EVENTS_PER_SPAN": "-1"}) is None
    assert quick_settings({"MCPTRACE_POLICY": "/p.toml"}) is None  # a policy starts eagerly
    assert quick_settings({"MCPTRACE_REDACT_KEYS": "pin"}) is None  # redacts from the start
    off = quick_settings({"MCPTRACE_ENABLED": "0"})
    assert off is not None and off.enabled is False


def test_importwatch_runs_callbacks_around_the_import(tmp_path: Path) -> None:
    name = f"watched_{secrets.token_hex(4)}"
    (tmp_path / f"{name}.py").write_text("import sys\nVALUE = 42\nORDER = list(sys._order)\n")
    order: list[str] = []
    sys._order = order  # type: ignore[attr-defined]
    sys.path.insert(0, str(tmp_path))
    try:

        def before() -> None:
            order.append("before")

        def deferred() -> None:
            order.append("deferred")

        importwatch.before(name, lambda: before() or deferred)
        importwatch.after(name, lambda module: order.append(f"after {module.VALUE}"))
        module = __import__(name)
        assert order == ["before", "deferred", "after 42"]
        assert module.ORDER == ["before", "deferred"]  # both ran before the body
        assert type(module.__loader__).__name__ == "SourceFileLoader"  # the real loader
        assert module.__spec__.loader is module.__loader__
        watch = importwatch._watch
        assert name not in watch.before and name not in watch.after  # each ran once
        # nothing left to watch: gone (other tests in this process may still watch modules
        # they patch on import, such as the MCP instrumentor's)
        assert (watch in sys.meta_path) == bool(watch.before or watch.after)
        importwatch.after(name, lambda module: order.append("already loaded"))
        assert order[-1] == "already loaded"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)
        del sys._order  # type: ignore[attr-defined]


def test_environments_taking_turns_keep_their_entry_point_answers(
    spool: Path, tmp_path: Path
) -> None:
    """The installed instrumentors are remembered per interpreter and sys.path: a process of
    another environment (here another PYTHONPATH) does not overwrite this one's answer, so
    neither scans every distribution's metadata again when they take turns; old answers are
    pruned to the newest few."""
    state = tmp_path / "state" / "mcptrace"
    state.mkdir(parents=True)
    for number in range(40):  # answers of environments long gone, the lowest the oldest
        stale = state / f"entry-points-cpython-0-{number:012x}.txt"
        stale.write_text("stale\n")
        os.utime(stale, ns=(1_000_000_000 * (number + 1), 1_000_000_000 * (number + 1)))
    others = [tmp_path / "env-a", tmp_path / "env-b"]
    for directory in others:
        directory.mkdir()
    for directory in others:  # each scans once
        run_under_mcptrace(
            [PYTHON, "-c", "pass"], spool, env=env_for(tmp_path, PYTHONPATH=str(directory))
        )
    answers = sorted(path.name for path in state.glob("entry-points-*.txt"))
    stale = [f"entry-points-cpython-0-{number:012x}.txt" for number in range(40)]
    assert len(answers) == 32
    assert not set(stale[:10]) & set(answers)  # the oldest went
    assert len(set(answers) - set(stale)) == 2  # one answer per environment
    for directory in others:  # and neither scans again
        result = run_under_mcptrace(
            [PYTHON, "-X", "importtime", "-c", "pass"],
            spool,
            env=env_for(tmp_path, PYTHONPATH=str(directory)),
        )
        assert "importlib.metadata" not in imported(result.stderr), directory


# a program that imports mcp, checks what is loaded, then opens a session to the example
# server over stdio and calls a tool that reads a file
_IMPORT_THEN_SESSION = """
import asyncio, sys
import mcp, pydantic, anyio, starlette
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
print("before:", *sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk.metrics")))

async def main():
    server = StdioServerParameters(command=sys.executable, args=[SERVER])
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await session.call_tool("word_count", {"path": TARGET})

if len(sys.argv) > 1:
    asyncio.run(main())
print("after:", "opentelemetry.sdk.metrics" in sys.modules, "wrapt:", "wrapt" in sys.modules)
"""


@pytest.mark.slow
def test_importing_mcp_loads_no_metrics_sdk_until_a_session_measures(
    spool: Path, tmp_path: Path
) -> None:
    target = tmp_path / "words.txt"
    target.write_text("one two three\n")
    from support import EXAMPLES, metric_points

    script = tmp_path / "program.py"
    script.write_text(
        f"SERVER = {str(EXAMPLES / 'server.py')!r}\nTARGET = {str(target)!r}\n"
        + _IMPORT_THEN_SESSION
    )
    env = env_for(tmp_path)
    only_import = run_under_mcptrace([PYTHON, str(script)], spool, env=env)
    assert only_import.stdout.splitlines() == ["before:", "after: False wrapt: False"], (
        only_import.stderr
    )
    assert not [p for p in metric_points(spool)]

    session = run_under_mcptrace([PYTHON, str(script), "session"], spool, env=env)
    # the MCP patches are plain functions: a whole session loads no wrapt
    assert session.stdout.splitlines() == ["before:", "after: True wrapt: False"], session.stderr
    # nothing lost across the hand-over: both sides' spans in one trace, both sides'
    # duration metrics, the tool's file open as a record in that trace
    calls = [s for s in spans(spool) if s.name == "tools/call word_count"]
    assert sorted(s.kind for s in calls) == [2, 3], [(s.name, s.kind) for s in spans(spool)]
    assert len({s.trace_id for s in calls}) == 1
    names = {p.name for p in metric_points(spool)}
    assert {"mcp.client.operation.duration", "mcp.server.operation.duration"} <= names, names
    opens = [
        r
        for r in logs(spool)
        if r.event_name == ev.FILE_OPEN and r.attributes.get(ev.FILE_PATH) == str(target)
    ]
    assert opens and all(r.trace_id == calls[0].trace_id for r in opens), opens


@pytest.mark.slow  # a program run of 1.5-3 s: CI runs it, the fast loop keeps the cheaper ones
def test_a_thread_started_after_a_background_activation_is_recorded(
    spool: Path, tmp_path: Path
) -> None:
    """The thread that activates on a process's first record ends; the next thread started
    often gets its id.  What that thread does is the program's and is recorded."""
    first, later = tmp_path / "first.txt", tmp_path / "later.txt"
    first.write_text("1")
    later.write_text("2")
    script = (
        "import threading, time\n"
        "from mcptrace import activation\n"
        f"open({str(first)!r}).read()\n"  # the first record: activation in 1 s, in a thread
        "deadline = time.monotonic() + 30\n"
        "while not activation.is_settled() and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        "time.sleep(0.3)  # the activating thread has ended\n"
        f"worker = threading.Thread(target=lambda: open({str(later)!r}).read())\n"
        "worker.start(); worker.join()\n"
        "print(activation.is_settled())\n"
    )
    result = run_under_mcptrace([PYTHON, "-c", script], spool, env=env_for(tmp_path))
    assert result.stdout.strip() == "True", result.stderr
    paths = {r.attributes.get(ev.FILE_PATH) for r in logs(spool) if r.event_name == ev.FILE_OPEN}
    assert {str(first), str(later)} <= paths, sorted(p for p in paths if p and "tmp" in p)
