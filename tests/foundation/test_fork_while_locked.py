"""A fork made while another thread holds one of mcptrace's locks does not hang the child.

Only the forking thread exists in the child: a lock another thread held at the fork stays
held there forever.  The export layer's locks (the spool writers, the shipper, the claims
on spool files, the enrichers) and those around a spawn are made anew in a forked child,
so its exports and its exit flush go through.
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
PROGRAM = Path(__file__).resolve().parent / "fork_while_locked.py"


@pytest.fixture
def endpoint() -> Iterator[str]:
    with accepting_endpoint() as (url, _):
        yield url


@pytest.mark.parametrize("shipped", [False, True], ids=["spool", "otlp"])
def test_a_child_forked_while_the_exporter_held_its_locks_exits(
    shipped: bool, spool: Path, tmp_path: Path, endpoint: str
) -> None:
    env = clean_env()
    if shipped:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
    result = run_under_mcptrace([PYTHON, str(PROGRAM), str(tmp_path)], spool, env=env)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["exit"] == 3, result.stderr  # not "hung"
    assert report["locks"] >= (7 if shipped else 6)  # the module locks, the spool writers
    in_child = str(tmp_path / "in-child.txt")
    assert [span.name for span in iter_spans(spool) if span.name == "child work"] == ["child work"]
    assert any(in_child in record.attributes.values() for record in iter_logs(spool))
