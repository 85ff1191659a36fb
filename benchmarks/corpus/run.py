"""Measure the detections on a corpus of malicious MCP servers and a benign one.

    python -m benchmarks.corpus.run [--json FILE] [--only NAME] [--benign-only|--malicious-only]

Every malicious server in ``malicious/``, ``evasive/``, ``wild/`` and ``redteam2/`` (one
guilty tool each: credential theft, exfiltration, persistence, reverse shells, obfuscated
code, destruction, tool poisoning, ...) runs inside bubblewrap: no network but a private
loopback, a throwaway HOME seeded with fake secrets, the rest of the file system read-only.
An ordinary workload calls each of its tools twice under ``mcptrace run``.  The benign
corpus (the examples and real servers from PyPI, in the ``benign`` venv of
tests/setup_venvs.sh) runs ordinary workloads the same way.

It prints, and writes as JSON:
* the share of malicious servers with at least one detection of severity warning or above
  on the guilty tool's span (target: at least 95 %);
* the benign tool calls with any detection at all (target: 0).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MALICIOUS = HERE / "malicious"
EVASIVE = HERE / "evasive"
WILD = HERE / "wild"
REDTEAM2 = HERE / "redteam2"
STARTUP = "<startup>"  # GUILTY of a server whose badness runs outside any tool call
VENVS = Path(os.environ.get("MCPTRACE_VENVS", ROOT / ".venvs"))
MAIN_PYTHON = VENVS / "main" / "bin" / "python"
BENIGN_PYTHON = VENVS / "benign" / "bin" / "python"
SERIOUS = {"warning", "error", "critical"}
DETECTION = "mcptrace.detection"


@dataclass
class Outcome:
    name: str
    kind: str  # malicious | benign
    guilty: str = ""
    tool_calls: int = 0
    calls_with_detections: int = 0
    guilty_rules: list[str] = field(default_factory=list)
    other_rules: dict[str, list[str]] = field(default_factory=dict)
    detected: bool = False
    error: str = ""
    seconds: float = 0.0


def seed_home(home: Path) -> None:
    """A home with the fake secrets and files thieves and vandals go for."""
    files = {
        ".ssh/id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\nfake-rsa\n",
        ".ssh/id_ed25519": "-----BEGIN OPENSSH PRIVATE KEY-----\nfake-ed25519\n",
        ".ssh/id_ed25519.pub": "ssh-ed25519 AAAAfake user@host\n",
        ".ssh/authorized_keys": "",
        ".ssh/config": "Host example\n  User me\n",
        ".aws/credentials": "[default]\naws_access_key_id = AKIAFAKEFAKEFAKE\n",
        ".aws/config": "[default]\nregion = eu-west-1\n",
        ".config/gcloud/application_default_credentials.json": '{"type": "authorized_user"}\n',
        ".kube/config": "apiVersion: v1\nkind: Config\n",
        ".docker/config.json": '{"auths": {"registry.example": {"auth": "ZmFrZQ=="}}}\n',
        ".git-credentials": "https://me:ghp_fake@github.com\n",
        ".netrc": "machine api.example.com login me password fake\n",
        ".bash_history": "export TOKEN=fake\nls\n",
        ".bashrc": "alias ll='ls -l'\n",
        ".config/google-chrome/Default/Login Data": "fake sqlite",
        ".config/google-chrome/Default/Cookies": "fake sqlite",
        ".mozilla/firefox/x1y2.default-release/logins.json": '{"logins": []}\n',
        ".npmrc": "//registry.npmjs.org/:_authToken=npm_fake\n",
        ".pypirc": "[pypi]\nusername = __token__\npassword = pypi-fake\n",
        ".config/solana/id.json": "[1, 2, 3]\n",
        ".electrum/wallets/default_wallet": '{"seed": "fake"}\n',
        ".config/Claude/claude_desktop_config.json": '{"mcpServers": {}}\n',
        ".local/share/keyrings/login.keyring": "fake keyring",
        ".cache/huggingface/token": "hf_fakefakefakefakefake\n",
        ".gemini/oauth_creds.json": '{"access_token": "ya29.fake", "refresh_token": "1//fake"}\n',
        ".config/github-copilot/apps.json": '{"github.com:Iv1.x": {"oauth_token": "ghu_fake"}}\n',
        "project/.env": "OPENAI_API_KEY=sk-fake\n",
        "project/README.md": "# Project\n\nA small project used by the benign workloads.\n",
        "project/notes.html": "<html><body><h1>Notes</h1><p>Ship it on Friday.</p></body></html>",
        "project/app.py": "print('hello')\n",
    }
    for index in range(25):
        files[f"Documents/report-{index:02}.txt"] = f"report {index}\n"
    for relative, text in files.items():
        path = home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (home / ".ssh").chmod(0o700)
    git = shutil.which("git")
    if git:
        env = dict(os.environ, HOME=str(home), GIT_CONFIG_NOSYSTEM="1")
        project = str(home / "project")
        for command in (
            ["init", "-q", "-b", "main"],
            ["config", "user.email", "dev@example.com"],
            ["config", "user.name", "Dev"],
            ["add", "README.md", "app.py"],
            ["commit", "-q", "-m", "initial"],
        ):
            subprocess.run([git, "-C", project, *command], env=env, check=True)
        (home / "project" / "app.py").write_text("print('hello, world')\n")
    else:
        (home / "project" / ".git" / "hooks").mkdir(parents=True)


def _under_tmp_again() -> list[str]:
    """The checkout and the interpreter, bound again when they live under /tmp (a CI clone):
    the sandbox's empty /tmp would hide them."""
    binds: list[str] = []
    for place in sorted({str(Path(__file__).resolve().parents[2]), sys.prefix, sys.base_prefix}):
        real = os.path.realpath(place)
        if real == "/tmp" or real.startswith("/tmp/"):
            binds += ["--ro-bind", real, real]
    return binds


