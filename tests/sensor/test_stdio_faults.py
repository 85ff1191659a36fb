"""A real stdio MCP server under ``mcptrace run``, driven by raw JSON-RPC.

* Killed by SIGKILL in the middle of a tool call: what the call recorded a few seconds
  before the kill is in the spool (the call's span, never ended, is not).
* A tool that replaces ``sys.stdout`` with a non-file, puts stderr onto stdout with
  ``dup2`` or closes stderr, then breaks the spool: every line on stdout is still a
  JSON-RPC message, the server answers every later call and exits 0 when stdin closes.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import HERE, SENSOR_SCOPE

from mcptrace.export.spool_reader import iter_logs
from mcptrace.record import vocabulary as ev
from support import PYTHON, clean_env, mcptrace_cmd

pytestmark = pytest.mark.slow
SERVER = HERE / "stdio_faults_server.py"


class Session:
    def __init__(self, spool: Path) -> None:
        self.process = subprocess.Popen(
            mcptrace_cmd("run", "--spool", str(spool), "--", PYTHON, str(SERVER)),
            env=clean_env(MCPTRACE_SPOOL_DIR=str(spool)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.lines: list[bytes] = []  # every line the server wrote on stdout
        self.next_id = 1
        answer = self.request("initialize", {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "stdio-faults", "version": "1"},
        })  # fmt: skip
        assert "result" in answer, answer
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def request(self, method: str, params: dict[str, Any], wait: bool = True) -> dict[str, Any]:
        number, self.next_id = self.next_id, self.next_id + 1
        self.send({"jsonrpc": "2.0", "id": number, "method": method, "params": params})
        if not wait:
            return {}
        assert self.process.stdout is not None
        while True:
            ready, _, _ = select.select([self.process.stdout], [], [], 60)
            assert ready, "the server did not answer"
            line = self.process.stdout.readline()
            assert line, "the server closed stdout"
            self.lines.append(line)
            message: dict[str, Any] = json.loads(line)  # every line is JSON-RPC
            if message.get("id") == number:
                return message

    def call(self, tool: str, wait: bool = True, **arguments: Any) -> dict[str, Any]:
        return self.request("tools/call", {"name": tool, "arguments": arguments}, wait)


def opens_of(spool: Path, path: str) -> int:
    return sum(
        1
        for record in iter_logs(spool)
        if record.scope == SENSOR_SCOPE
        and record.event_name == ev.FILE_OPEN
        and record.attributes.get(ev.FILE_PATH) == path
    )


def test_sigkill_mid_call_keeps_what_the_call_recorded(spool: Path, tmp_path: Path) -> None:
    session = Session(spool)
    target = tmp_path / "opened-by-the-call.txt"
    session.call("open_then_hang", wait=False, path=str(target))
    deadline = time.monotonic() + 60
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert target.exists(), "the tool never ran"
    time.sleep(4.0)  # ≈2 s: the 1 s pump and the 1 s batches, with slack for a loaded machine
    os.killpg(session.process.pid, signal.SIGKILL)
    session.process.wait(timeout=30)
    assert opens_of(spool, str(target)) == 1


@pytest.mark.parametrize(
    "tool",
    [
        "stdout_not_a_file_then_break_spool",
        "stderr_onto_stdout_then_break_spool",
        "close_stderr_then_break_spool",
    ],
)
def test_nothing_of_mcptrace_reaches_stdout_after_a_tool_rebinds_stdio(
    tool: str, spool: Path
) -> None:
    session = Session(spool)
    assert session.call("echo", text="first")["result"]["content"][0]["text"] == "first"
    assert "result" in session.call(tool)
    for number in range(3):  # exports fail from now on: mcptrace wants to say so
        answer = session.call("echo", text=f"after {number}")
        assert answer["result"]["content"][0]["text"] == f"after {number}"
        time.sleep(1.2)
    assert session.process.stdin is not None
    session.process.stdin.close()
    assert session.process.stdout is not None
    rest = session.process.stdout.read()
    session.lines += rest.splitlines(keepends=True)
    assert session.process.wait(timeout=60) == 0
    for line in session.lines:
        json.loads(line)  # JSON-RPC only
    assert not any(b"mcptrace" in line for line in session.lines)
