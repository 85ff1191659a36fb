"""Sessions, client connect and server inventory as OTel log records."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from mcp_pairs import PairRun, run_stdio_pair


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> PairRun:
    spool: Path = tmp_path_factory.mktemp("spool-logs")
    return run_stdio_pair(spool, calls="echo")


def events(pair: PairRun, name: str) -> list[dict[str, object]]:
    return [record.attributes for record in pair.logs if record.event_name == name]


@pytest.mark.slow
def test_server_start_and_inventory(pair: PairRun) -> None:
    (start,) = events(pair, "mcptrace.mcp.server.start")
    assert start["mcptrace.mcp.server.name"] == "peer-server"
    assert start["mcptrace.mcp.server.instructions_length"] == len("Test server for mcptrace.")
    registered = events(pair, "mcptrace.mcp.component.registered")
    by_name = {
        (r["mcptrace.mcp.component.kind"], r["mcptrace.mcp.component.name"]): r for r in registered
    }
    assert ("tool", "echo") in by_name and ("tool", "login") in by_name
    assert ("resource", "greeting") in by_name
    assert ("resource_template", "item") in by_name
    assert ("prompt", "summarize") in by_name
    echo = by_name[("tool", "echo")]
    assert echo["mcptrace.mcp.component.description"] == "Return the text unchanged."
    sha = echo["mcptrace.mcp.component.input_schema.sha256"]
    assert isinstance(sha, str) and len(sha) == 64
    assert by_name[("resource", "greeting")]["mcptrace.mcp.component.uri"] == "test://greeting"
    assert start["mcptrace.mcp.server.components"] == len(registered)


def test_schema_hash_is_sha256_of_canonical_schema() -> None:
    from mcptrace.mcp.inventory import schema_sha256

    schema = {"type": "object", "properties": {"text": {"type": "string"}}}
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    assert schema_sha256(schema) == hashlib.sha256(canonical.encode()).hexdigest()
    assert schema_sha256({"properties": {"text": {"type": "string"}}, "type": "object"}) == (
        schema_sha256(schema)
    )


@pytest.mark.slow
def test_session_start_and_end_carry_the_span_session_id(pair: PairRun) -> None:
    for side, process in (("client", "peer_client"), ("server", "peer_server")):
        starts = [
            e for e in events(pair, "mcptrace.mcp.session.start") if e["mcptrace.mcp.side"] == side
        ]
        ends = [
            e for e in events(pair, "mcptrace.mcp.session.end") if e["mcptrace.mcp.side"] == side
        ]
        assert len(starts) == 1 and len(ends) == 1
        session_id = starts[0]["mcp.session.id"]
        assert ends[0]["mcp.session.id"] == session_id
        assert isinstance(ends[0]["mcptrace.mcp.session.duration_s"], float)
        spans = [
            s
            for s in pair.spans
            if s.resource.get("service.name") == process and s.name == "tools/call echo"
        ]
        assert spans and all(s.attributes["mcp.session.id"] == session_id for s in spans)


@pytest.mark.slow
def test_client_connect_names_the_command(pair: PairRun) -> None:
    (connect,) = events(pair, "mcptrace.mcp.client.connect")
    assert connect["network.transport"] == "pipe"
    assert str(connect["mcptrace.mcp.connect.command"]).endswith("peer_server.py")


@pytest.mark.slow
def test_no_log_record_per_message(pair: PairRun) -> None:
    # the hot path emits no logs: only lifecycle and inventory records
    names = {record.event_name for record in pair.logs if record.scope == "mcptrace.mcp"}
    assert names <= {
        "mcptrace.mcp.server.start",
        "mcptrace.mcp.component.registered",
        "mcptrace.mcp.session.start",
        "mcptrace.mcp.session.end",
        "mcptrace.mcp.client.connect",
    }
