"""Real MCP sessions exported live to Arize Phoenix (``arize-phoenix`` from PyPI) over OTLP
gRPC and OTLP HTTP, directly and through a ``rotel`` collector hop; the spans, their
parent/child links and the sensor's runtime events are read back from Phoenix's REST API.

Phoenix lives in its own venv (``.venvs/phoenix``, built by tests/setup_venvs.sh, which
also holds rotel).  Its gRPC server always binds every interface (``[::]``), so tests/run.sh
runs this stage inside a private network namespace (``unshare -n`` + ``lo`` up): Phoenix,
rotel, ``mcptrace run`` with the MCP client and server, and pytest itself share a loopback
that nothing outside can reach.  Phoenix accepts traces only: mcptrace's logs and metrics
to it stay in the spool; these tests check Phoenix acknowledged every span.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from receivers import free_port
from support import (
    EXAMPLES,
    PYTHON,
    ROOT,
    clean_env,
    replay_the_rest,
    run_under_mcptrace,
    unacknowledged_spans,
)

STAGE = os.environ.get("MCPTRACE_TEST_RECEIVERS_STAGE") == "1"  # set by tests/run.sh
VENV = Path(
    os.environ.get("MCPTRACE_TEST_PHOENIX_VENV")
    or Path(os.environ.get("MCPTRACE_VENVS", ROOT / ".venvs")) / "phoenix"
)


def in_private_netns() -> bool:
    """A fresh ``unshare -n`` namespace has only the loopback interface."""
    with open("/proc/self/net/dev") as handle:
        interfaces = [line.split(":")[0].strip() for line in handle.readlines()[2:]]
    return interfaces == ["lo"]


def unavailable(reason: str) -> None:
    if STAGE:
        pytest.fail(reason)
    pytest.skip(reason)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@dataclass
class Phoenix:
    http_port: int
    grpc_port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def spans(self, project: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
            url = f"{self.base}/v1/projects/{project}/spans?{urllib.parse.urlencode(query)}"
            try:
                page = get_json(url)
            except urllib.error.HTTPError as error:
                if error.code == 404:  # the project appears with its first span
                    return []
                raise
            found.extend(page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                return found

    def wait_for_spans(self, project: str, counts: dict[str, int], timeout: float = 60) -> Any:
        """Phoenix ingests asynchronously: poll until each name has its count of spans."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.spans(project)
            names = [span["name"] for span in found]
            if all(names.count(name) >= count for name, count in counts.items()):
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"Phoenix project {project!r}: wanted {counts}, has {names}")
            time.sleep(0.3)


@pytest.fixture(scope="module")
def phoenix(
    tmp_path_factory: pytest.TempPathFactory, record_testsuite_property: Any
) -> Iterator[Phoenix]:
    if not in_private_netns():
        pytest.skip(
            "Phoenix's gRPC server binds every interface; this module runs only inside a "
            "private network namespace (tests/run.sh's receivers stage uses `unshare -n`)"
        )
    if not (VENV / "bin" / "phoenix").exists():
        unavailable(f"no Phoenix at {VENV}: run `bash tests/setup_venvs.sh phoenix`")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=False, capture_output=True)
    workdir = tmp_path_factory.mktemp("phoenix")
    server = Phoenix(free_port(), free_port())
    env = clean_env(
        PHOENIX_WORKING_DIR=str(workdir),
        PHOENIX_TELEMETRY_ENABLED="false",
        PHOENIX_ALLOW_EXTERNAL_RESOURCES="false",
    )
    log = workdir / "phoenix.log"
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(VENV / "bin" / "phoenix"),
                *("serve", "--host", "127.0.0.1", "--no-ui"),
                *("--port", str(server.http_port), "--grpc-port", str(server.grpc_port)),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = started + 180  # 15-25 s on an idle 2-core machine
        while True:
            try:
                with urllib.request.urlopen(f"{server.base}/healthz", timeout=5) as response:
                    if response.read() == b"OK":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Phoenix did not become healthy:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        record_testsuite_property("phoenix_start_seconds", f"{time.monotonic() - started:.1f}")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rotel_agent() -> Path:
    found = sorted(VENV.glob("lib/python*/site-packages/rotel/rotel-agent"))
    if not found:
        unavailable(f"no rotel-agent in {VENV}: run `bash tests/setup_venvs.sh phoenix`")
    return found[0]


def run_example(example: str, spool: Path, endpoint: str, protocol: str, project: str) -> None:
    env = clean_env(
        OTEL_RESOURCE_ATTRIBUTES=f"openinference.project.name={project}",
        OTEL_EXPORTER_OTLP_TIMEOUT="5",
    )
    command = [PYTHON, str(EXAMPLES / example)]
    options = ("--endpoint", endpoint, "--protocol", protocol)
    run_under_mcptrace(command, spool, *options, env=env, timeout=240)
    replay_the_rest(spool, endpoint, protocol, **env)
    assert unacknowledged_spans(spool, endpoint, protocol) == 0  # every span was accepted


def one(items: list[dict[str, Any]], **wanted: Any) -> dict[str, Any]:
    found = [item for item in items if all(item.get(k) == v for k, v in wanted.items())]
    assert len(found) == 1, (wanted, [item["name"] for item in items])
    return found[0]


