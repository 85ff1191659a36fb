"""Run mcptrace against malicious MCP servers written by other people (public repositories).

    python -m benchmarks.thirdparty.run [--manifest FILE] [--only NAMES] [--json FILE] [--keep]

Each ``[[server]]`` of the manifest (``manifest.toml``) names a repository, a commit and a
path.  The server is extracted at run time from the repository's fetched mirror
(``$MCPTRACE_MIRRORS/<owner>+<name>/repo``, a bare git directory; default ``/work/.mirror``)
into a scratch directory outside the checkout: no third-party code is ever committed here.
It then runs like the corpus (``benchmarks/corpus/run.py``): under ``mcptrace run`` inside
bubblewrap, no network but a private loopback, a throwaway HOME with fake secrets, driven
over stdio by a real MCP client through the manifest's calls, arguments included (those the
poisoned descriptions ask for too).

Per server it prints which tools are known to do something bad (``bad``, from reading the
source) and which detections (rule, severity) mcptrace raised on each tool.  A server is
detected when every ``bad`` tool got a ``warning``-or-worse detection.  A server whose
mirror, commit or dependencies are missing is skipped with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from benchmarks.corpus import run as corpus
from benchmarks.thirdparty.triggers import calls_from_source

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MIRRORS = Path(os.environ.get("MCPTRACE_MIRRORS", "/work/.mirror"))
# extracted servers live outside scratch directories (/tmp, /var/tmp): a real installation
# is not a module dropped in /tmp, and the corpus judges where code comes from
SERVERS = Path(os.environ.get("MCPTRACE_THIRDPARTY_DIR", Path.home() / ".cache" / "mcptrace-3p"))

# started instead of the server's own __main__ when the manifest names the server object
# (many demos start an HTTP transport, or uvicorn on an object that is not an ASGI app)
LAUNCHER = """\
import importlib.util, sys
{prelude}
sys.path.insert(0, {directory!r})
sys.argv = [{entry!r}]
spec = importlib.util.spec_from_file_location("thirdparty_server", {entry!r})
module = importlib.util.module_from_spec(spec)
sys.modules["thirdparty_server"] = module
spec.loader.exec_module(module)
server = getattr(module, {obj!r})
(server() if {factory!r} else server).run()
"""

# files the poisoned descriptions of these servers ask the model to read, beyond the corpus HOME
EXTRA_HOME = {
    ".cursor/mcp.json": '{"mcpServers": {"notes": {"command": "notes-mcp"}}}\n',
    ".ssh/id_rsa.pub": "ssh-rsa AAAAfake user@host\n",
    "file.txt": "quarterly numbers\n",
}


@dataclass
class Result:
    name: str
    repo: str
    commit: str
    path: str
    bad: list[str]
    rules: dict[str, list[str]] = field(default_factory=dict)
    detected_tools: list[str] = field(default_factory=list)
    missed_tools: list[str] = field(default_factory=list)
    detected: bool = False
    skipped: str = ""
    error: str = ""
    note: str = ""
    seconds: float = 0.0


ANY = "*"  # in ``bad``: the server is bad as a whole (any tool, or its start-up, may show it)


def expand(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest's servers, then one entry per file of each ``[[suite]]`` (a directory of
    single-file servers sharing how they are run), named PREFIX-DIRECTORY-STEM."""
    entries = list(manifest.get("server", []))
    for suite in manifest.get("suite", []):
        listing = subprocess.run(
            [
                *("git", "-C", str(mirror(suite["repo"]))),
                *("ls-tree", "-r", "--name-only", suite["commit"], suite["path"]),
            ],
            capture_output=True,
            text=True,
        )
        files = [line for line in listing.stdout.splitlines() if line.endswith(".py")]
        if not files:
            entries.append({**suite, "name": suite["prefix"], "skip": "no mirror or no files"})
        for path in files:
            folder, stem = Path(path).parent.name, Path(path).stem
            entry = {key: value for key, value in suite.items() if key != "prefix"}
            name = f"{suite['prefix']}-{folder}-{stem}"
            entries.append({**entry, "name": name, "path": path, "entry": Path(path).name})
    return entries


