"""What the sensor's Python hook costs per audit event while a program imports its stack.

``python -m benchmarks.bench_hookpath [--json FILE] [--dump FILE]`` starts one Python child
the way an instrumented parent starts its Python children (``quickrun.child_environment``),
which imports ``mcp, pydantic, anyio, starlette`` (and httpx if installed) and then does a
few things a tool could (a dataclass, a forward reference, an ``exec`` of a string calling
``__import__``).  Inside it, a second sensor hook, built like the bootstrap's (same
categories and caps; detections' late judge and past-cap judging on from the first event),
runs on every audit event, live (the frames above it are the real ones, so the origin walk
and the importer checks do their real work), with its steps timed per event kind by
``time.thread_time_ns`` (the main thread's own CPU: the process's clock would also count
mcptrace's log thread judging start-up records meanwhile, reported apart as
``other_threads_cpu_ms``): translation, origin marking, the recorder, and the rest (guard,
attribution).
The events that reach the hook are kept and replayed afterwards through a fresh hook of the
same kind (CPU µs per event kind; under ``cProfile`` with ``--profile``).  In the replay the
frames above the hook are the replay loop's, so the origin walk ends at once: the live figures
are the real ones, the replay shows what does not depend on the frames.

``--dump FILE`` writes what the second sensor recorded (its pending records, the records
kept only for judging, the start-up bucket's counts) as JSON: equal files before and after a
change to the hook mean the change left the recording as it was.

Not part of ``python -m benchmarks``: a profiling tool for the hook, run on demand.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from typing import Any

TOOL_CODE = """
import dataclasses, typing
@dataclasses.dataclass
class Payload:
    name: str
    size: "int"
    tags: "typing.List[str]" = dataclasses.field(default_factory=list)