def sandboxed(work: Path, home: Path, argv: list[str]) -> list[str]:
    """``argv`` inside bubblewrap: loopback-only network, ``work`` the only writable place."""
    return [
        "bwrap",
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",
        *_under_tmp_again(),
        "--bind", str(work), str(work),
        "--unshare-net",
        "--unshare-pid",
        "--die-with-parent",
        "--setenv", "HOME", str(home),
        "--setenv", "TMPDIR", "/tmp",
        "--chdir", str(work),
        *argv,
    ]  # fmt: skip


def run_workload(
    name: str, command: list[str], plan: str, python: Path, keep: bool
) -> tuple[Path, Path, str]:
    """Run one workload in a fresh sandbox; (work dir, spool, error or "")."""
    base = Path(os.environ.get("MCPTRACE_CORPUS_DIR", "/var/tmp"))
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"corpus-{name}-", dir=base))
    home = work / "home"
    seed_home(home)
    spool = work / "spool"
    command = [part.replace("{HOME}", str(home)) for part in command]
    plan = plan.replace("{HOME}", str(home))
    argv = [str(python), str(HERE / "run_one.py"), str(spool), json.dumps(command), plan]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "MCPTRACE_")) and key not in ("TRACEPARENT", "PYTHONPATH")
    }
    env["PYTHONPATH"] = str(ROOT)
    try:
        result = subprocess.run(
            sandboxed(work, home, argv), env=env, capture_output=True, text=True, timeout=400
        )
    except subprocess.TimeoutExpired:
        return work, spool, "timed out"
    (work / "run.log").write_text(result.stdout + "\n---\n" + result.stderr)
    error = ""
    results = [line for line in result.stdout.splitlines() if line.startswith("[")]
    if result.returncode != 0 or not results:
        lines = [line for line in result.stderr.splitlines() if "Error" in line or "error" in line]
        error = f"exit {result.returncode}: {(lines or result.stderr.splitlines() or [''])[-1]}"
    elif any(call.get("error") for call in json.loads(results[-1])):
        failed = [call for call in json.loads(results[-1]) if call.get("error")]
        error = f"{len(failed)} tool errors, e.g. {failed[0]['text'][:160]}"
    return work, spool, error