def mirror(repo: str) -> Path:
    return MIRRORS / repo.replace("/", "+") / "repo"


def extract(entry: dict[str, Any], into: Path) -> str:
    """Copy the entry's path at its commit out of the mirror; "" or why it cannot."""
    git_dir = mirror(entry["repo"])
    if not git_dir.exists():
        return f"no mirror of {entry['repo']} at {git_dir} (fetch it first)"
    archive = subprocess.run(
        ["git", "-C", str(git_dir), "archive", "--format=tar", entry["commit"], entry["path"]],
        capture_output=True,
    )
    if archive.returncode != 0:
        return f"git archive failed: {archive.stderr.decode(errors='replace').strip()[:200]}"
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return ""


def missing_modules(python: Path, modules: list[str]) -> list[str]:
    missing = []
    for module in modules:
        probe = subprocess.run(
            [str(python), "-c", f"import {module}"], capture_output=True, env=_clean_env()
        )
        if probe.returncode != 0:
            missing.append(module)
    return missing


def _clean_env() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "MCPTRACE_")) and key not in ("TRACEPARENT", "PYTHONPATH")
    }


def run_sandboxed(
    name: str, directory: Path, command: list[str], plan: str, python: Path, env: dict[str, str]
) -> tuple[Path, Path, str]:
    """Like the corpus's run_workload, with the extracted server bound writable (demos keep
    state beside themselves) and the entry's environment set."""
    base = Path(os.environ.get("MCPTRACE_CORPUS_DIR", "/var/tmp"))
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"thirdparty-{name}-", dir=base))
    home = work / "home"
    corpus.seed_home(home)
    for relative, text in EXTRA_HOME.items():
        (home / relative).parent.mkdir(parents=True, exist_ok=True)
        (home / relative).write_text(text)
    spool = work / "spool"
    command = [part.replace("{HOME}", str(home)) for part in command]
    plan = plan.replace("{HOME}", str(home))
    argv = [str(python), str(corpus.HERE / "run_one.py"), str(spool), json.dumps(command), plan]
    sandbox = corpus.sandboxed(work, home, argv)
    at = sandbox.index("--unshare-net")
    extra = ["--bind", str(directory), str(directory)]
    for key, value in env.items():
        extra += ["--setenv", key, value.replace("{HOME}", str(home))]
    sandbox[at:at] = extra
    chdir = sandbox.index("--chdir")
    sandbox[chdir + 1] = str(directory)  # demos find their data files beside themselves
    run_env = _clean_env()
    run_env["PYTHONPATH"] = str(ROOT)
    try:
        result = subprocess.run(sandbox, env=run_env, capture_output=True, text=True, timeout=400)
    except subprocess.TimeoutExpired:
        return work, spool, "timed out"
    (work / "run.log").write_text(result.stdout + "\n---\n" + result.stderr)
    results = [line for line in result.stdout.splitlines() if line.startswith("[")]
    if result.returncode != 0 or not results:
        lines = [line for line in result.stderr.splitlines() if "rror" in line]
        return work, spool, f"exit {result.returncode}: {(lines or [''])[-1][:200]}"
    failed = [call for call in json.loads(results[-1]) if call.get("error")]
    if failed:
        return work, spool, f"{len(failed)} tool errors, e.g. {failed[0]['text'][:160]}"
    return work, spool, ""


