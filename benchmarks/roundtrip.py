"""MCP round trips, client and server both instrumented vs both plain, in one run.

Scenarios: echo over stdio and over streamable HTTP (≥ 1,000 calls per round, p99
reported), a tool doing 20,000 file opens, a tool doing 2,000 loopback TCP connects.
Latencies are measured inside the client, so process start-up is excluded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import Result, alternate

CLIENT = str(Path(__file__).with_name("_echo_client.py"))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MCPTRACE_"))}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


class Runner:
    def __init__(self, transport: str, calls: int, tool: str, argument: str, options: list[str]):
        self.args = [
            "--transport",
            transport,
            "--calls",
            str(calls),
            "--tool",
            tool,
            "--argument",
            argument,
            "--warmup",
            str(min(50, calls)),
        ]
        self.options = options
        self.spool = Path(tempfile.mkdtemp(prefix="mcptrace-bench-"))
        self.p99: dict[str, list[float]] = {"baseline": [], "instrumented": []}

    def _run(self, command: list[str], label: str) -> float:
        output = subprocess.run(
            command,
            env=_env(MCPTRACE_SPOOL_DIR=str(self.spool)),
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        ).stdout
        result = json.loads(output.strip().splitlines()[-1])
        self.p99[label].append(result["p99"])
        return float(result["total"])

    def baseline(self) -> float:
        return self._run([sys.executable, CLIENT, *self.args], "baseline")

    def instrumented(self) -> float:
        command = [
            sys.executable,
            "-m",
            "mcptrace.cli",
            "run",
            *self.options,
            "--",
            sys.executable,
            CLIENT,
            *self.args,
        ]
        return self._run(command, "instrumented")


def scenario(
    name: str,
    rounds: int,
    transport: str,
    calls: int,
    tool: str,
    argument: str,
    target: float | None,
    options: list[str] | None = None,
    note: str = "",
) -> Result:
    runner = Runner(transport, calls, tool, argument, options or [])
    result = alternate(name, runner.baseline, runner.instrumented, rounds, target=target, note=note)
    result.extra["p99_s"] = runner.p99
    return result


def run(rounds: int, smoke: bool = False) -> list[Result]:
    calls = 20 if smoke else 1000
    files = 200 if smoke else 20_000
    connects = 20 if smoke else 2_000
    return [
        scenario(
            "echo tools/call, stdio (both sides)",
            rounds,
            "stdio",
            calls,
            "echo",
            '{"text": "hello"}',
            1.05,
            note=f"{calls} calls per round",
        ),
        scenario(
            "echo tools/call, streamable HTTP",
            rounds,
            "http",
            calls // 2,
            "echo",
            '{"text": "hello"}',
            1.05,
            note=f"{calls // 2} calls per round",
        ),
        scenario(
            f"tool doing {files} file opens",
            rounds,
            "stdio",
            3,
            "open_files",
            json.dumps({"count": files}),
            1.20,
        ),
        scenario(
            f"tool doing {connects} loopback connects",
            rounds,
            "stdio",
            3,
            "connect_loopback",
            json.dumps({"count": connects}),
            None,
        ),
    ]