typing.get_type_hints(Payload, globals())
ns = {}
exec("mod = __import__('os').getcwd()", ns)
code = compile("import base64\\nvalue = base64.b64decode('aGk=')", "<tool>", "exec")
exec(code, ns)
eval(compile("__import__('sys').platform", "<string>", "eval"))
"""


def _stack() -> str:
    import importlib.util

    names = [n for n in ("mcp", "pydantic", "httpx", "anyio", "starlette")]
    return ", ".join(n for n in names if importlib.util.find_spec(n) is not None)


def _kind(event: str, args: tuple[Any, ...]) -> str:
    if event == "exec":
        code = args[0] if args else None
        return "exec <module>" if getattr(code, "co_name", "") == "<module>" else "exec"
    if event == "open" and len(args) == 3 and type(args[0]) is str:
        if args[0].endswith(".pyc") and type(args[2]) is int and not args[2] & os.O_ACCMODE:
            return "open .pyc (the C hook's step 1b)"
        return "open .py" if args[0].endswith(".py") else "open"
    return event


def child(mode: str, out: str, profile: bool) -> None:
    """Runs inside the instrumented child (``mode`` time or dump)."""
    from mcptrace.record import recorder as recorder_module
    from mcptrace.sensor import hook as hook_module
    from mcptrace.sensor import origin as origin_module
    from mcptrace.sensor import translate as translate_module

    installed = hook_module.installed()
    if installed is None:
        raise SystemExit("the child has no sensor installed")
    categories = installed.categories
    span_cap = installed.recorder.span_cap
    here = os.path.abspath(__file__)
    # this file's frames are the harness's, not the program's: looked past like mcptrace's
    translate_module.register_own_files(here)
    origin_module._PACKAGE_DIRECTORY = (origin_module._PACKAGE_DIRECTORY, here)  # type: ignore[assignment]

    def new_sensor() -> Any:
        sensor = hook_module.Sensor(categories, span_cap, native=False)
        sensor.recorder.late_detector = lambda *args: []  # type: ignore[assignment]
        sensor.recorder.judge_past_cap = True
        return sensor

    sensor = new_sensor()
    clock = time.thread_time_ns
    inside = [False]
    spent: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])  # n, total, tr, mark, rec
    current = ["", 0, 0, 0]
    reached: list[tuple[str, tuple[Any, ...]]] = []
    timing = mode == "time"

    originals = {name: entry.translate for name, entry in translate_module.TRANSLATORS.items()}

    def timed(real: Any) -> Any:
        def timed_translate(event: str, args: Any) -> Any:
            if not inside[0]:
                return real(event, args)
            started = clock()
            try:
                return real(event, args)
            finally:
                current[1] += clock() - started

        return timed_translate

    if timing:
        for entry in translate_module.TRANSLATORS.values():
            real = entry.translate

            entry.translate = timed(real)
        counted = getattr(translate_module, "COUNTED_TRANSLATORS", {})  # shared with the
        for name, real in list(counted.items()):  # real hook: timed only inside ours
            counted[name] = timed(real)
        for name in ("compile_unhashed", "add_source_hash"):  # the hook's (when it has them)
            if hasattr(hook_module, name):
                setattr(hook_module, name, timed(getattr(hook_module, name)))
        real_mark = hook_module.mark_library_origin

        def timed_mark(observation: Any, *more: Any) -> None:
            if not inside[0]:
                return real_mark(observation, *more)
            started = clock()
            try:
                return real_mark(observation, *more)
            finally:
                current[2] += clock() - started

        hook_module.mark_library_origin = timed_mark  # type: ignore[assignment]
        real_record = recorder_module.Recorder.record
        recorder = sensor.recorder

        def timed_record(observation: Any, state: Any, how: str, thread_id: int) -> None:
            started = clock()
            try:
                return real_record(recorder, observation, state, how, thread_id)
            finally:
                current[3] += clock() - started

        recorder.record = timed_record  # type: ignore[method-assign]
    second = hook_module.make_hook(sensor)
    for name, entry in translate_module.TRANSLATORS.items():  # the replay's hook: untimed
        entry.translate = originals[name]
    interesting = sensor.interesting

    def outer(event: str, args: tuple[Any, ...]) -> None:
        if event not in interesting:
            return
        kind = _kind(event, args)
        current[:] = [kind, 0, 0, 0]
        inside[0] = True
        started = clock()
        try:
            second(event, args)
        finally:
            total = clock() - started
            inside[0] = False
            row = spent[kind]
            row[0] += 1
            row[1] += total
            row[2] += current[1]
            row[3] += current[2]
            row[4] += current[3]
        reached.append((event, args))

    # the program's code, compiled before the hook goes in, with file names of its own (a
    # tool's file: its exec is the tool's, not library machinery's)
    program = os.path.join(tempfile.mkdtemp(prefix="mcptrace-hookpath-"), "program.py")
    stack_code = compile(f"import {_stack()}", program, "exec")
    tool_code = compile(TOOL_CODE, os.path.join(os.path.dirname(program), "tool.py"), "exec")
    sys.addaudithook(outer)
    started, started_thread = time.process_time(), time.thread_time()
    exec(stack_code, {})
    exec(tool_code, {})
    elapsed = time.process_time() - started
    elapsed_thread = time.thread_time() - started_thread
    interesting = frozenset()  # stop recording (audit hooks cannot be removed)
    if mode == "dump":
        _dump(sensor, out)
        return
    counted_by_c = 0
    if installed.native:
        from mcptrace.sensor import _fasthook

        counted_by_c = int(_fasthook.fast_counted())
    replay = _replay(reached, new_sensor, hook_module, profile)
    result = {
        "stack": _stack(),
        "hook_file": hook_module.__file__,
        "python": sys.version.split()[0],
        "child_cpu_ms_during_imports": round(elapsed * 1000, 1),
        "main_thread_cpu_ms_during_imports": round(elapsed_thread * 1000, 1),
        "other_threads_cpu_ms": round((elapsed - elapsed_thread) * 1000, 1),
        "events_reaching_python_hook": len(reached),
        "native_fast_counted": counted_by_c,
        "live": {
            kind: {
                "count": n,
                "us_each": round(total / n / 1000, 2),
                "translate_us": round(tr / n / 1000, 2),
                "origin_us": round(mark / n / 1000, 2),
                "record_us": round(rec / n / 1000, 2),
                "rest_us": round((total - tr - mark - rec) / n / 1000, 2),
                "total_ms": round(total / 1e6, 2),
            }
            for kind, (n, total, tr, mark, rec) in sorted(spent.items(), key=lambda i: -i[1][1])
        },
        "replay": replay,
    }
    with open(out, "w") as handle:
        json.dump(result, handle, indent=1)


def _replay(
    reached: list[tuple[str, tuple[Any, ...]]], new_sensor: Any, hook_module: Any, profile: bool
) -> dict[str, Any]:
    """The same events through a fresh hook, 5 times; the minimum per kind."""
    best: dict[str, float] = {}
    counts = Counter(_kind(e, a) for e, a in reached)
    for _ in range(5):
        hook = hook_module.make_hook(new_sensor())
        per_kind: dict[str, int] = defaultdict(int)
        clock = time.thread_time_ns
        for event, args in reached:
            started = clock()
            hook(event, args)
            per_kind[_kind(event, args)] += clock() - started
        for kind, total in per_kind.items():
            us = total / counts[kind] / 1000
            best[kind] = min(best.get(kind, us), us)
    result: dict[str, Any] = {
        kind: {"count": counts[kind], "us_each": round(us, 2)} for kind, us in best.items()
    }
    if profile:
        import cProfile
        import io
        import pstats

        hook = hook_module.make_hook(new_sensor())
        profiler = cProfile.Profile(time.thread_time)  # CPU of this thread, not wall
        profiler.enable()
        for event, args in reached:
            hook(event, args)
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(18)
        result["profile"] = text.getvalue()
    return result


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return repr(value)


def _dump(sensor: Any, out: str) -> None:
    def row(record: Any) -> list[Any]:
        observation = record[1]
        attributes = sorted((k, _plain(v)) for k, v in observation[2].items())
        return [observation[0], observation[1], observation[3], attributes, record[2], record[4]]

    recorder = sensor.recorder
    startup = sensor.registry.startup
    dump = {
        "pending": [row(record) for record, _ in recorder.pending],
        "judge_only": [row(record) for record in recorder.judge_only],
        "counts": dict(sorted(startup.counts.items())),
        "kept": dict(sorted(startup.kept.items())),
        "dropped": startup.dropped,
        "errors": sensor.errors,
    }
    with open(out, "w") as handle:
        json.dump(dump, handle, indent=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the timings here")
    parser.add_argument("--dump", help="write what was recorded here (no timing)")
    parser.add_argument("--profile", action="store_true", help="cProfile the replay")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], args.profile)
        return 0
    from benchmarks.startup import _env, child_environment

    spool = tempfile.mkdtemp(prefix="mcptrace-hookpath-")
    env = child_environment(
        _env(
            MCPTRACE_SPOOL_DIR=spool,
            MCPTRACE_HASH_CACHE=os.path.join(spool, "cache.sqlite3"),
            XDG_STATE_HOME=os.path.join(spool, "state"),
        )
    )
    # this checkout's benchmarks; an mcptrace named by PYTHONPATH first (a before/after run)
    extra = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    env["PYTHONPATH"] = os.pathsep.join(
        [*os.environ.get("PYTHONPATH", "").split(os.pathsep), env["PYTHONPATH"], *extra]
    ).strip(os.pathsep)
    mode, out = ("dump", args.dump) if args.dump else ("time", args.json or "/dev/stdout")
    command = [sys.executable, "-m", "benchmarks.bench_hookpath", "--child", mode, out]
    if args.profile:
        command.append("--profile")
    subprocess.run(command, env=env, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