def measure(entry: dict[str, Any], keep: bool) -> Result:
    result = Result(
        entry["name"], entry["repo"], entry["commit"], entry["path"], list(entry.get("bad", []))
    )
    result.note = entry.get("note", "")
    if entry.get("skip"):
        result.skipped = entry["skip"]
        return result
    venvs = corpus.VENVS
    python = venvs / entry.get("venv", "main") / "bin" / "python"
    if not python.exists():
        result.skipped = f"no {entry.get('venv', 'main')} venv (bash tests/setup_venvs.sh ...)"
        return result
    missing = missing_modules(python, entry.get("needs", []))
    if missing:
        venv = python.parent.parent.name
        result.skipped = f"needs {', '.join(missing)} (not installed in {venv})"
        return result
    SERVERS.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix=f"{entry['name']}-", dir=SERVERS))
    started = time.monotonic()
    try:
        why = extract(entry, directory)
        if why:
            result.skipped = why
            return result
        base = directory / entry["path"]
        if base.is_file():
            base = base.parent
        script = base / entry["entry"]
        for relative, text in entry.get("stubs", {}).items():  # ours: a decorator-only import
            (base / relative).parent.mkdir(parents=True, exist_ok=True)
            (base / relative).write_text(text)
        if entry.get("object"):
            launcher = base / "_mcptrace_launch.py"
            name = entry["object"].removesuffix("()")
            factory = entry["object"].endswith("()")  # a function that builds the server
            launcher.write_text(
                LAUNCHER.format(
                    directory=str(base),
                    entry=str(script),
                    obj=name,
                    factory=factory,
                    prelude=entry.get("prelude", ""),
                )
            )
            script = launcher
        command = [str(python), str(script), *entry.get("args", [])]
        calls = entry["calls"]
        if calls == "triggers":  # each tool with ordinary arguments, then its trigger values
            calls = calls_from_source((base / entry["entry"]).read_text(errors="replace"))
        plan = calls if isinstance(calls, str) else json.dumps(calls)  # "all:N": every tool
        work, spool, result.error = run_sandboxed(
            entry["name"], base, command, plan, python, entry.get("env", {})
        )
        found: dict[str, list[dict[str, Any]]] = {}
        for tool, detections in corpus.tool_detections(spool):
            found.setdefault(tool, []).extend(detections)
        for tool, detections in found.items():
            rules = sorted(
                {
                    f"{d['mcptrace.detection.severity']}:{d['mcptrace.detection.rule']}"
                    for d in detections
                }
            )
            if rules:
                result.rules[tool] = rules
        for tool in result.bad:
            pool = found.get(tool, []) if tool != ANY else [d for ds in found.values() for d in ds]
            serious = any(d["mcptrace.detection.severity"] in corpus.SERIOUS for d in pool)
            (result.detected_tools if serious else result.missed_tools).append(tool)
        result.detected = bool(result.bad) and not result.missed_tools
        if keep:
            print(f"  kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    finally:
        result.seconds = round(time.monotonic() - started, 1)
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", default=str(HERE / "manifest.toml"))
    parser.add_argument("--only", metavar="NAMES", help="only entries whose name contains one")
    parser.add_argument("--json", metavar="FILE", help="write the outcomes as JSON")
    parser.add_argument("--keep", action="store_true", help="keep each run's HOME, spool, server")
    args = parser.parse_args(argv)
    if shutil.which("bwrap") is None:
        print("thirdparty: bubblewrap (bwrap) is required", file=sys.stderr)
        return 2
    entries = expand(tomllib.loads(Path(args.manifest).read_text()))
    results = []
    for entry in entries:
        if args.only and not any(part in entry["name"] for part in args.only.split(",")):
            continue
        result = measure(entry, args.keep)
        results.append(result)
        if result.skipped:
            print(f"skipped  {result.name:26} {result.skipped}", flush=True)
            continue
        mark = "detected" if result.detected else ("MISSED" if result.bad else "no-bad")
        print(f"{mark:8} {result.name:26} missed={result.missed_tools} {result.seconds}s"
              + (f"  [{result.error}]" if result.error else ""), flush=True)  # fmt: skip
        for tool, rules in result.rules.items():
            print(f"         {'*' if tool in result.bad else ' '} {tool}: {' '.join(rules)}")
    evaluated = [r for r in results if not r.skipped and r.bad]
    detected = sum(r.detected for r in evaluated)
    bad_tools = sum(len(r.bad) for r in evaluated)
    tools_detected = sum(len(r.detected_tools) for r in evaluated)
    print(
        f"servers with every bad tool detected (warning or worse): {detected}/{len(evaluated)}; "
        f"bad tools detected: {tools_detected}/{bad_tools}; skipped: "
        f"{sum(bool(r.skipped) for r in results)}"
    )
    if args.json:
        summary = {
            "servers_evaluated": len(evaluated),
            "servers_detected": detected,
            "bad_tools": bad_tools,
            "bad_tools_detected": tools_detected,
            "outcomes": [asdict(r) for r in results],
        }
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
