"""Every protocol version the installed SDK can negotiate, over stdio and streamable HTTP: the
negotiated version on spans and metrics, sessions only where the protocol has them (never an
invented ``mcp.session.id`` for 2026-07-28 traffic), the 2026-07-28 methods traced like any
other, and who called (the client's name and version) on every server span and metric."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from mcp_pairs import CLIENT, SERVER, PairRun, _result_of, free_port, serve_and_run

from mcptrace.mcp.instrumentor import mcp_major
from support import (
    SPAN_KIND_CLIENT,
    SPAN_KIND_SERVER,
    clean_env,
    logs,
    metric_points,
    run_under_mcptrace,
    spans,
)

HERE = Path(__file__).resolve().parent
VERSION_CLIENT = str(HERE / "version_client.py")
HANDSHAKE = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
STATELESS = "2026-07-28"
VERSIONS = HANDSHAKE + ([STATELESS] if mcp_major() == 2 else [])
CLIENT_NAME = "version-client"
assert CLIENT and SERVER  # the peer pair the other tests use; this one has its own client


def run_version_pair(
    spool: Path, version: str, transport: str, user: str | None = None, **env_extra: str
) -> PairRun:
    env = clean_env(**env_extra)
    if transport == "stdio":
        done = run_under_mcptrace([sys.executable, VERSION_CLIENT, version], spool, env=env)
        return PairRun(
            _result_of(done.stdout), spans(spool), logs(spool), metric_points(spool), transport
        )
    port = free_port()
    done = serve_and_run(
        spool,
        [sys.executable, str(HERE / "peer_server.py"), "http", str(port)],
        [sys.executable, VERSION_CLIENT, version, "--http", f"http://127.0.0.1:{port}/mcp"]
        + (["--user", user] if user else []),
        env,
        port,
    )
    return PairRun(
        _result_of(done.stdout),
        spans(spool),
        logs(spool),
        metric_points(spool),
        transport,
        extra={"port": port},
    )


@pytest.fixture(
    scope="module",
    # every pair starts a server: CI runs them (slow); test_mcp_spans keeps a stdio pair fast
    params=[
        pytest.param((v, t), marks=pytest.mark.slow) for v in VERSIONS for t in ("stdio", "http")
    ],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> PairRun:
    version, transport = request.param
    run = run_version_pair(tmp_path_factory.mktemp(f"spool-{version}-{transport}"), *request.param)
    run.extra["version"] = version
    return run


def mcp_spans(pair: PairRun) -> list[Any]:
    return [s for s in pair.spans if "mcp.method.name" in s.attributes]


def test_the_version_asked_for_is_negotiated(pair: PairRun) -> None:
    assert pair.result["negotiated"] == pair.extra["version"]
    assert pair.result["echo"] == "hi" and pair.result["greeting"] == "hello"


def test_one_span_each_side_with_version_and_transport(pair: PairRun) -> None:
    version = pair.extra["version"]
    for name in ("tools/call echo", "tools/call whoami", "resources/read", "prompts/get summarize"):
        client, server = pair.client(name), pair.server(name)
        assert server.parent_span_id == client.span_id and server.trace_id == client.trace_id
        for span in (client, server):
            assert span.attributes["mcp.protocol.version"] == version, (name, span.attributes)
            if pair.transport == "http":
                assert span.attributes["network.transport"] == "tcp"
                assert span.attributes["network.protocol.name"] == "http"
            else:
                assert span.attributes["network.transport"] == "pipe"
                assert "network.protocol.name" not in span.attributes
    if pair.transport == "http":
        assert pair.server("tools/call echo").attributes["network.protocol.version"] == "1.1"
    assert pair.result["whoami"]["baggage"] == {"tenant": "acme"}
    assert pair.result["whoami"]["span_id"] == pair.server("tools/call whoami").span_id


def test_sessions_only_where_the_protocol_has_them(pair: PairRun) -> None:
    stateless = pair.extra["version"] == STATELESS
    session_metrics = [p for p in pair.metrics if p.name.endswith(".session.duration")]
    session_logs = [r for r in pair.logs if r.event_name.startswith("mcptrace.mcp.session.")]
    with_id = [s for s in mcp_spans(pair) if "mcp.session.id" in s.attributes]
    if stateless:
        assert with_id == [], [(s.name, s.attributes["mcp.session.id"]) for s in with_id]
        assert session_metrics == [] and session_logs == []
        for name in ("server/discover", "subscriptions/listen"):
            assert_child(pair.server(name), pair.client(name))
        ack = "notifications/subscriptions/acknowledged"
        handled = pair.server(ack)  # the client handles the server's acknowledgement
        assert handled.resource["service.name"] == "version_client"
        if pair.transport == "stdio":
            # over HTTP the SDK writes it straight into the response stream (a private
            # module mcptrace leaves alone): only the client's side is traced there
            assert_child(handled, pair.client(ack))
        assert not pair.named("initialize")
    else:
        # every MCP span of a session carries its id, the client's initialize included
        assert len(with_id) == len(mcp_spans(pair))
        assert_child(pair.server("initialize"), pair.client("initialize"))
        for process in ("version_client", "peer_server"):
            ids = {
                s.attributes["mcp.session.id"]
                for s in with_id
                if s.resource.get("service.name") == process
            }
            assert len(ids) == 1, (process, ids)
        assert {p.name for p in session_metrics} == {
            "mcp.client.session.duration",
            "mcp.server.session.duration",
        }
        assert {r.event_name for r in session_logs} == {
            "mcptrace.mcp.session.start",
            "mcptrace.mcp.session.end",
        }
    for point in pair.metrics:
        assert "mcp.session.id" not in point.attributes, point


def test_operation_metrics_carry_the_convention_attributes(pair: PairRun) -> None:
    version = pair.extra["version"]
    points = {
        (p.name, p.attributes.get("gen_ai.tool.name")): p
        for p in pair.metrics
        if p.name.endswith(".operation.duration")
    }
    client = points[("mcp.client.operation.duration", "echo")]
    server = points[("mcp.server.operation.duration", "echo")]
    for point in (client, server):
        assert point.attributes["mcp.method.name"] == "tools/call"
        assert point.attributes["gen_ai.operation.name"] == "execute_tool"
        assert point.attributes["mcp.protocol.version"] == version
        assert "mcp.resource.uri" not in point.attributes  # opt-in only
        assert "jsonrpc.protocol.version" not in point.attributes  # only when not 2.0
        assert list(point.data["explicitBounds"])[:3] == [0.01, 0.02, 0.05]
        if pair.transport == "http":
            assert point.attributes["network.protocol.name"] == "http"
    if pair.transport == "http":
        assert client.attributes["server.address"] == "127.0.0.1"
        assert client.attributes["server.port"] == pair.extra["port"]
    assert "server.address" not in server.attributes
    reads = [p for p in pair.metrics if p.attributes.get("mcp.method.name") == "resources/read"]
    assert reads and all("mcp.resource.uri" not in p.attributes for p in reads)


def test_who_called_is_on_every_server_span_and_metric(pair: PairRun) -> None:
    served = [s for s in mcp_spans(pair) if s.kind == SPAN_KIND_SERVER]
    from_client = [s for s in served if s.resource.get("service.name") == "peer_server"]
    assert from_client
    for span in from_client:
        if span.name == "initialize" or span.attributes["mcp.method.name"] == "server/discover":
            continue
        assert span.attributes.get("mcptrace.mcp.client.name") == CLIENT_NAME, span.name
        assert span.attributes.get("mcptrace.mcp.client.version") == "7.1.0", span.name
    server_points = [p for p in pair.metrics if p.name == "mcp.server.operation.duration"]
    echo = [p for p in server_points if p.attributes.get("gen_ai.tool.name") == "echo"]
    assert echo and echo[0].attributes["mcptrace.mcp.client.name"] == CLIENT_NAME


def assert_child(child: Any, parent: Any) -> None:
    assert child.trace_id == parent.trace_id
    assert child.parent_span_id == parent.span_id


def test_client_spans_are_client_kind(pair: PairRun) -> None:
    assert pair.client("tools/call echo").kind == SPAN_KIND_CLIENT
