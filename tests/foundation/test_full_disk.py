"""A full disk under the spool costs telemetry, never the program, and says so in one line;
with an OTLP endpoint what the spool cannot take still goes to the collector, from memory.

The disk is filled for real: the program limits its file size (RLIMIT_FSIZE), so every
spool write fails with EFBIG, as ENOSPC does on a full filesystem.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from mcptrace.export.spool_reader import iter_spans
from support import PYTHON, clean_env, run_under_mcptrace

pytestmark = pytest.mark.slow
PROGRAM = Path(__file__).resolve().parent / "full_disk_program.py"


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    bodies: list[bytes] = []
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Receiver", (_Receiver,), {"bodies": bodies})
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()


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
