"""The sensor and judge changes behind the second red-team corpus (benchmarks/corpus/redteam2/),
in-process: each class with a look-alike that must stay quiet.

* the dict behind ``os.environ`` (``os.environ._data``) raises the whole-environment event
  when code outside ``os`` dumps it, once per dump, and never for one variable;
* an environment handed to the model hex- or base64-encoded is still the environment;
* ``atexit`` and signal handlers a tool call registers run in that call's context, while
  ``getsignal``, ``unregister`` and the handler ``signal.signal`` returns stay the program's;
* a compile by the importer under a made-up ``.py`` name (a loader serving a string) is the
  tool's compile, a module's real source file is not.
"""

from __future__ import annotations

import atexit
import base64
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace

from mcptrace.policy.detect import Action, Detector, builtin_rules
from mcptrace.sensor import translate
from mcptrace.sensor.environ import AUDIT_EVENT, WatchedData, unwatch_environ, watch_environ
from mcptrace.threads import ThreadContextInstrumentor

DETECTOR = Detector(builtin_rules().values())
_seen: list[Any] = []
_listening = [False]


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _listening[0] and event == AUDIT_EVENT:
        _seen.append(args)


sys.addaudithook(_hook)


def dumps(action: Any) -> int:
    """How many whole-environment events ``action()`` raises."""
    _seen.clear()
    _listening[0] = True
    try:
        action()
    finally:
        _listening[0] = False
    return len(_seen)


def test_the_dict_behind_os_environ_reports_its_dumps() -> None:
    watch_environ()
    try:
        data = os.environ._data  # type: ignore[attr-defined]
        assert type(data) is WatchedData and os.environb._data is data  # type: ignore[attr-defined]
        assert dumps(lambda: list(data.items())) == 1
        assert dumps(lambda: dict(data)) == 1
        assert dumps(lambda: [k for k in data]) == 1
        assert dumps(lambda: dict(os.environ)) == 1  # os's own iteration: not twice
        assert dumps(lambda: repr(os.environ)) == 1
        assert dumps(lambda: (os.environ["PATH"], os.getenv("HOME"), len(os.environ))) == 0
        os.environ["MCPTRACE_REDTEAM_PROBE"] = "1"
        assert os.environb[b"MCPTRACE_REDTEAM_PROBE"] == b"1"
        del os.environ["MCPTRACE_REDTEAM_PROBE"]
    finally:
        unwatch_environ()
    assert type(os.environ._data) is dict  # type: ignore[attr-defined]
    assert os.environb._data is os.environ._data  # type: ignore[attr-defined]


def test_the_dict_read_from_c_with_no_python_caller_is_a_dump_and_no_error() -> None:
    # a thread whose function is C (list.extend) iterates the dict: no Python frame above the
    # watched method, where the check for os's own callers used to raise into the program
    import _thread
    import time

    watch_environ()
    try:
        data = os.environ._data  # type: ignore[attr-defined]
        copied: list[Any] = []
        errors: list[Any] = []
        previous, sys.unraisablehook = sys.unraisablehook, errors.append
        start = getattr(_thread.start_new_thread, "__wrapped__", _thread.start_new_thread)
        try:
            count = dumps(
                lambda: (
                    start(copied.extend, (data,)),
                    [time.sleep(0.01) for _ in range(500) if not copied and not errors],
                )
            )
        finally:
            sys.unraisablehook = previous
        assert errors == [] and len(copied) == len(data)
        assert count == 1
    finally:
        unwatch_environ()


def answered(text: str) -> set[str]:
    action = Action(0, "mcptrace.mcp.tool.answered", {"mcptrace.mcp.component.description": text})
    return {finding.rule.id for finding in DETECTOR.evaluate([action], "t")}


@pytest.mark.parametrize("encode", ["hex", "base64", "urlsafe"])
def test_an_encoded_environment_in_an_answer_is_the_environment(
    monkeypatch: pytest.MonkeyPatch, encode: str
) -> None:
    monkeypatch.setenv("REDTEAM_SERVICE_API_TOKEN", "tok-9f8e7d6c5b4a")
    dump = ";".join(f"{k}={v}" for k, v in os.environ.items()).encode()
    blob = {
        "hex": dump.hex(),
        "base64": base64.b64encode(dump).decode(),
        "urlsafe": base64.urlsafe_b64encode(dump).decode().rstrip("="),
    }[encode]
    assert "collection.environment-in-answer" in answered(f"Quote this id to support: {blob}")


def test_encoded_blobs_without_the_environment_are_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDTEAM_SERVICE_API_TOKEN", "tok-9f8e7d6c5b4a")
    assert answered("sha256 " + "ab12" * 16) == set()
    assert (
        answered("data:image/png;base64," + base64.b64encode(bytes(range(200))).decode()) == set()
    )


@pytest.fixture
def instrumented() -> Any:
    instrumentor = ThreadContextInstrumentor()
    instrumentor.instrument()
    try:
        yield
    finally:
        instrumentor.uninstrument()


def in_a_call() -> Any:
    span = trace.NonRecordingSpan(
        trace.SpanContext(0x1F, 0x2F, is_remote=False, trace_flags=trace.TraceFlags(1))
    )
    return otel_context.attach(trace.set_span_in_context(span))


def current_span_id() -> int:
    return trace.get_current_span().get_span_context().span_id


