"""Start-up cost of ``mcptrace run`` (fresh processes, so cold interpreter start each time).

Two kinds of rows:

* wall time of the whole ``mcptrace run -- python -c …`` (launcher, exec, bootstrap) against
  plain ``python -c …``, as before;
* CPU time (user + system, from ``getrusage(RUSAGE_CHILDREN)`` around each run, so every
  process of the run and its exit are counted) added per process start: by ``mcptrace run``
  as a user types it (the console script, then the command), by the instrumented interpreter
  alone (what every Python child a tool starts pays: started with the environment an
  instrumented parent passes on), and by the same with ``MCPTRACE_ENABLED=false``.

Hash cache, module-set file and entry-point cache are warm: one unmeasured run of each
variant comes first.  Bytecode is written beforehand (``compile_mcptrace``), and
``PYTHONDONTWRITEBYTECODE`` is dropped from the children's environment so that plain and
instrumented processes both load bytecode, as installed packages do.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Result, alternate

STACK = ("mcp", "pydantic", "httpx", "anyio", "starlette")
LAUNCHER = os.path.join(os.path.dirname(sys.executable), "mcptrace")


def import_stack() -> str:
    """``import mcp, pydantic, httpx, anyio, starlette`` limited to what is installed
    (mcp 2.x depends on httpx2 instead of httpx)."""
    present = [name for name in STACK if importlib.util.find_spec(name) is not None]
    return "import " + ", ".join(present)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MCPTRACE_"))}
    for name in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "TRACEPARENT", "TRACESTATE"):
        env.pop(name, None)
    env.update(extra)
    return env


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _cpu_ms(command: list[str], env: dict[str, str]) -> float:
    """CPU milliseconds (user + system) of ``command`` and every process it started."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return 1000 * (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


def _launcher() -> list[str]:
    if os.path.exists(LAUNCHER):
        return [LAUNCHER]
    return [sys.executable, "-m", "mcptrace.quickrun"]  # the console script's module


def _instrumented_command(code: str) -> list[str]:
    return [*_launcher(), "run", "--", sys.executable, "-c", code]


def child_environment(env: dict[str, str]) -> dict[str, str]:
    """What an instrumented parent passes to a Python child (PYTHONPATH, OTEL_PYTHON_*...)."""
    from mcptrace.quickrun import child_environment as instrumented

    return instrumented(env)


def run(rounds: int, smoke: bool = False) -> list[Result]:
    spool = Path(tempfile.mkdtemp(prefix="mcptrace-bench-"))
    env = _env(
        MCPTRACE_SPOOL_DIR=str(spool),
        MCPTRACE_HASH_CACHE=str(spool / "cache.sqlite3"),
        XDG_STATE_HOME=str(spool / "state"),
    )
    child = child_environment(env)
    off = {**child, "MCPTRACE_ENABLED": "false"}
    plain = _env()
    results = []
    stack = import_stack()
    for code in ("pass", stack):  # warm every cache once, unmeasured
        for command, environ in (
            (_instrumented_command(code), env),
            ([sys.executable, "-c", code], child),
        ):
            subprocess.run(command, env=environ, check=True, stdout=subprocess.DEVNULL)
    for label, code in (("python -c pass", "pass"), (stack.removeprefix("import "), stack)):
        results.append(
            alternate(
                f"start-up: {label}",
                lambda code=code: _timed([sys.executable, "-c", code], plain),  # type: ignore[misc]
                lambda code=code: _timed(_instrumented_command(code), env),  # type: ignore[misc]
                rounds,
                note="whole-process wall time, `mcptrace run` (launcher + exec + bootstrap)",
            )
        )
    cpu_rounds = rounds if smoke else max(rounds, 15)
    pass_plain = [sys.executable, "-c", "pass"]
    for label, command, environ, target in (
        ("`mcptrace run -- python -c pass`", _instrumented_command("pass"), env, 25.0),
        ("a Python child of an instrumented process, `-c pass`", pass_plain, child, None),
        ("the same, MCPTRACE_ENABLED=false", pass_plain, off, 5.0),
    ):
        results.append(
            alternate(
                f"start-up CPU added: {label}",
                lambda: _cpu_ms(pass_plain, plain),
                lambda command=command, environ=environ: _cpu_ms(command, environ),  # type: ignore[misc]
                cpu_rounds,
                unit="ms",
                target=target,
                compare="delta",
                note="CPU ms (user+system) of the whole run, minus plain `python -c pass`",
            )
        )
    stack_plain = [sys.executable, "-c", stack]
    for label, command, environ, target in (
        ("`mcptrace run`", _instrumented_command(stack), env, 1.10),
        ("a Python child of an instrumented process", stack_plain, child, None),
    ):
        results.append(
            alternate(
                f"start-up CPU to `{stack}`: {label}",
                lambda: _cpu_ms(stack_plain, plain),
                lambda command=command, environ=environ: _cpu_ms(command, environ),  # type: ignore[misc]
                cpu_rounds,
                unit="ms",
                target=target,
                note="CPU time of the whole run (launcher, exec, bootstrap, exit) vs plain",
            )
        )
    return results
