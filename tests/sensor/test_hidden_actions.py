"""End to end: a real MCP client drives a real server whose tools each do one hidden thing;
the sensor's event must land on that tool's ``tools/call`` span (or in its trace)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from helpers import HERE, Recorded, drive

from conftest import Loopback
from mcptrace.record import vocabulary as ev
from support import SPAN_KIND_SERVER

pytestmark = pytest.mark.slow

BACKDATED = 946684800  # 2000-01-01T00:00:00Z
SYMBOL_REPEATS = 100  # more than the 32 span events a category gets per span


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, loopback: Loopback) -> tuple[Recorded, Path]:
    work = tmp_path_factory.mktemp("hidden")
    spool = work / "spool"
    secret = work / "secret.txt"
    secret.write_text("hunter2\n")
    (work / "doomed.txt").write_text("x")
    (work / "old.txt").write_text("x")
    (work / "log.txt").write_text("x")
    (work / "truncated.txt").write_text("0123456789")
    (work / "stamped.txt").write_text("x")
    url = f"http://127.0.0.1:{loopback.http_port}/status?token=abc123&x=1"
    calls = [
        ("echo", {"text": "hi"}),
        ("read_secret", {"path": str(secret)}),
        ("write_file", {"path": str(work / "written.txt"), "text": "data"}),
        ("append_file", {"path": str(work / "log.txt"), "text": "more"}),
        ("delete_file", {"path": str(work / "doomed.txt")}),
        ("rename_file", {"source": str(work / "old.txt"), "target": str(work / "new.txt")}),
        ("truncate_file", {"path": str(work / "truncated.txt"), "size": 3}),
        ("backdate_file", {"path": str(work / "stamped.txt"), "timestamp": BACKDATED}),
        ("tcp_connect", {"port": loopback.tcp_port}),
        ("udp_send", {"port": loopback.udp_port}),
        ("resolve", {"host": "localhost", "port": 80}),
        ("http_get", {"url": url}),
        ("run_subprocess", {"token": "s3cr3t-value"}),
        ("run_shell", {"command": "true --password=hunter2"}),
        ("run_true", {"close_fds": True}),  # its spawn must not swallow the next one's
        ("run_posix_spawn", {}),
        ("run_true", {"close_fds": False}),
        ("eval_code", {"expression": "6*7"}),
        ("exec_code", {"source": "y = [i for i in range(3)]"}),
        ("unpickle", {}),
        ("load_native", {}),
        ("resolve_symbols", {"repeat": SYMBOL_REPEATS}),
        ("resolve_cos_again", {}),
        ("dynamic_import", {"name": "_sensor_lazy_module"}),
        ("thread_open", {"path": str(secret)}),
        ("child_read", {"path": str(secret)}),
        ("add_audit_hook", {}),
    ]
    drive(spool, calls)
    return Recorded(spool), work


def test_read_is_a_read_open_on_the_tool_span(run: tuple[Recorded, Path]) -> None:
    recorded, work = run
    span = recorded.tool_span("read_secret")
    opens = [
        e
        for e in recorded.events(span, ev.FILE_OPEN)
        if e.attributes[ev.FILE_PATH] == str(work / "secret.txt")
    ]
    assert len(opens) == 1
    assert opens[0].attributes[ev.FILE_ACCESS] == "read"
    assert opens[0].attributes[ev.ATTRIBUTION] == "context"
    assert span.attributes[ev.count_attribute("file")] >= 1
    assert span.attributes[ev.EVENTS_DROPPED] == 0


def test_every_event_is_also_a_correlated_log_record(run: tuple[Recorded, Path]) -> None:
    recorded, work = run
    span = recorded.tool_span("read_secret")
    records = [
        r
        for r in recorded.logs_of(span, ev.FILE_OPEN)
        if r.attributes[ev.FILE_PATH] == str(work / "secret.txt")
    ]
    assert len(records) == 1
    assert records[0].severity_text == "INFO"
    assert records[0].attributes[ev.ATTRIBUTION] == "context"
    spawn_logs = recorded.logs_of(recorded.tool_span("run_subprocess"), ev.PROCESS_SPAWN)
    assert spawn_logs and spawn_logs[0].severity_text == "WARN"


@pytest.mark.parametrize(
    ("tool", "name", "access"),
    [("write_file", "written.txt", "write"), ("append_file", "log.txt", "append")],
)
def test_write_and_append_are_told_apart(
    run: tuple[Recorded, Path], tool: str, name: str, access: str
) -> None:
    recorded, work = run
    event = recorded.one_event(tool, ev.FILE_OPEN)
    assert event.attributes[ev.FILE_PATH] == str(work / name)
    assert event.attributes[ev.FILE_ACCESS] == access


def test_delete_and_rename(run: tuple[Recorded, Path]) -> None:
    recorded, work = run
    assert recorded.one_event("delete_file", ev.FILE_DELETE).attributes[ev.FILE_PATH] == str(
        work / "doomed.txt"
    )
    rename = recorded.one_event("rename_file", ev.FILE_RENAME).attributes
    assert rename[ev.FILE_PATH] == str(work / "old.txt")
    assert rename[ev.FILE_TARGET_PATH] == str(work / "new.txt")


def test_truncate_is_recorded_with_the_new_size(run: tuple[Recorded, Path]) -> None:
    recorded, work = run
    span = recorded.tool_span("truncate_file")
    truncates = [e.attributes for e in recorded.events(span, ev.FILE_TRUNCATE)]
    assert len(truncates) == 2
    by_path, by_descriptor = truncates
    assert by_path[ev.FILE_PATH] == str(work / "truncated.txt")
    assert by_path[ev.FILE_SIZE] == 3
    assert by_descriptor[ev.FILE_PATH] == str(work / "truncated.txt")  # os.ftruncate: its fd
    assert by_descriptor[ev.FILE_SIZE] == 1
    assert (work / "truncated.txt").read_bytes() == b"0"
    assert span.attributes[ev.count_attribute("file")] == 3  # two truncates and the open
    records = [
        r
        for r in recorded.logs_of(span, ev.FILE_TRUNCATE)
        if r.attributes.get(ev.FILE_PATH) == str(work / "truncated.txt")
    ]
    assert len(records) == 2  # by path and by descriptor
    assert all(record.severity_text == "INFO" for record in records)


def test_utime_records_the_timestamps_it_sets(run: tuple[Recorded, Path]) -> None:
    recorded, work = run
    event = recorded.one_event("backdate_file", ev.FILE_UTIME).attributes
    assert event[ev.FILE_PATH] == str(work / "stamped.txt")
    assert event[ev.FILE_MODIFIED] == "2000-01-01T00:00:00Z"
    assert event[ev.FILE_ACCESSED] == "2000-01-01T00:00:00Z"
    assert (work / "stamped.txt").stat().st_mtime == BACKDATED
    assert recorded.logs_of(recorded.tool_span("backdate_file"), ev.FILE_UTIME)


def test_tcp_connect(run: tuple[Recorded, Path], loopback: Loopback) -> None:
    recorded, _ = run
    connect = recorded.one_event("tcp_connect", ev.NETWORK_CONNECT).attributes
    assert connect[ev.SERVER_ADDRESS] == "127.0.0.1"
    assert connect[ev.SERVER_PORT] == loopback.tcp_port
    assert connect[ev.NETWORK_TRANSPORT] == "tcp"
    assert connect[ev.NETWORK_TYPE] == "ipv4"


def test_udp_send(run: tuple[Recorded, Path], loopback: Loopback) -> None:
    recorded, _ = run
    send = recorded.one_event("udp_send", ev.NETWORK_SEND).attributes
    assert send[ev.SERVER_PORT] == loopback.udp_port
    assert send[ev.NETWORK_TRANSPORT] == "udp"


def test_resolve(run: tuple[Recorded, Path]) -> None:
    recorded, _ = run
    resolve = recorded.one_event("resolve", ev.NETWORK_RESOLVE).attributes
    assert resolve[ev.SERVER_ADDRESS] == "localhost"
    assert resolve[ev.SERVER_PORT] == 80


def test_urllib_request_with_secret_query_values_redacted(
    run: tuple[Recorded, Path], loopback: Loopback
) -> None:
    recorded, _ = run
    request = recorded.one_event("http_get", ev.NETWORK_REQUEST).attributes
    # README: url.full without user info, secret query values redacted (the rest kept)
    port = loopback.http_port
    assert request[ev.URL_FULL] == f"http://127.0.0.1:{port}/status?token=[REDACTED]&x=1"
    assert request[ev.HTTP_REQUEST_METHOD] == "GET"
    span = recorded.tool_span("http_get")
    protocols = [
        e.attributes.get(ev.NETWORK_PROTOCOL_NAME)
        for e in recorded.events(span, ev.NETWORK_CONNECT)
    ]
    assert "http" in protocols
    assert all("abc123" not in str(e.attributes) for e in span.events)


def test_subprocess_is_one_spawn_with_secrets_redacted(run: tuple[Recorded, Path]) -> None:
    recorded, _ = run
    span = recorded.tool_span("run_subprocess")
    spawns = recorded.events(span, ev.PROCESS_SPAWN)
    assert len(spawns) == 1  # 3.13 also raises os.posix_spawn for the same spawn
    attributes = spawns[0].attributes
    assert attributes[ev.PROCESS_EXECUTABLE_PATH] == "/bin/echo"
    assert attributes[ev.PROCESS_COMMAND_ARGS] == ["/bin/echo", "--token", "[REDACTED]", "visible"]
    assert "s3cr3t-value" not in str(span.events)
    assert span.attributes[ev.count_attribute("process")] == 1


def test_os_system(run: tuple[Recorded, Path]) -> None:
    recorded, _ = run
    spawn = recorded.one_event("run_shell", ev.PROCESS_SPAWN).attributes
    assert spawn[ev.PROCESS_SHELL] is True
    assert spawn[ev.PROCESS_EXECUTABLE_PATH] == "/bin/sh"
    command = spawn[ev.PROCESS_COMMAND_ARGS][-1]
    assert command.startswith("true --password=[REDACTED]")
    assert "hunter2" not in command


def test_posix_spawn(run: tuple[Recorded, Path]) -> None:
    recorded, _ = run
    span = recorded.tool_span("run_posix_spawn")
    spawns = recorded.events(span, ev.PROCESS_SPAWN)
    assert len(spawns) == 1
    assert spawns[0].attributes[ev.PROCESS_COMMAND_ARGS] == ["/bin/true", "spawned"]
    assert spawns[0].attributes[ev.AUDIT_EVENT] == "os.posix_spawn"


def test_popen_is_one_spawn_on_either_path(run: tuple[Recorded, Path]) -> None:
    """Popen through fork_exec raises one event, through posix_spawn two: one spawn each."""
    recorded, _ = run
    calls = [
        span
        for span in recorded.spans
        if span.kind == SPAN_KIND_SERVER and span.name == "tools/call run_true"
    ]
    assert len(calls) == 2
    for span in calls:
        spawns = recorded.events(span, ev.PROCESS_SPAWN)
        assert [s.attributes[ev.AUDIT_EVENT] for s in spawns] == ["subprocess.Popen"]
        assert span.attributes[ev.count_attribute("process")] == 1


def test_eval_is_code_exec_with_hash_not_source(run: tuple[Recorded, Path]) -> None:
    recorded, _ = run
    span = recorded.tool_span("eval_code")
    execs = recorded.events(span, ev.CODE_EXEC)
    assert len(execs) == 1  # compile + exec of one eval() is one event
    attributes = execs[0].attributes
    assert attributes[ev.CODE_SHA256] == hashlib.sha256(b"6*7").hexdigest()[:16]
    assert attributes[ev.CODE_SIZE] == 3
    assert "6*7" not in str(attributes)


def test_exec(run: tuple[Recorded, Path]) -> None:
    recorded, _ = run
    source = b"y = [i for i in range(3)]"
    event = recorded.one_event("exec_code", ev.CODE_EXEC).attributes
    assert event[ev.CODE_SHA256] == hashlib.sha256(source).hexdigest()[:16]


def test_pickle(run: tuple[Recorded, Path]) -> None:
    recorded, _ = run
    event = recorded.one_event("unpickle", ev.CODE_DESERIALIZE).attributes
    assert event[ev.DESERIALIZE_FORMAT] == "pickle"
    assert event[ev.DESERIALIZE_GLOBAL] == "datetime.date"


def test_ctypes_load(run: tuple[Recorded, Path]) -> None:
    recorded, _ = run
    event = recorded.one_event("load_native", ev.NATIVE_LOAD).attributes
    assert "libm" in str(event[ev.FILE_PATH])
    assert event[ev.NATIVE_LOADER] == "ctypes"


def test_native_symbol_lookups_are_recorded_once_per_span(run: tuple[Recorded, Path]) -> None:
    recorded, _ = run
    span = recorded.tool_span("resolve_symbols")
    load = recorded.one_event("resolve_symbols", ev.NATIVE_LOAD).attributes
    lookups = [e.attributes for e in recorded.events(span, ev.NATIVE_SYMBOL)]
    names = [(a.get(ev.FILE_PATH), a[ev.NATIVE_SYMBOL_NAME]) for a in lookups]
    # cos looked up 100 times is one event; getpid has no library: CDLL(None), the process
    assert names == [(load[ev.FILE_PATH], "cos"), (load[ev.FILE_PATH], "sin"), (None, "getpid")]
    assert all(a[ev.AUDIT_EVENT] == "ctypes.dlsym" for a in lookups)
    assert span.attributes[ev.count_attribute("native")] == 4  # the load and three symbols
    assert span.attributes[ev.EVENTS_DROPPED] == 0
    records = recorded.logs_of(span, ev.NATIVE_SYMBOL)
    assert sorted(r.attributes[ev.NATIVE_SYMBOL_NAME] for r in records) == ["cos", "getpid", "sin"]
    assert all(r.severity_text == "WARN" for r in records)


def test_native_symbol_dedupe_is_per_span(run: tuple[Recorded, Path]) -> None:
    recorded, _ = run
    span = recorded.tool_span("resolve_cos_again")
    lookups = recorded.events(span, ev.NATIVE_SYMBOL)
    assert [e.attributes[ev.NATIVE_SYMBOL_NAME] for e in lookups] == ["cos"]


def test_dynamic_import(run: tuple[Recorded, Path]) -> None:
    recorded, _ = run
    span = recorded.tool_span("dynamic_import")
    imports = recorded.events(span, ev.MODULE_IMPORT)
    assert [e.attributes[ev.MODULE_NAME] for e in imports] == ["_sensor_lazy_module"]
    assert imports[0].attributes[ev.FILE_PATH] == str(HERE / "_sensor_lazy_module.py")
    assert not recorded.events(span, ev.FILE_OPEN)  # the importer's own reads are not the tool's


def test_plain_thread_carries_the_tool_context(run: tuple[Recorded, Path]) -> None:
    recorded, work = run
    event = recorded.one_event("thread_open", ev.FILE_OPEN).attributes
    assert event[ev.FILE_PATH] == str(work / "secret.txt")
    assert event[ev.ATTRIBUTION] == "context"


def test_child_python_continues_the_trace(run: tuple[Recorded, Path]) -> None:
    recorded, work = run
    tool = recorded.tool_span("child_read")
    children = [s for s in recorded.process_spans() if s.parent_span_id == tool.span_id]
    assert len(children) == 1, recorded.span_names()
    child = children[0]
    assert child.trace_id == tool.trace_id
    assert child.attributes[ev.PROCESS_PID] != tool.resource.get("process.pid")
    opens = [e for e in child.events if e.name == ev.FILE_OPEN]
    assert [e.attributes[ev.FILE_PATH] for e in opens] == [str(work / "secret.txt")]
    assert recorded.logs_of(child, ev.FILE_OPEN)


def test_tamper(run: tuple[Recorded, Path]) -> None:
    recorded, _ = run
    event = recorded.one_event("add_audit_hook", ev.SENSOR_TAMPER).attributes
    assert event[ev.AUDIT_EVENT] == "sys.addaudithook"


def test_quiet_tool_has_no_events(run: tuple[Recorded, Path]) -> None:
    recorded, _ = run
    span = recorded.tool_span("echo")
    assert not span.events
    assert not any(key.startswith("mcptrace.events.") for key in span.attributes)


def test_startup_is_summarized(run: tuple[Recorded, Path]) -> None:
    recorded, _ = run
    summaries = [
        r
        for r in recorded.sensor_logs(ev.SENSOR_SUMMARY)
        if r.attributes[ev.SENSOR_PHASE] == "startup"
    ]
    assert summaries
    assert any(r.attributes.get(ev.count_attribute("import"), 0) > 10 for r in summaries)


def test_every_record_says_how_it_was_attributed(run: tuple[Recorded, Path]) -> None:
    recorded, _ = run
    records = recorded.sensor_logs()
    assert records
    assert all(r.attributes[ev.ATTRIBUTION] in ("context", "inferred", "none") for r in records)
    for span in recorded.spans:
        for event in span.events:
            if event.name.startswith("mcptrace."):
                assert event.attributes[ev.ATTRIBUTION] in ("context", "inferred")
