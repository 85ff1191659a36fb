"""Run under ``mcptrace run``: a program that turns on the runtime mcptrace writes with.

    python hostile_runtime_program.py HOW WORK_DIR [active]

HOW:
  replace_os      replaces os.open, os.write, os.close, os.fstat, builtins.open, ... with
                  functions that raise TypeError or swallow the data, then records
  refuse_spool    adds an audit hook that raises RuntimeError on every open in the spool
  deep_recursion  opens a file at the recursion limit (Python allows that: a C call)

Records: a span ``program work`` with an open of ``WORK_DIR/recorded.txt`` (made with the
real functions, before they are replaced).  ``WORK_DIR/result.json`` says what the
program saw of its own operations; they must be what they are without mcptrace.
"""

from __future__ import annotations

import builtins
import json
import os
import sys
import time

HOW, WORK = sys.argv[1], sys.argv[2]
if sys.argv[3:] == ["active"]:
    import opentelemetry.trace  # noqa: F401  (mcptrace activates before this import)

real_open, real_os_open, real_close = builtins.open, os.open, os.close
result: dict[str, str] = {}


def work_span() -> None:
    if "opentelemetry.trace" not in sys.modules:
        real_open(os.path.join(WORK, "recorded.txt"), "w").close()
        return
    from opentelemetry import trace

    with trace.get_tracer("hostile").start_as_current_span("program work"):
        real_open(os.path.join(WORK, "recorded.txt"), "w").close()


def refuse(*args: object, **kwargs: object) -> object:
    raise TypeError("replaced by the program")


if HOW == "replace_os":
    for name in ("open", "close", "fstat", "fchmod", "ftruncate", "fdatasync", "mkdir", "chmod"):
        setattr(os, name, refuse)
    os.write = lambda fd, data: len(data)  # type: ignore[assignment]  # swallows the data
    builtins.open = refuse  # type: ignore[assignment]
    work_span()
    try:
        os.open(os.path.join(WORK, "x"), os.O_RDONLY)
    except TypeError:
        result["os.open"] = "TypeError"
elif HOW == "refuse_spool":
    spool = os.environ["MCPTRACE_SPOOL_DIR"]

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event == "open" and args and str(args[0]).startswith(spool):
            raise RuntimeError("the program refuses opens in the spool")
        if event == "open" and args and str(args[0]).endswith(".jsonl"):
            raise RuntimeError("the program refuses spool files")

    sys.addaudithook(hook)
    work_span()
    with real_open(os.path.join(WORK, "mine.txt"), "w") as handle:
        handle.write("still works")
    result["own open"] = "ok"
elif HOW == "deep_recursion":
    deep_path, flags = os.path.join(WORK, "deep.txt"), os.O_WRONLY | os.O_CREAT

    def deep(depth: int) -> str:
        try:
            return deep(depth + 1)
        except RecursionError:
            try:  # C calls only: they need no frame at the limit
                real_close(real_os_open(deep_path, flags))
            except RecursionError:
                return "RecursionError"
            return "ok"

    result["open at the limit"] = deep(0)
    work_span()
time.sleep(1.5)  # a batch is exported meanwhile (active)
fd = real_os_open(os.path.join(WORK, "result.json"), os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, json.dumps(result).encode()) if HOW != "replace_os" else None
if HOW == "replace_os":
    import _io

    with _io.FileIO(fd, "w", closefd=False) as raw:
        raw.write(json.dumps(result).encode())
real_close(fd)
