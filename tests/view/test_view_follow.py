"""``mcptrace view --follow`` picks up what a running server appends to the spool."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

from spoolgen import Request, _ev, trace_lines

from support import clean_env, mcptrace_cmd


class Follower:
    """``mcptrace view SPOOL --follow`` in a subprocess, its stdout read line by line."""

    def __init__(self, spool: Path, *options: str) -> None:
        self.process = subprocess.Popen(
            mcptrace_cmd("view", str(spool), "--follow", "--poll", "0.1", *options),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed within {timeout}s; saw {self.seen}")

    def quiet_for(self, seconds: float) -> list[str]:
        time.sleep(seconds)
        new = []
        while not self.lines.empty():
            new.append(self.lines.get())
        self.seen += new
        return new

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def tool_call(name: str, start_ms: float, **kwargs: object) -> Request:
    return Request("tools/call", name, start_ms, None, 12, **kwargs)  # type: ignore[arg-type]


def append(path: Path, data: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(data)


def test_follow_prints_requests_appended_while_running(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    first = spool / "traces-20260115T100000-4242-0001.jsonl"
    alpha, beta, gamma = trace_lines(
        [
            tool_call(
                "alpha",
                0,
                events=[
                    _ev(
                        "mcptrace.file.open",
                        1,
                        file__path="/tmp/a.txt",
                        mcptrace__file__access="write",
                    ),
                ],
            ),
            tool_call("beta", 100, error=("tool_error", "")),
            tool_call("gamma", 200),
        ]
    )
    append(first, alpha)  # before the viewer starts: shown too
    follower = Follower(spool)
    try:
        line = follower.wait_for("tools/call alpha")
        assert "ok" in line and "server span only" in line
        follower.wait_for("write       /tmp/a.txt")
        # half a line is a write in progress: nothing until its newline arrives
        append(first, beta[:100])
        assert not any("beta" in line for line in follower.quiet_for(1.0))
        append(first, beta[100:])
        assert "ERR" in follower.wait_for("tools/call beta")
        # a new file (rotation, or another process) is picked up as well
        append(spool / "traces-20260115T100500-4343-0001.jsonl", gamma)
        follower.wait_for("tools/call gamma")
    finally:
        code = follower.interrupt()
    assert code == 0
    assert follower.process.stderr is not None
    assert follower.process.stderr.read() == ""


def test_follow_json_writes_one_request_per_line(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    follower = Follower(spool, "--json", "--tool", "keep_*")
    try:
        lines = trace_lines([tool_call("keep_me", 0), tool_call("skip_me", 50)])
        append(spool / "traces-20260115T100000-1-0001.jsonl", "".join(lines))
        record = json.loads(follower.wait_for('"keep_me"'))
        assert record["tool"] == "keep_me" and record["status"] == "ok"
        assert record["session"] == "5e55e000-0000-4000-8000-000000000002"
        assert record["server"]["duration_ms"] == 12.0
        assert not any("skip_me" in seen for seen in follower.quiet_for(1.0))
    finally:
        assert follower.interrupt() == 0


def test_follow_joins_the_client_half_arriving_after_the_server_half(
    recorded_spool: Path, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    files = {}
    for path in sorted(recorded_spool.glob("traces-*.jsonl")):
        text = path.read_text(encoding="utf-8")
        files["client" if '"stringValue":"agent"' in text else "server"] = (path.name, text)
    follower = Follower(spool)
    try:
        append(spool / files["server"][0], files["server"][1])
        # a server span with no parent cannot expect a client half: printed at once, before
        # the client half of the others arrives (waiting for it, not for a fixed time, keeps
        # this independent of how fast the follower starts)
        lone = follower.wait_for("10:00:05.000")
        assert "server span only" in lone
        assert not any("fetch_url" in seen for seen in follower.seen)
        time.sleep(0.3)  # the client process exports a moment later
        append(spool / files["client"][0], files["client"][1])
        line = follower.wait_for("tools/call fetch_url")
        follower.wait_for("resources/read")
        assert "client ⇄ server 131.0 ms" in line and "140.0 ms" in line
        assert "session c0ffee00" in line
    finally:
        assert follower.interrupt() == 0
    printed = [line for line in follower.seen if "trace " in line]
    assert len(printed) == 8  # each request once, notifications left out