def client_and_server(found: list[dict[str, Any]], name: str) -> tuple[dict[str, Any], ...]:
    """Phoenix reports OpenInference kinds, not OTel ones: tell them apart by parentage."""
    pair = [span for span in found if span["name"] == name]
    assert len(pair) == 2, [span["name"] for span in found]
    ids = {span["context"]["span_id"] for span in pair}
    (server,) = [span for span in pair if span["parent_id"] in ids]
    (client,) = [span for span in pair if span is not server]
    assert server["parent_id"] == client["context"]["span_id"]
    assert server["context"]["trace_id"] == client["context"]["trace_id"]
    return client, server


def event(span: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [e["attributes"] for e in span["events"] if e["name"] == name]
    return dict(found)


# client and server span of each call
SUSPICIOUS = {
    name: 2
    for name in ("tools/call summarize_notes", "tools/call fetch_weather", "tools/call format_code")
}


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_suspicious_session_straight_to_phoenix(
    phoenix: Phoenix, protocol: str, spool: Path
) -> None:
    project = f"direct-{protocol.split('/')[0]}"
    port = phoenix.grpc_port if protocol == "grpc" else phoenix.http_port
    run_example("suspicious_client.py", spool, f"http://127.0.0.1:{port}", protocol, project)
    found = phoenix.wait_for_spans(project, SUSPICIOUS)

    _, summarize = client_and_server(found, "tools/call summarize_notes")
    assert summarize["attributes"]["gen_ai.tool.name"] == "summarize_notes"
    assert summarize["attributes"]["mcp.method.name"] == "tools/call"
    assert summarize["attributes"]["network.transport"] == "pipe"
    assert summarize["attributes"]["mcptrace.events.file.count"] == 1
    read = event(summarize, "mcptrace.file.open")
    assert read["file.path"].endswith("/.ssh/id_ed25519")
    assert read["mcptrace.file.access"] == "read"

    _, weather = client_and_server(found, "tools/call fetch_weather")
    connect = event(weather, "mcptrace.network.connect")
    assert connect["server.address"] == "127.0.0.1" and connect["server.port"] > 0

    _, formatter = client_and_server(found, "tools/call format_code")
    spawn = event(formatter, "mcptrace.process.spawn")
    assert spawn["process.executable.path"] == "/bin/sh"
    assert spawn["process.command_args"] == ["/bin/sh", "-c", "uname -a; id"]
    assert not [e for e in formatter["events"] if e["name"] == "mcptrace.network.connect"]


@dataclass
class Rotel:
    grpc_port: int
    http_port: int

    def endpoint(self, protocol: str) -> str:
        return f"http://127.0.0.1:{self.grpc_port if protocol == 'grpc' else self.http_port}"


@pytest.fixture
def rotel(phoenix: Phoenix, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rotel]:
    """rotel between mcptrace and Phoenix, exporting with the protocol given as param."""
    hop = Rotel(free_port(), free_port())
    out = "grpc" if request.param == "grpc" else "http"
    target = phoenix.grpc_port if out == "grpc" else phoenix.http_port
    log = tmp_path / "rotel.out"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(rotel_agent()),
                "start",
                *("--otlp-grpc-endpoint", f"127.0.0.1:{hop.grpc_port}"),
                *("--otlp-http-endpoint", f"127.0.0.1:{hop.http_port}"),
                *("--otlp-receiver-logs-disabled", "--otlp-receiver-metrics-disabled"),
                *("--exporter", "otlp", "--otlp-exporter-protocol", out),
                *("--otlp-exporter-endpoint", f"http://127.0.0.1:{target}"),
                *("--batch-timeout", "100ms"),
                *("--pid-file", str(tmp_path / "rotel.pid")),
                *("--log-file", str(tmp_path / "rotel.log")),
            ],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        for port in (hop.grpc_port, hop.http_port):
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"rotel did not start:\n{log.read_text()[-3000:]}")
                    time.sleep(0.1)
        yield hop
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Exporting failed" not in log.read_text(errors="replace")


@pytest.mark.parametrize(
    ("protocol", "rotel"),
    [("http/protobuf", "grpc"), ("grpc", "http")],
    ids=["http-rotel-grpc", "grpc-rotel-http"],
    indirect=["rotel"],
)
def test_agent_trace_through_rotel_to_phoenix(
    phoenix: Phoenix, rotel: Rotel, protocol: str, spool: Path, request: pytest.FixtureRequest
) -> None:
    project = f"rotel-{request.node.callspec.id}"
    run_example("agent_app.py", spool, rotel.endpoint(protocol), protocol, project)
    found = phoenix.wait_for_spans(
        project,
        {
            "agent.run": 1,
            "agent.plan": 1,
            "agent.act": 2,
            "tools/call word_count": 2,  # client and server
            "tools/call add": 2,
        },
    )
    run = one(found, name="agent.run")
    plan = one(found, name="agent.plan")
    assert run["parent_id"] is None and plan["parent_id"] == run["context"]["span_id"]
    assert run["attributes"]["gen_ai.agent.name"] == "notes-agent"
    trace_id = run["context"]["trace_id"]
    by_id = {span["context"]["span_id"]: span for span in found}
    for tool in ("word_count", "add"):
        client, server = client_and_server(found, f"tools/call {tool}")
        assert server["context"]["trace_id"] == trace_id
        act = by_id[client["parent_id"]]
        assert act["name"] == "agent.act" and act["parent_id"] == run["context"]["span_id"]
        assert act["attributes"]["gen_ai.tool.name"] == tool
    _, counted = client_and_server(found, "tools/call word_count")
    read = event(counted, "mcptrace.file.open")
    assert read["file.path"].endswith(".txt") and read["mcptrace.file.access"] == "read"
    assert {span["context"]["trace_id"] for span in found} == {trace_id}
