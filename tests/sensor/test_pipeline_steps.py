"""Each pipeline step alone: translation, redaction, caps and counters (no hook installed)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import socket
from pathlib import Path

from opentelemetry.trace import SpanContext, TraceFlags
from opentelemetry.util.types import AttributeValue

from mcptrace.record import vocabulary as ev
from mcptrace.record.observation import Observation
from mcptrace.record.recorder import LOG_RECORDS_FACTOR, Recorder, record_attributes
from mcptrace.record.redact import redact_argv, redact_command_line, redact_url
from mcptrace.record.state import SpanState
from mcptrace.sensor import translate as translate_module
from mcptrace.sensor.hook import translate
from mcptrace.sensor.translate import access_of, interesting_events


def test_access_modes_from_open_flags() -> None:
    assert access_of(os.O_RDONLY) == "read"
    assert access_of(os.O_WRONLY | os.O_CREAT | os.O_TRUNC) == "write"
    assert access_of(os.O_RDWR) == "read_write"
    assert access_of(os.O_WRONLY | os.O_CREAT | os.O_EXCL) == "create"
    assert access_of(os.O_WRONLY | os.O_APPEND | os.O_CREAT) == "append"


def test_open_translation_makes_relative_paths_absolute() -> None:
    observation = translate("open", ("notes.txt", "r", os.O_RDONLY))
    assert observation is not None
    assert observation.name == ev.FILE_OPEN
    assert observation.attributes[ev.FILE_PATH] == os.path.join(os.getcwd(), "notes.txt")
    assert translate("open", (3, "r", os.O_RDONLY)) is None  # an fd reaches no new file


def test_connect_translation() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        observation = translate("socket.connect", (sock, ("127.0.0.1", 53)))
    assert observation is not None
    assert observation.attributes == {
        ev.SERVER_ADDRESS: "127.0.0.1",
        ev.SERVER_PORT: 53,
        ev.NETWORK_TYPE: "ipv4",
        ev.NETWORK_TRANSPORT: "udp",
    }


def _stdlib_caller(filename: str, source: str) -> dict[str, object]:
    """Functions compiled as if they were in ``filename`` (subprocess.py, pty.py): the
    translators pair two events of one spawn by the frames that raised them."""
    translators = translate_module.TRANSLATORS  # called directly: no frame of ours between

    namespace: dict[str, object] = {"translators": translators}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


_POPEN = """
def _execute_child(posix_spawn):
    first = translators["subprocess.Popen"].translate(
        "subprocess.Popen", ("/bin/true", ["/bin/true"], None, None))
    return first, (_posix_spawn() if posix_spawn else None)

def _posix_spawn():
    return translators["os.posix_spawn"].translate(
        "os.posix_spawn", ("/bin/true", ["/bin/true"], None))
"""


def test_popen_then_its_own_posix_spawn_is_one_spawn() -> None:
    popen = _stdlib_caller(translate_module._SUBPROCESS_FILE, _POPEN)
    first, echo = popen["_execute_child"](True)  # type: ignore[operator]
    assert first is not None and first.name == ev.PROCESS_SPAWN
    assert echo is None


def test_a_popen_never_swallows_a_later_posix_spawn() -> None:
    popen = _stdlib_caller(translate_module._SUBPROCESS_FILE, _POPEN)
    first, _ = popen["_execute_child"](False)  # the fork_exec path: no second event
    assert first is not None
    later = translate("os.posix_spawn", ("/bin/true", ["/bin/true"], None))
    assert later is not None and later.name == ev.PROCESS_SPAWN
    # nor does subprocess's own helper, called by anything but the Popen that raised
    assert popen["_posix_spawn"]() is not None  # type: ignore[operator]


def test_pty_spawn_then_its_own_forkpty_is_one_spawn() -> None:
    pty = _stdlib_caller(
        translate_module._PTY_FILE,
        """
def spawn():
    return translators["pty.spawn"].translate("pty.spawn", (["/bin/true"],)), fork()

def fork():
    return translators["os.forkpty"].translate("os.forkpty", ())
