"""Running a server under `mcptrace run` with a throwaway HOME, and reading its detections."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support import PYTHON, ROOT, SPAN_KIND_SERVER, clean_env, logs, run_under_mcptrace, spans

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "drive_server.py"
DETECTION = "mcptrace.detection"
RULE = "mcptrace.detection.rule"
SEVERITY = "mcptrace.detection.severity"


def fake_home(root: Path) -> Path:
    """A home with the credentials a thief looks for (all fake)."""
    home = root / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n")
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text("[default]\naws_access_key_id = AKIAFAKE\n")
    return home


@contextmanager
def loopback_sink() -> Iterator[int]:
    """A TCP listener on 127.0.0.1 that swallows whatever it is sent."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(2)
                try:
                    while connection.recv(4096):
                        pass
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def drive(
    server: Path,
    spool: Path,
    home: Path,
    calls: list[tuple[str, dict[str, Any]]] | str,
    *options: str,
    **env: str,
) -> list[dict[str, Any]]:
    plan = calls if isinstance(calls, str) else json.dumps(calls)
    result = run_under_mcptrace(
        [PYTHON, str(DRIVER), str(server), plan],
        spool,
        *options,
        env=clean_env(HOME=str(home), **env),
        timeout=180,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert lines, f"no results\nstdout:{result.stdout}\nstderr:{result.stderr}"
    parsed: list[dict[str, Any]] = json.loads(lines[-1])
    return parsed


def detections_by_tool(spool: Path) -> dict[str, list[dict[str, Any]]]:
    """Detection span events on server tool spans, by tool name."""
    found: dict[str, list[dict[str, Any]]] = {}
    for span in spans(spool):
        if span.kind != SPAN_KIND_SERVER or not span.name.startswith("tools/call "):
            continue
        tool = span.name.removeprefix("tools/call ")
        found.setdefault(tool, [])
        for event in span.events:
            if event.name == DETECTION:
                found[tool].append(event.attributes)
    return found


def detection_logs(spool: Path) -> list[Any]:
    return [record for record in logs(spool) if record.event_name == DETECTION]


def run_corpus_slice(
    names: str, out: Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``python -m benchmarks.corpus.run --malicious-only --only NAMES`` (bubblewrap, loopback
    only): the run and its outcomes by server name."""
    result = subprocess.run(
        [
            sys.executable, "-m", "benchmarks.corpus.run", "--malicious-only",
            "--only", names, "--json", str(out),
        ],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=1200,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result, {o["name"]: o for o in json.loads(out.read_text())["outcomes"]}