def tool_detections(spool: Path) -> list[tuple[str, list[dict[str, Any]]]]:
    """(tool, detection attributes) for every server-side tools/call span in the spool.

    A detection counts for the call whose span it is on or under: span events of the call
    and of spans inside it (the process span of a child the call started), log records
    linked to any of those (a thread or timer still working after its tool returned, a
    child's own detections).  Those linked to no tool call (import time, server start,
    description poisoning found in the offer) are listed under ``STARTUP``.
    """
    sys.path.insert(0, str(ROOT / "src"))
    from mcptrace.export.spool_reader import iter_logs, iter_spans

    calls: list[tuple[str, list[dict[str, Any]]]] = []
    tool_of: dict[str, int] = {}
    parent_of: dict[str, str] = {}
    events: list[tuple[str, dict[str, Any]]] = []
    for span in iter_spans(spool):
        parent_of[span.span_id] = span.parent_span_id
        events += [(span.span_id, e.attributes) for e in span.events if e.name == DETECTION]
        if span.kind == 2 and span.name.startswith("tools/call "):
            tool_of[span.span_id] = len(calls)
            calls.append((span.name.removeprefix("tools/call "), []))

    def call_of(span_id: str) -> int | None:
        for _ in range(32):
            if not span_id or span_id in tool_of:
                return tool_of.get(span_id)
            span_id = parent_of.get(span_id, "")
        return None

    outside: list[dict[str, Any]] = []
    for log in iter_logs(spool):
        if log.event_name == DETECTION:
            events.append((log.span_id or "", log.attributes))
    for span_id, attributes in events:
        index = call_of(span_id)
        if index is not None:
            calls[index][1].append(attributes)
        else:
            outside.append(attributes)
    if outside:
        calls.append((STARTUP, outside))
    return calls


