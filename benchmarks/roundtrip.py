"""MCP round trips, client and server both instrumented vs both plain, in one run.

Scenarios: echo over stdio and over streamable HTTP (≥ 1,000 calls per round, p99
reported), echo over stdio with spans only (sensor and provenance off), the same with OTLP
export to a real loopback receiver instead of the spool, a
tool doing 20,000 file opens, a tool doing 2,000 loopback TCP connects, and the server's
peak RSS after 10,000 calls.  Latencies are measured inside the client, so process start-up
is excluded; spans, sensor and provenance are all on (the defaults) unless stated.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.harness import Result, alternate

CLIENT = str(Path(__file__).with_name("_echo_client.py"))
SPANS_ONLY = {
    "MCPTRACE_SENSOR": "none",
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "mcptrace_provenance",
}
ECHO = '{"text": "hello"}'


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MCPTRACE_"))}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


class Runner:
    """Runs the benchmark client plain or under ``mcptrace run`` and keeps its figures."""

    def __init__(
        self,
        transport: str,
        calls: int,
        tool: str,
        argument: str,
        options: list[str],
        env: dict[str, str] | None = None,
        concurrency: int = 1,
    ) -> None:
        self.args = [
            "--transport", transport, "--calls", str(calls), "--tool", tool,
            "--argument", argument, "--warmup", str(min(50, max(2, calls // 5))),
            "--concurrency", str(concurrency),
        ]  # fmt: skip
        self.options = options
        self.spool = Path(tempfile.mkdtemp(prefix="mcptrace-bench-"))
        self.env = clean_env(
            MCPTRACE_SPOOL_DIR=str(self.spool),
            MCPTRACE_HASH_CACHE=str(self.spool / "hash-cache.sqlite3"),
            OTEL_EXPORTER_OTLP_COMPRESSION="none",
        )
        self.instrumented_env = {**self.env, **(env or {})}
        self.figures: dict[str, list[dict[str, float]]] = {"baseline": [], "instrumented": []}

    def _run(self, command: list[str], label: str) -> dict[str, float]:
        env = self.instrumented_env if label == "instrumented" else self.env
        output = subprocess.run(
            command, env=env, check=True, capture_output=True, text=True, timeout=1800
        ).stdout
        figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
        self.figures[label].append(figures)
        return figures

    def baseline(self) -> dict[str, float]:
        return self._run([sys.executable, CLIENT, *self.args], "baseline")

    def instrumented(self) -> dict[str, float]:
        command = [
            sys.executable, "-m", "mcptrace.cli", "run", *self.options, "--",
            sys.executable, CLIENT, *self.args,
        ]  # fmt: skip
        return self._run(command, "instrumented")

    def p99(self) -> dict[str, list[float]]:
        return {label: [f["p99"] for f in runs] for label, runs in self.figures.items()}


def scenario(
    name: str,
    rounds: int,
    transport: str,
    calls: int,
    tool: str = "echo",
    argument: str = ECHO,
    target: float | None = None,
    options: list[str] | None = None,
    note: str = "",
    env: dict[str, str] | None = None,
) -> Result:
    runner = Runner(transport, calls, tool, argument, options or [], env)
    result = alternate(
        name,
        lambda: runner.baseline()["total"],
        lambda: runner.instrumented()["total"],
        rounds,
        target=target,
        note=note,
    )
    result.extra["p99_s"] = runner.p99()
    return result


def memory_scenarios(rounds: int, calls: int) -> list[Result]:
    """Peak RSS of the server: its footprint, and its growth over ``calls`` calls.

    The client keeps 8 calls in flight: the server then never waits on the client, which
    halves the time of the suite's longest scenario; RSS is what is measured, not latency.
    """
    runner = Runner("stdio", calls, "echo", ECHO, [], concurrency=8)
    figures = {"baseline": runner.baseline, "instrumented": runner.instrumented}
    footprint = alternate(
        f"server peak RSS after {calls:,} calls",
        lambda: figures["baseline"]()["server_peak_rss_kib"] / 1024,
        lambda: figures["instrumented"]()["server_peak_rss_kib"] / 1024,
        rounds,
        unit="MiB",
        compare="delta",
        note="OTel SDK, exporters and mcptrace loaded in the server; 8 calls in flight",
    )
    growth = Result(
        f"server RSS growth during {calls:,} calls",
        "MiB",
        baseline=[f["server_rss_growth_kib"] / 1024 for f in runner.figures["baseline"]],
        instrumented=[f["server_rss_growth_kib"] / 1024 for f in runner.figures["instrumented"]],
        target=5.0,
        compare="delta",
        note="what instrumentation accumulates per call (flat = no leak)",
    )
    return [footprint, growth]


@contextlib.contextmanager
def loopback_receiver() -> Iterator[str]:
    """A real OTLP/HTTP receiver (the ``oteltap`` package) on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "oteltap", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("oteltap did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def run(rounds: int, smoke: bool = False) -> list[Result]:
    calls = 20 if smoke else 1000
    files = 200 if smoke else 20_000
    connects = 20 if smoke else 2_000
    results = [
        scenario(
            "echo tools/call, stdio", rounds, "stdio", calls, target=1.05,
            note=f"{calls} calls per round, client and server instrumented",
        ),
        scenario(
            "echo tools/call, stdio, spans only", rounds, "stdio", calls, target=1.05,
            env=SPANS_ONLY, note="MCP spans and metrics; sensor and provenance off",
        ),
        scenario(
            "echo tools/call, streamable HTTP", rounds, "http", calls, target=1.05,
            note=f"{calls} calls per round",
        ),
    ]  # fmt: skip
    with loopback_receiver() as endpoint:
        results.append(
            scenario(
                "echo tools/call, stdio, OTLP to a receiver", rounds, "stdio", calls // 2,
                options=["--endpoint", endpoint], note="oteltap on 127.0.0.1 instead of the spool",
            )
        )  # fmt: skip
    results += [
        scenario(  # 10 calls a round: with 3, one burst of the shared VM decided the ratio
            f"tool doing {files:,} file opens", rounds, "stdio", 10, "open_files",
            json.dumps({"count": files}), target=1.20,
        ),
        scenario(
            f"tool doing {connects:,} loopback connects", rounds, "stdio", 3,
            "connect_loopback", json.dumps({"count": connects}),
        ),
    ]  # fmt: skip
    # 10,000 calls per run make this the longest scenario: 3 rounds keep the suite short
    results += memory_scenarios(min(rounds, 3), 200 if smoke else 10_000)
    return results