""",
    )
    first, echo = pty["spawn"]()  # type: ignore[operator]
    assert first is not None and echo is None
    assert translate("os.forkpty", ()) is not None  # a later fork of its own is recorded


def test_putenv_keeps_the_key_only() -> None:
    observation = translate("os.putenv", (b"API_TOKEN", b"secret-value"))
    assert observation is not None
    assert observation.attributes == {ev.ENV_KEY: "API_TOKEN"}


def test_a_string_compiled_to_import_a_module_is_marked() -> None:
    # an expression can import only through __import__ (or importlib): what a payload
    # laundered through a library's eval (typing's forward references, logging.config's
    # `args`) needs; the source itself is never kept
    for source in (
        "__import__('socket').create_connection(('10.0.0.1', 4444)) and int",
        b"getattr(__import__('os'), 'system')('id')",
        "importlib.import_module('subprocess').run(['id'])",
    ):
        observation = translate("compile", (source, "<string>"))
        assert observation is not None
        assert observation.attributes[ev.CODE_IMPORTS_MODULE] is True
    for source in ("List[int]", "(sys.stderr,)", "def f(x):\n    return x + 1\n", "import json"):
        observation = translate("compile", (source, "<string>"))
        assert observation is not None
        assert ev.CODE_IMPORTS_MODULE not in observation.attributes


def test_categories_select_events() -> None:
    network_only = interesting_events({"network"})
    assert "socket.connect" in network_only
    assert "open" not in network_only
    assert "sys.addaudithook" in network_only  # tamper is always watched
    assert "builtins.id" not in interesting_events(ev.CATEGORIES)


def test_redaction() -> None:
    assert redact_argv(["tool", "--password", "p", "--api-key=k", "ghp_" + "a" * 36, "ok"]) == [
        "tool",
        "--password",
        "[REDACTED]",
        "--api-key=[REDACTED]",
        "[REDACTED]",
        "ok",
    ]
    assert redact_argv(["git", "clone", "https://user:pw@example.com/r"]) == [
        "git",
        "clone",
        "https://example.com/r",
    ]
    assert "hunter2" not in redact_command_line("curl -u x --token hunter2 http://h/")
    assert (
        redact_url("https://user:pw@example.com:8443/p?q=1&token=secret#f")
        == "https://example.com:8443/p?q=1&token=[REDACTED]#f"
    )


def _span_state() -> SpanState:
    return SpanState(SpanContext(1, 2, False, TraceFlags(1)), is_mcp=True)


def test_caps_counters_and_drops() -> None:
    recorder = Recorder(span_events_per_category=2)
    state = _span_state()
    total = 2 * LOG_RECORDS_FACTOR + 5
    for index in range(total):
        observation = Observation(ev.FILE_OPEN, ev.FILE, {ev.FILE_PATH: f"/x{index}"}, "open")
        recorder.record(observation, state, ev.CONTEXT, 1)
    assert len(state.events) == 2
    assert len(recorder.pending) == 2 * LOG_RECORDS_FACTOR
    assert state.counts == {ev.FILE: total}
    assert state.dropped == 5
    additions = recorder.span_additions(state)
    assert additions is not None
    assert [event.name for event in additions.events] == [ev.FILE_OPEN, ev.FILE_OPEN]
    assert additions.attributes[ev.count_attribute(ev.FILE)] == total
    assert additions.attributes[ev.EVENTS_DROPPED] == 5
    assert additions.events[0].attributes[ev.ATTRIBUTION] == ev.CONTEXT


def _open(path: str) -> Observation:
    attributes: dict[str, AttributeValue] = {ev.FILE_PATH: path, ev.FILE_ACCESS: "read"}
    return Observation(ev.FILE_OPEN, ev.FILE, attributes, "open")


def test_identical_events_coalesce_into_one_record_until_it_is_emitted() -> None:
    recorder = Recorder(span_events_per_category=2)
    state = _span_state()
    for _ in range(5):
        recorder.record(_open("/a"), state, ev.CONTEXT, 1)
    recorder.record(_open("/b"), state, ev.CONTEXT, 1)  # another path
    recorder.record(_open("/a"), state, ev.CONTEXT, 2)  # another thread
    recorder.record(_open("/a"), state, ev.INFERRED, 1)  # another attribution
    unhashable = Observation(ev.PROCESS_SPAWN, ev.PROCESS, {"argv": ["a"]}, "subprocess.Popen")
    recorder.record(unhashable, state, ev.CONTEXT, 1)  # type: ignore[arg-type]
    recorder.record(unhashable, state, ev.CONTEXT, 1)  # type: ignore[arg-type]
    assert [record[0][4] for record in recorder.pending] == [4, 0, 0, 0, 0, 0]
    assert state.counts == {ev.FILE: 8, ev.PROCESS: 2} and state.dropped == 0

    first = recorder.pending[0][0]
    recorder.seal(first)  # the log thread emits it: the next copy is a new record
    recorder.record(_open("/a"), state, ev.CONTEXT, 1)
    recorder.record(_open("/a"), state, ev.CONTEXT, 1)
    assert len(recorder.pending) == 7 and recorder.pending[-1][0][4] == 1
    assert record_attributes(first)[ev.EVENT_REPEATS] == 4
    assert ev.EVENT_REPEATS not in record_attributes(recorder.pending[1][0])

    additions = recorder.span_additions(state)  # span events: the first 2 records per category
    assert additions is not None
    assert [event.attributes.get(ev.FILE_PATH) for event in additions.events] == [
        "/a", "/b", None, None
    ]  # fmt: skip
    repeats = [event.attributes.get(ev.EVENT_REPEATS) for event in additions.events]
    assert repeats == [4, None, None, None]
    last = recorder.pending[-1][0]
    recorder.record(_open("/a"), state, ev.CONTEXT, 1)  # span ended: records are sealed
    assert last[4] == 1 and len(recorder.pending) == 8


def test_repeats_count_towards_the_caps() -> None:
    recorder = Recorder(span_events_per_category=2)
    state = _span_state()
    total = 2 * LOG_RECORDS_FACTOR + 5
    for _ in range(total):
        recorder.record(_open("/a"), state, ev.CONTEXT, 1)
    assert len(recorder.pending) == 1 and recorder.pending[0][0][4] == 2 * LOG_RECORDS_FACTOR - 1
    assert state.counts == {ev.FILE: total} and state.dropped == 5
    assert state.kept[ev.FILE] == total  # past the log cap: the C hook only counts from here


def test_child_span_counts_on_its_mcp_root() -> None:
    recorder = Recorder()
    root = _span_state()
    child = SpanState(SpanContext(1, 3, False, TraceFlags(1)))
    child.root = root
    observation = Observation(ev.NETWORK_CONNECT, ev.NETWORK, {}, "socket.connect")
    recorder.record(observation, child, ev.CONTEXT, 1)
    assert len(child.events) == 1 and not root.events
    assert root.counts == {ev.NETWORK: 1}
    child_additions = recorder.span_additions(child)
    assert child_additions is not None and not child_additions.attributes


def test_truncate_and_utime_translation(tmp_path: Path) -> None:
    truncate = translate("os.truncate", ("notes.txt", 0))
    assert truncate is not None and truncate.name == ev.FILE_TRUNCATE
    assert truncate.attributes == {
        ev.FILE_PATH: os.path.join(os.getcwd(), "notes.txt"),
        ev.FILE_SIZE: 0,
    }
    with open(tmp_path / "by-fd", "w") as handle:  # os.ftruncate: where the descriptor leads
        by_descriptor = translate("os.truncate", (handle.fileno(), 10))
    assert by_descriptor is not None
    assert by_descriptor.attributes == {ev.FILE_PATH: str(tmp_path / "by-fd"), ev.FILE_SIZE: 10}
    pipe_read, pipe_write = os.pipe()
    try:  # a descriptor that is no file: no path
        unnamed = translate("os.truncate", (pipe_read, 10))
    finally:
        os.close(pipe_read)
        os.close(pipe_write)
    assert unnamed is not None and unnamed.attributes == {ev.FILE_SIZE: 10}
    now = translate("os.utime", ("/tmp/f", None, None, -1))
    assert now is not None and now.name == ev.FILE_UTIME
    assert now.attributes == {ev.FILE_PATH: "/tmp/f"}  # no times: set to now
    seconds = translate("os.utime", ("/tmp/f", (0, 1.5), None, -1))
    assert seconds is not None
    assert seconds.attributes[ev.FILE_ACCESSED] == "1970-01-01T00:00:00Z"
    assert seconds.attributes[ev.FILE_MODIFIED] == "1970-01-01T00:00:01.500000Z"
    nanoseconds = translate("os.utime", ("/tmp/f", None, (1, 2_000_001_000), -1))
    assert nanoseconds is not None
    assert nanoseconds.attributes[ev.FILE_MODIFIED] == "1970-01-01T00:00:02.000001Z"
    absurd = translate("os.utime", ("/tmp/f", (1e300, 0), None, -1))
    assert absurd is not None and ev.FILE_ACCESSED not in absurd.attributes


def test_dlsym_translation_names_library_and_symbol() -> None:
    libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    named = translate("ctypes.dlsym", (libm, "cos"))
    assert named is not None and named.name == ev.NATIVE_SYMBOL and named.category == ev.NATIVE
    assert named.attributes == {ev.FILE_PATH: libm._name, ev.NATIVE_SYMBOL_NAME: "cos"}
    process = translate("ctypes.dlsym", (ctypes.pythonapi, "Py_IsInitialized"))
    assert process is not None and process.attributes == {ev.NATIVE_SYMBOL_NAME: "Py_IsInitialized"}
    by_handle = translate("ctypes.dlsym/handle", (libm._handle, "sin"))
    assert by_handle is not None and by_handle.attributes == {ev.NATIVE_SYMBOL_NAME: "sin"}
    assert "ctypes.dlsym" in interesting_events({ev.NATIVE})
    assert "ctypes.dlsym" not in interesting_events({ev.FILE})


def _symbol(library: str | None, name: str) -> Observation:
    attributes: dict[str, AttributeValue] = {ev.NATIVE_SYMBOL_NAME: name}
    if library is not None:
        attributes[ev.FILE_PATH] = library
    return Observation(ev.NATIVE_SYMBOL, ev.NATIVE, attributes, "ctypes.dlsym")


def test_a_symbol_is_looked_up_once_per_span_and_library() -> None:
    recorder = Recorder(span_events_per_category=2)
    state, other = _span_state(), _span_state()
    assert recorder.first_lookup(state, _symbol("libc.so.6", "open"))
    assert not recorder.first_lookup(state, _symbol("libc.so.6", "open"))
    assert recorder.first_lookup(state, _symbol(None, "open"))  # the process's namespace
    assert recorder.first_lookup(state, _symbol("libc.so.6", "system"))
    assert recorder.first_lookup(other, _symbol("libc.so.6", "open"))  # per span
    state.reset()
    assert recorder.first_lookup(state, _symbol("libc.so.6", "open"))


def test_symbol_memory_is_bounded_by_the_log_cap() -> None:
    recorder = Recorder(span_events_per_category=2)
    state = _span_state()
    for index in range(10 * recorder.log_cap):
        observation = _symbol("libc.so.6", f"symbol_{index}")
        if recorder.first_lookup(state, observation):
            recorder.record(observation, state, ev.CONTEXT, 1)
    assert state.symbols is not None and len(state.symbols) == recorder.log_cap
    assert state.counts == {ev.NATIVE: 10 * recorder.log_cap}
    # past the cap a repeat is no longer recognised: it is counted like any other event
    assert recorder.first_lookup(state, _symbol("libc.so.6", "symbol_0"))


def test_concurrent_repeats_and_sealing_lose_no_event() -> None:
    import threading

    recorder = Recorder(span_events_per_category=10_000)  # no cap reached: nothing dropped
    state = _span_state()
    per_thread, threads = 5_000, 4
    done = threading.Event()

    def record(thread_id: int) -> None:
        for index in range(per_thread):
            recorder.record(_open(f"/f{index % 3}"), state, ev.INFERRED, thread_id)

    def seal() -> None:  # the log thread emitting records meanwhile
        while not done.is_set():
            for entry in list(recorder.pending):
                recorder.seal(entry[0])

    sealer = threading.Thread(target=seal)
    sealer.start()
    workers = [threading.Thread(target=record, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done.set()
    sealer.join()
    recorder.span_additions(state)
    represented = sum(1 + entry[0][4] for entry in recorder.pending)
    assert state.counts[ev.FILE] == per_thread * threads
    assert represented + state.dropped == per_thread * threads  # a full queue drops, counted
