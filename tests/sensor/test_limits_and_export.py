"""Bounded memory, category selection, and no self-recording with a real OTLP receiver."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import Recorded, drive

from conftest import Loopback
from mcptrace.record import vocabulary as ev

pytestmark = pytest.mark.slow

MIB = 1024


def test_million_opens_keep_memory_flat_and_report_drops(spool: Path) -> None:
    count = 1_000_000
    results, _ = drive(spool, [("many_opens", {"count": count})], timeout=240)
    before_kib, after_kib = (int(value) for value in results[0]["text"].split())
    assert after_kib - before_kib < 20 * MIB  # peak RSS growth during the call
    recorded = Recorded(spool)
    span = recorded.tool_span("many_opens")
    assert span.attributes[ev.count_attribute("file")] >= count
    # the first 8 x 32 events per category are recorded, the rest only counted; identical
    # opens coalesce into a record that counts its repeats (a new one once it is emitted)
    opened = span.attributes[ev.count_attribute("file")]
    logs = recorded.logs_of(span, ev.FILE_OPEN)
    represented = sum(1 + log.attributes.get(ev.EVENT_REPEATS, 0) for log in logs)
    assert represented == 256
    assert represented + span.attributes[ev.EVENTS_DROPPED] == opened
    assert 1 <= len(logs) <= 3
    events = recorded.events(span, ev.FILE_OPEN)
    assert [e.attributes.get(ev.EVENT_REPEATS) for e in events] == [
        log.attributes.get(ev.EVENT_REPEATS) for log in logs
    ][: len(events)]


def test_sensor_setting_selects_categories(spool: Path, tmp_path: Path, loopback: Loopback) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    drive(
        spool,
        [("read_secret", {"path": str(secret)}), ("tcp_connect", {"port": loopback.tcp_port})],
        MCPTRACE_SENSOR="network",
    )
    recorded = Recorded(spool)
    assert not recorded.events(recorded.tool_span("read_secret"), ev.FILE_OPEN)
    assert not recorded.sensor_logs(ev.FILE_OPEN)
    assert recorded.one_event("tcp_connect", ev.NETWORK_CONNECT)


def test_sensor_off(spool: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    drive(spool, [("read_secret", {"path": str(secret)})], MCPTRACE_SENSOR="none")
    recorded = Recorded(spool)
    assert not recorded.tool_span("read_secret").events
    assert not recorded.sensor_logs()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """oteltap on 127.0.0.1:PORT, printing everything it receives as NDJSON to a file."""
    port = _free_port()
    output = tmp_path / "received.ndjson"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "oteltap", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail(f"oteltap did not start: {output.read_text()}")
    try:
        yield port, output
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def _attributes(tree: Any) -> Iterator[tuple[str, Any]]:
    """Every key/value attribute anywhere in an OTLP/JSON tree."""
    if isinstance(tree, dict):
        if "key" in tree and "value" in tree and isinstance(tree["value"], dict):
            value = next(iter(tree["value"].values()), None)
            yield tree["key"], value
        for child in tree.values():
            yield from _attributes(child)
    elif isinstance(tree, list):
        for child in tree:
            yield from _attributes(child)


def test_exporter_connection_and_spool_are_never_recorded(
    spool: Path, tmp_path: Path, receiver: tuple[int, Path]
) -> None:
    port, output = receiver
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    drive(
        spool,
        [("read_secret", {"path": str(secret)}), ("echo", {"text": "x"})],
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_COMPRESSION="none",
        OTEL_BSP_SCHEDULE_DELAY="200",
        OTEL_BLRP_SCHEDULE_DELAY="200",
    )
    deadline = time.monotonic() + 20
    pairs: list[tuple[str, Any]] = []
    while time.monotonic() < deadline:
        pairs = []
        for line in output.read_text().splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    pairs.extend(_attributes(json.loads(line)))
                except ValueError:
                    continue
        if any(value == str(secret) for key, value in pairs if key == ev.FILE_PATH):
            break
        time.sleep(0.3)
    # the sensor's own events did arrive over OTLP ...
    assert any(value == str(secret) for key, value in pairs if key == ev.FILE_PATH), pairs[:50]
    # ... and none of them is about the exporter's connection or the spool
    ports = [value for key, value in pairs if key == ev.SERVER_PORT]
    assert str(port) not in [str(value) for value in ports]
    paths = [str(value) for key, value in pairs if key == ev.FILE_PATH]
    assert not [path for path in paths if path.startswith(str(spool))]
    # (the spool is the write-ahead log of what was shipped: its lines are there by design)


def test_warnings_never_follow_sys_stderr_onto_the_json_rpc_channel(spool: Path) -> None:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("stderr_onto_stdout_then_break_spool", {"spool": str(spool)})
    ]
    calls += [("echo", {"text": f"after {index}"}) for index in range(20)]
    results, completed = drive(spool, calls)
    assert [r["text"] for r in results[1:]] == [f"after {index}" for index in range(20)]
    # the client parsed every line the server wrote: no warning of ours on its stdout
    assert "Failed to parse JSONRPC" not in completed.stderr, completed.stderr[-3000:]
    # the warning went to a stderr instead
    assert "cannot write the spool" in completed.stderr, completed.stderr[-3000:]