def workload_plan(source: str) -> str:
    """The server's own ``PLAN = [[tool, arguments], ...]`` (a tool that only misbehaves on
    the arguments a user or a poisoned model passes), else every tool twice with defaults."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and [
            getattr(target, "id", "") for target in node.targets
        ] == ["PLAN"]:
            return json.dumps(ast.literal_eval(node.value))
    return "all:2"


def measure_malicious(path: Path, keep: bool) -> Outcome:
    source = path.read_text()
    guilty = re.search(r'^GUILTY = "([^"]+)"', source, re.MULTILINE)
    outcome = Outcome(path.stem, "malicious", guilty.group(1) if guilty else "?")
    started = time.monotonic()
    work, spool, outcome.error = run_workload(
        path.stem, [str(MAIN_PYTHON), str(path)], workload_plan(source), MAIN_PYTHON, keep
    )
    for tool, found in tool_detections(spool):
        outcome.tool_calls += tool != STARTUP
        outcome.calls_with_detections += bool(found) and tool != STARTUP
        rules = [
            f"{d['mcptrace.detection.severity']}:{d['mcptrace.detection.rule']}" for d in found
        ]
        if tool == outcome.guilty:
            for rule in rules:
                if rule not in outcome.guilty_rules:
                    outcome.guilty_rules.append(rule)
            outcome.detected |= any(d["mcptrace.detection.severity"] in SERIOUS for d in found)
        elif rules:
            listed = outcome.other_rules.setdefault(tool, [])
            listed.extend(rule for rule in rules if rule not in listed)
    outcome.seconds = round(time.monotonic() - started, 1)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return outcome


def benign_workloads() -> list[tuple[str, list[str], str, Path]]:
    """(name, server argv, plan, python) of the benign corpus."""
    example = ROOT / "examples" / "server.py"
    workloads = [
        (
            "examples-server",
            [str(MAIN_PYTHON), str(example)],
            json.dumps(
                [
                    ["echo", {"text": "hello"}],
                    ["add", {"a": 2, "b": 3}],
                    ["word_count", {"path": "{HOME}/project/README.md"}],
                    ["fail", {"message": "expected failure"}],
                    ["countdown", {"steps": 2}],
                ]
            ),
            MAIN_PYTHON,
        ),
    ]
    if not BENIGN_PYTHON.exists():
        return workloads
    bin_dir = BENIGN_PYTHON.parent
    repo = "{HOME}/project"
    workloads += [
        (
            "mcp-server-time",
            [str(bin_dir / "mcp-server-time"), "--local-timezone", "Europe/Lisbon"],
            json.dumps(
                [
                    ["get_current_time", {"timezone": "Europe/Lisbon"}],
                    ["get_current_time", {"timezone": "Asia/Tokyo"}],
                    [
                        "convert_time",
                        {
                            "source_timezone": "Europe/Lisbon",
                            "time": "14:30",
                            "target_timezone": "America/New_York",
                        },
                    ],
                ]
            ),
            BENIGN_PYTHON,
        ),
        (
            "mcp-server-git",
            [str(bin_dir / "mcp-server-git"), "--repository", repo],
            json.dumps(
                [
                    ["git_status", {"repo_path": repo}],
                    ["git_log", {"repo_path": repo, "max_count": 5}],
                    ["git_diff_unstaged", {"repo_path": repo}],
                    ["git_add", {"repo_path": repo, "files": ["app.py"]}],
                    ["git_diff_staged", {"repo_path": repo}],
                    ["git_commit", {"repo_path": repo, "message": "greet the world"}],
                    ["git_branch", {"repo_path": repo, "branch_type": "local"}],
                    ["git_create_branch", {"repo_path": repo, "branch_name": "feature"}],
                    ["git_checkout", {"repo_path": repo, "branch_name": "feature"}],
                    ["git_show", {"repo_path": repo, "revision": "HEAD"}],
                ]
            ),
            BENIGN_PYTHON,
        ),
        (
            "mcp-server-fetch",
            [str(bin_dir / "mcp-server-fetch"), "--ignore-robots-txt", "--allow-private-ips"],
            json.dumps(
                [
                    ["fetch", {"url": "http://127.0.0.1:{HTTP}/page.html"}],
                    ["fetch", {"url": "http://127.0.0.1:{HTTP}/page.html", "raw": True}],
                    ["fetch", {"url": "http://127.0.0.1:{HTTP}/robots.txt", "max_length": 100}],
                ]
            ),
            BENIGN_PYTHON,
        ),
        (
            "mcp-server-sqlite",
            [str(bin_dir / "mcp-server-sqlite"), "--db-path", "{HOME}/data.db"],
            json.dumps(
                [
                    ["create_table", {"query": "CREATE TABLE notes (id INTEGER, body TEXT)"}],
                    ["write_query", {"query": "INSERT INTO notes VALUES (1, 'ship it')"}],
                    ["read_query", {"query": "SELECT * FROM notes"}],
                    ["list_tables", {}],
                    ["describe_table", {"table_name": "notes"}],
                    ["append_insight", {"insight": "notes are short"}],
                ]
            ),
            BENIGN_PYTHON,
        ),
        (
            "markitdown-mcp",
            [str(bin_dir / "markitdown-mcp")],
            json.dumps(
                [
                    ["convert_to_markdown", {"uri": "file://{HOME}/project/notes.html"}],
                    ["convert_to_markdown", {"uri": "http://127.0.0.1:{HTTP}/page.html"}],
                    ["convert_to_markdown", {"uri": "file://{HOME}/project/README.md"}],
                ]
            ),
            BENIGN_PYTHON,
        ),
    ]
    return workloads


def measure_benign(name: str, command: list[str], plan: str, python: Path, keep: bool) -> Outcome:
    outcome = Outcome(name, "benign")
    started = time.monotonic()
    work, spool, outcome.error = run_workload(name, command, plan, python, keep)
    for tool, found in tool_detections(spool):
        outcome.tool_calls += tool != STARTUP
        outcome.calls_with_detections += bool(found)
        if found:
            outcome.other_rules.setdefault(tool, []).extend(
                f"{d['mcptrace.detection.severity']}:{d['mcptrace.detection.rule']}" for d in found
            )
    outcome.seconds = round(time.monotonic() - started, 1)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return outcome


def summarize(outcomes: Iterable[Outcome]) -> dict[str, Any]:
    items = list(outcomes)
    malicious = [o for o in items if o.kind == "malicious"]
    benign = [o for o in items if o.kind == "benign"]
    detected = sum(o.detected for o in malicious)
    benign_calls = sum(o.tool_calls for o in benign)
    flagged = sum(o.calls_with_detections for o in benign)
    return {
        "malicious_servers": len(malicious),
        "malicious_detected": detected,
        "malicious_detected_share": round(detected / len(malicious), 4) if malicious else None,
        "evasive_servers": sum(o.name.startswith("e") for o in malicious),
        "evasive_detected": sum(o.detected for o in malicious if o.name.startswith("e")),
        "wild_servers": sum(o.name.startswith("w") for o in malicious),
        "wild_detected": sum(o.detected for o in malicious if o.name.startswith("w")),
        "redteam2_servers": sum(o.name.startswith("r") for o in malicious),
        "redteam2_detected": sum(o.detected for o in malicious if o.name.startswith("r")),
        "benign_servers": len(benign),
        "benign_tool_calls": benign_calls,
        "benign_calls_with_detections": flagged,
        "outcomes": [asdict(o) for o in items],
    }


def _selected(name: str, only: str | None) -> bool:
    return not only or any(part and part in name for part in only.split(","))


def _print_malicious(outcome: Outcome) -> None:
    mark = "detected" if outcome.detected else "MISSED"
    rules = " ".join(outcome.guilty_rules)
    error = f"  [{outcome.error}]" if outcome.error else ""
    print(f"{mark:8} {outcome.name:28} {outcome.guilty:18} {rules}{error}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="FILE", help="write the figures and outcomes as JSON")
    parser.add_argument(
        "--only", metavar="NAMES", help="only servers whose name contains one of NAMES (a,b,...)"
    )
    parser.add_argument("--malicious-only", action="store_true")
    parser.add_argument("--benign-only", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep each run's home and spool")
    parser.add_argument("--jobs", type=int, default=2, help="servers measured at once (default 2)")
    args = parser.parse_args(argv)
    if shutil.which("bwrap") is None:
        print(
            "corpus: bubblewrap (bwrap) is required: apt-get install -y bubblewrap", file=sys.stderr
        )
        return 2
    outcomes: list[Outcome] = []
    if not args.benign_only:
        paths = [
            path
            for path in sorted(MALICIOUS.glob("m*.py"))
            + sorted(EVASIVE.glob("e*.py"))
            + sorted(WILD.glob("w*.py"))
            + sorted(REDTEAM2.glob("r*.py"))
            if _selected(path.stem, args.only)
        ]
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            measured = pool.map(lambda path: measure_malicious(path, args.keep), paths)
            for outcome in measured:
                outcomes.append(outcome)
                _print_malicious(outcome)
    if not args.malicious_only:
        if not BENIGN_PYTHON.exists():
            print(
                "corpus: no benign venv (bash tests/setup_venvs.sh benign): examples only",
                file=sys.stderr,
            )
        for name, command, plan, python in benign_workloads():
            if not _selected(name, args.only):
                continue
            outcome = measure_benign(name, command, plan, python, args.keep)
            outcomes.append(outcome)
            print(
                f"benign   {name:28} {outcome.tool_calls} calls, "
                f"{outcome.calls_with_detections} with detections {outcome.other_rules or ''}"
                + (f"  [{outcome.error}]" if outcome.error else ""),
                flush=True,
            )
    figures = summarize(outcomes)
    if figures["malicious_servers"]:
        print(
            f"malicious servers with a warning-or-worse detection on the guilty tool: "
            f"{figures['malicious_detected']}/{figures['malicious_servers']} "
            f"({100 * figures['malicious_detected_share']:.1f} %)"
        )
    if figures["evasive_servers"]:
        print(
            f"  of which the evasive corpus (evasive/): "
            f"{figures['evasive_detected']}/{figures['evasive_servers']}"
        )
    if figures["wild_servers"]:
        print(
            f"  of which the wild corpus (wild/): "
            f"{figures['wild_detected']}/{figures['wild_servers']}"
        )
    if figures["redteam2_servers"]:
        print(
            f"  of which the second red-team corpus (redteam2/): "
            f"{figures['redteam2_detected']}/{figures['redteam2_servers']}"
        )
    if figures["benign_servers"]:
        print(
            f"benign tool calls with any detection: {figures['benign_calls_with_detections']}"
            f"/{figures['benign_tool_calls']}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
