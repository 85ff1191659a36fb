"""A program that closed its stdout and stderr keeps them closed under mcptrace.

The descriptors it closed are the lowest free ones: a spool file, a directory, the hash
cache's database or an OTLP connection opened there would take what the program prints (a
stdio server's JSON-RPC, a traceback) and the program's write would succeed instead of
failing with EBADF.  mcptrace keeps every descriptor it holds above 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcptrace.export.spool_reader import iter_logs, iter_spans
from receivers import accepting_endpoint
from support import PYTHON, clean_env, run_under_mcptrace

pytestmark = pytest.mark.slow
PROGRAM = Path(__file__).resolve().parent / "closed_stdio_program.py"


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    with accepting_endpoint() as endpoint:
        yield endpoint


def recorded_paths(spool: Path) -> set[str]:
    return {str(value) for record in iter_logs(spool) for value in record.attributes.values()}


@pytest.mark.parametrize("shipped", [False, True], ids=["spool", "otlp"])
def test_closed_stdout_and_stderr_stay_closed(
    shipped: bool, spool: Path, tmp_path: Path, receiver: tuple[str, list[bytes]]
) -> None:
    endpoint, bodies = receiver
    env = clean_env(MCPTRACE_HASH_CACHE=str(tmp_path / "cache.sqlite3"))
    if shipped:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
    run_under_mcptrace([PYTHON, str(PROGRAM), str(tmp_path)], spool, env=env)

    assert json.loads((tmp_path / "result.json").read_text()) == {"1": "EBADF", "2": "EBADF"}
    assert {"work", "more work"} <= {span.name for span in iter_spans(spool)}
    assert {str(tmp_path / "recorded-0.txt"), str(tmp_path / "recorded-later.txt")} <= (
        recorded_paths(spool)
    )
    for path in spool.glob("*.jsonl"):
        assert b"PROGRAM-OUTPUT" not in path.read_bytes()
    if shipped:
        assert bodies, "nothing reached the receiver"
        assert not any(b"PROGRAM-OUTPUT" in body for body in bodies)
