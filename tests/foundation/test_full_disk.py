"""A full disk under the spool costs telemetry, never the program, and says so in one line;
with an OTLP endpoint what the spool cannot take still goes to the collector, from memory.

The disk is filled for real: the program limits its file size (RLIMIT_FSIZE), so every
spool write fails with EFBIG, as ENOSPC does on a full filesystem.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mcptrace.export.spool_reader import iter_spans
from receivers import accepting_endpoint
from support import PYTHON, clean_env, run_under_mcptrace

pytestmark = pytest.mark.slow
PROGRAM = Path(__file__).resolve().parent / "full_disk_program.py"


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    with accepting_endpoint() as endpoint:
        yield endpoint


@pytest.mark.parametrize("shipped", [False, True], ids=["spool", "otlp"])
def test_a_full_disk_costs_telemetry_with_one_line(
    shipped: bool, spool: Path, tmp_path: Path, receiver: tuple[str, list[bytes]]
) -> None:
    endpoint, bodies = receiver
    env = clean_env()
    if shipped:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
    result = run_under_mcptrace([PYTHON, str(PROGRAM), str(tmp_path)], spool, env=env)
    assert (tmp_path / "done").exists()
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mcptrace: cannot write the spool"), lines
    names = {span.name for span in iter_spans(spool)}
    assert {"before-0", "before-1", "before-2"} <= names  # what was written stays whole
    assert not any(name.startswith("after-") for name in names)
    if shipped:
        assert "from memory" in lines[0]
        received = b"".join(bodies)
        assert all(f"after-{n}".encode() in received for n in range(20))
    else:
        assert "being dropped" in lines[0]


def test_no_free_descriptor_costs_nothing_the_open_spool_files_can_take(
    spool: Path, tmp_path: Path
) -> None:
    program = Path(__file__).resolve().parent / "no_descriptors_program.py"
    result = run_under_mcptrace([PYTHON, str(program), str(tmp_path)], spool)
    assert "Traceback" not in result.stderr, result.stderr
    names = {span.name for span in iter_spans(spool)}
    expected = {"before"} | {f"{when}-{n}" for when in ("during", "afterwards") for n in range(5)}
    assert expected <= names