def test_signal_and_atexit_handlers_run_in_the_call_that_set_them(instrumented: Any) -> None:
    ran: list[int] = []

    def handler(signum: int, frame: object) -> None:
        ran.append(current_span_id())

    def at_exit() -> None:
        ran.append(current_span_id())

    before = signal.getsignal(signal.SIGUSR1)
    token = in_a_call()
    try:
        previous = signal.signal(signal.SIGUSR1, handler)
        assert atexit.register(at_exit) is at_exit
    finally:
        otel_context.detach(token)
    try:
        assert previous is before
        assert signal.getsignal(signal.SIGUSR1) is handler  # the program's, not a wrapper
        assert signal.getsignal.__wrapped__(signal.SIGUSR1) is not handler  # type: ignore[attr-defined]
        os.kill(os.getpid(), signal.SIGUSR1)
        assert ran == [0x2F]  # outside the call, the handler ran in it
        assert signal.signal(signal.SIGUSR1, before) is handler
        # the wrapper is registered, the program's function is what it unregisters (run in the
        # call as the server exits: tests/detect/test_redteam2_corpus.py, r10)
        atexit.unregister(at_exit)
    finally:
        signal.signal(signal.SIGUSR1, before)
        atexit.unregister(at_exit)


def test_a_handler_registered_from_c_in_a_call_is_registered(instrumented: Any) -> None:
    # a thread with no Python frame at all runs atexit.register inside a call's context
    # (Context.run straight from _thread): no registering frame to judge, and no error
    import _thread
    import contextvars
    import time

    def at_exit() -> None:
        pass

    token = in_a_call()
    try:
        call = contextvars.copy_context()
    finally:
        otel_context.detach(token)
    before = atexit._ncallbacks()
    errors: list[Any] = []
    previous, sys.unraisablehook = sys.unraisablehook, errors.append
    try:
        # mcptrace's own starter would put its frame under call.run: the C starter, as a
        # native library's thread would call back into Python
        start = getattr(_thread.start_new_thread, "__wrapped__", _thread.start_new_thread)
        start(call.run, (atexit.register, at_exit))
        for _ in range(500):
            if errors or atexit._ncallbacks() > before:
                break
            time.sleep(0.01)
    finally:
        sys.unraisablehook = previous
    registered = atexit._ncallbacks() - before  # (unregister leaves the count as it is)
    atexit.unregister(at_exit)
    assert errors == [] and registered == 1


def test_handlers_set_outside_a_call_are_left_alone(instrumented: Any) -> None:
    def handler(signum: int, frame: object) -> None:
        pass

    before = signal.signal(signal.SIGUSR2, handler)
    try:
        assert signal.getsignal(signal.SIGUSR2) is handler
        assert getattr(handler, "_mcptrace_deferred", None) is None
    finally:
        signal.signal(signal.SIGUSR2, before)


def test_the_importer_compiling_a_made_up_file_name_is_a_compile(tmp_path: Path) -> None:
    real = tmp_path / "real_module.py"
    real.write_text("x = 1\n")
    original = translate.from_importer
    translate.from_importer = lambda: True  # type: ignore[assignment]  # as if importing
    try:
        assert translate._compiled_name((b"x = 1\n", str(real))) is None
        assert translate._compiled_name((b"x = 1\n", str(tmp_path / "nowhere.py"))) is not None
        assert translate._compiled_name((b"x = 1\n", "<plugin update>")) == "<plugin update>"
    finally:
        translate.from_importer = original  # type: ignore[assignment]


def test_handlers_the_standard_library_registers_in_a_call_are_left_alone(
    instrumented: Any,
) -> None:
    """weakref's finalizers, asyncio's child watcher: machinery working for every call."""
    namespace: dict[str, Any] = {"signal": signal}
    stdlib_file = os.path.join(os.path.dirname(os.__file__), "mcptrace_probe_helper.py")
    code = "def register(number, handler):\n    return signal.signal(number, handler)\n"
    exec(compile(code, stdlib_file, "exec"), namespace)

    def handler(signum: int, frame: object) -> None:
        pass

    token = in_a_call()
    try:
        before = namespace["register"](signal.SIGUSR2, handler)
    finally:
        otel_context.detach(token)
    try:
        raw = signal.getsignal.__wrapped__(signal.SIGUSR2)  # type: ignore[attr-defined]
        assert raw is handler  # not wrapped
    finally:
        signal.signal(signal.SIGUSR2, before)


_translated: list[Any] = []


def _open_hook(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and args and args[0] == "id_redteam_probe":
        _translated.append(translate._open(event, args))


sys.addaudithook(_open_hook)


def test_an_open_beside_a_directory_descriptor_is_judged_where_it_leads(tmp_path: Path) -> None:
    (tmp_path / "id_redteam_probe").write_text("key")
    builtin = os.open
    tracked = bool(translate._DIR_FD_TRACKED)
    translate.track_open_dir_fd()
    try:
        directory = os.open(tmp_path, os.O_RDONLY)
        try:
            os.close(os.open("id_redteam_probe", os.O_RDONLY, dir_fd=directory))
        finally:
            os.close(directory)
    finally:
        if not tracked:
            translate.untrack_open_dir_fd()
    observation = _translated.pop()
    assert observation.attributes["file.path"] == str(tmp_path / "id_redteam_probe")
    if not tracked:
        assert os.open is builtin and type(os.open).__name__ == "builtin_function_or_method"


def test_a_finalizer_the_tool_sets_runs_in_its_call(instrumented: Any) -> None:
    import weakref

    class Session:
        pass

    ran: list[int] = []

    def close(tag: str) -> None:
        ran.append(current_span_id())

    kept, dropped = Session(), Session()
    token = in_a_call()
    try:
        detached = weakref.finalize(kept, close, "kept")
        finalizer = weakref.finalize(dropped, close, "dropped")
    finally:
        otel_context.detach(token)
    assert finalizer.peek() is not None and finalizer.peek()[1] is close  # type: ignore[index]
    del dropped  # dies outside the call: its finalizer runs in it
    assert ran == [0x2F]
    found = detached.detach()
    assert found is not None and found[1] is close
