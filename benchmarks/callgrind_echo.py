"""Main-thread instructions per echo ``tools/call`` over stdio, client and server, counted
by callgrind: ``python -m benchmarks.callgrind_echo [--variants plain,floor,mcptrace]
[--warmup 200] [--calls 300] [--idle 20] [--keep DIR]``.

Each variant runs one client and its stdio server under ``valgrind --tool=callgrind
--separate-threads=yes --trace-children=yes``; both mark the same window of ``--calls``
calls with client requests (``_callgrind_echo.py``), after ``--warmup`` calls and ``--idle``
seconds. Printed: the main thread's instructions per call on each side (the export and
log threads are not counted). Instruction counts are steady on a loaded machine where CPU
time is not; between two runs of the same code they move by a few thousand per call.
Variants: ``plain``; ``floor``, issue 20's (mcp 2.x's own spans made real by an SDK
TracerProvider, a no-op exporter); ``mcptrace``, everything on (``mcptrace run``);
``spans``, mcptrace with the sensor and provenance off.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._child import BARE_SDK_NOOP_FLAG, clean_env

HERE = Path(__file__).resolve().parent
CHILD = HERE / "_callgrind_echo.py"
SHIM_SOURCE = """
#include <valgrind/callgrind.h>
void cg_zero(void) { CALLGRIND_ZERO_STATS; }
void cg_dump(const char *label) { CALLGRIND_DUMP_STATS_AT(label); }
"""
SPANS_ONLY = {"MCPTRACE_SENSOR": "false", "MCPTRACE_PROVENANCE": "false"}


def build_shim(directory: Path) -> Path:
    source, library = directory / "cg_shim.c", directory / "cg_shim.so"
    source.write_text(SHIM_SOURCE, encoding="utf-8")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


def window_counts(directory: Path) -> dict[str, int]:
    """The main thread's instructions in each labelled dump (``-01``: thread 1)."""
    counts: dict[str, int] = {}
    for path in directory.glob("cg.*-01"):
        text = path.read_text(encoding="utf-8", errors="replace")
        label = re.search(r"^desc: Trigger: Client Request: (\S+)", text, re.M)
        total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        if label and total:
            counts[label.group(1)] = int(total.group(1))
    return counts


def run_variant(variant: str, args: argparse.Namespace, shim: Path, out: Path) -> dict[str, int]:
    spool = Path(tempfile.mkdtemp(prefix="mcptrace-cg-"))
    env = clean_env(
        BENCH_CALLGRIND_SHIM=str(shim),
        MCPTRACE_SPOOL_DIR=str(spool),
        MCPTRACE_HASH_CACHE=str(spool / "hash-cache.sqlite3"),
        OTEL_EXPORTER_OTLP_COMPRESSION="none",
    )
    if args.src:  # another checkout's mcptrace (its C extension built in place)
        env["PYTHONPATH"] = args.src
    command = [
        sys.executable, str(CHILD), "client", "--warmup", str(args.warmup),
        "--calls", str(args.calls), "--idle", str(args.idle),
    ]  # fmt: skip
    if variant == "floor":
        command.append(BARE_SDK_NOOP_FLAG)
    elif variant in ("mcptrace", "spans"):
        command = [sys.executable, "-m", "mcptrace.cli", "run", "--", *command]
        if variant == "spans":
            env.update(SPANS_ONLY)
    valgrind = [
        "valgrind", "--tool=callgrind", "--separate-threads=yes", "--trace-children=yes",
        f"--callgrind-out-file={out}/cg.%p", "--log-file=" + str(out / "valgrind.%p.log"),
    ]  # fmt: skip
    subprocess.run([*valgrind, *command], env=env, check=True, stdin=subprocess.DEVNULL)
    shutil.rmtree(spool, ignore_errors=True)
    counts = window_counts(out)
    return {side: counts[f"{side}-window"] // args.calls for side in ("client", "server")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.callgrind_echo")
    parser.add_argument("--variants", default="plain,floor,mcptrace")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--src", help="import mcptrace from this src directory instead")
    parser.add_argument("--keep", metavar="DIR", help="keep callgrind's files here")
    args = parser.parse_args(argv)
    root = Path(args.keep or tempfile.mkdtemp(prefix="callgrind-echo-"))
    root.mkdir(parents=True, exist_ok=True)
    shim = build_shim(root)
    results: dict[str, dict[str, int]] = {}
    for variant in args.variants.split(","):
        out = root / variant
        out.mkdir(exist_ok=True)
        results[variant] = run_variant(variant, args, shim, out)
        print(variant, json.dumps(results[variant]), flush=True)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
