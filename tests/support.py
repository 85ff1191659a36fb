"""Shared helpers for tests: clean environments, running commands under mcptrace, spool reads."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from mcptrace.export.spool_reader import (
    LogRecordEntry,
    MetricPoint,
    SpanRecord,
    iter_logs,
    iter_metric_points,
    iter_spans,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PYTHON = sys.executable
SPAN_KIND_INTERNAL, SPAN_KIND_SERVER, SPAN_KIND_CLIENT = 1, 2, 3


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any OTEL_* / MCPTRACE_* / TRACEPARENT leaking in.

    ``MCPTRACE_NATIVE_HOOK`` is the one exception: a CI stage sets it to run the sensor tests
    on the pure-Python audit hook instead of the C one.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "MCPTRACE_")) and key not in ("TRACEPARENT", "TRACESTATE")
    }
    if "MCPTRACE_NATIVE_HOOK" in os.environ:
        env["MCPTRACE_NATIVE_HOOK"] = os.environ["MCPTRACE_NATIVE_HOOK"]
    env.pop("PYTHONPATH", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def mcptrace_cmd(*args: str) -> list[str]:
    return [PYTHON, "-m", "mcptrace.cli", *args]


def run_under_mcptrace(
    command: Sequence[str],
    spool: Path,
    *options: str,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``mcptrace run --spool SPOOL OPTIONS -- COMMAND`` and wait for it."""
    result = subprocess.run(
        mcptrace_cmd("run", "--spool", str(spool), *options, "--", *command),
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def spans(spool: Path) -> list[SpanRecord]:
    return list(iter_spans(spool))


def logs(spool: Path) -> list[LogRecordEntry]:
    return list(iter_logs(spool))


def metric_points(spool: Path) -> list[MetricPoint]:
    return list(iter_metric_points(spool))


def example_client(*args: str) -> list[str]:
    return [PYTHON, str(EXAMPLES / "client.py"), *args]


def unacknowledged_spans(spool: Path, endpoint: str, protocol: str = "http/protobuf") -> int:
    """Spans the spool holds that ``endpoint`` has not acknowledged yet (the write-ahead log
    keeps everything; its progress files say what was delivered)."""
    import json

    from mcptrace.config import load_settings
    from mcptrace.export.destination import Destination
    from mcptrace.export.progress import ProgressStore

    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}
    target = Destination.from_environment(load_settings(env), env).targets["traces"]
    store = ProgressStore.open(spool, target)
    count = 0
    try:
        for path in sorted(spool.glob("traces-*.jsonl")):
            with path.open("rb") as handle:
                handle.seek(store.acknowledged(path.name))
                for line in handle:
                    tree = json.loads(line)
                    count += sum(
                        len(scope.get("spans", []))
                        for resource in tree.get("resourceSpans", [])
                        for scope in resource.get("scopeSpans", [])
                    )
    finally:
        store.close()
    return count


def replay_the_rest(spool: Path, endpoint: str, protocol: str = "http/protobuf", **env: str) -> str:
    """What a process left unsent at exit (its shipper has a fixed 0.3 s budget there)
    follows with ``mcptrace replay``, as the README says; its summary line."""
    result = subprocess.run(
        mcptrace_cmd("replay", str(spool), "--endpoint", endpoint, "--protocol", protocol),
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert "traces not sent" not in result.stderr, result.stderr
    return result.stderr
