"""Each example in examples/ runs with its one README command under ``mcptrace run`` and
produces the trace the README promises."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mcptrace.export.spool_reader import SpanRecord
from support import (
    EXAMPLES,
    PYTHON,
    SPAN_KIND_CLIENT,
    SPAN_KIND_INTERNAL,
    SPAN_KIND_SERVER,
    clean_env,
    mcptrace_cmd,
    run_under_mcptrace,
    spans,
)


def example(name: str, *args: str) -> list[str]:
    return [PYTHON, str(EXAMPLES / name), *args]


def by_id(records: list[SpanRecord]) -> dict[str, SpanRecord]:
    return {record.span_id: record for record in records}


def tool_span(records: list[SpanRecord], tool: str, kind: int) -> SpanRecord:
    found = [r for r in records if r.name == f"tools/call {tool}" and r.kind == kind]
    assert len(found) == 1, [(r.name, r.kind) for r in records]
    return found[0]


def events(record: SpanRecord, name: str) -> list[dict[str, object]]:
    return [event.attributes for event in record.events if event.name == name]


def assert_server_is_child_of_client(records: list[SpanRecord], tool: str) -> None:
    client = tool_span(records, tool, SPAN_KIND_CLIENT)
    server = tool_span(records, tool, SPAN_KIND_SERVER)
    assert server.trace_id == client.trace_id
    assert server.parent_span_id == client.span_id


@pytest.mark.slow
def test_plain_client_and_server_over_stdio(spool: Path) -> None:
    result = run_under_mcptrace(example("client.py"), spool)
    assert "ping ok" in result.stdout
    records = spans(spool)
    for tool in ("echo", "add", "word_count", "fail"):
        assert {r.kind for r in records if r.name == f"tools/call {tool}"} >= {
            SPAN_KIND_CLIENT,
            SPAN_KIND_SERVER,
        }
    assert_server_is_child_of_client(records, "word_count")
    server = tool_span(records, "word_count", SPAN_KIND_SERVER)
    assert server.attributes["network.transport"] == "pipe"
    opened = events(server, "mcptrace.file.open")
    assert [e["mcptrace.file.access"] for e in opened] == ["read"]
    assert str(opened[0]["file.path"]).endswith(".txt")
    assert tool_span(records, "fail", SPAN_KIND_SERVER).attributes["error.type"] == "tool_error"


@pytest.mark.slow
def test_suspicious_tools_show_their_hidden_actions(spool: Path) -> None:
    result = run_under_mcptrace(example("suspicious_client.py"), spool)
    # the answers look innocent ...
    assert "summarize_notes -> 'Ship the release on Friday. (9 words)'" in result.stdout
    assert "fetch_weather -> 'Lisbon: 21°C, clear sky'" in result.stdout
    records = spans(spool)
    for tool in ("summarize_notes", "fetch_weather", "format_code"):
        assert_server_is_child_of_client(records, tool)

    # ... the trace does not: a private key read,
    summarize = tool_span(records, "summarize_notes", SPAN_KIND_SERVER)
    reads = events(summarize, "mcptrace.file.open")
    assert len(reads) == 1
    assert str(reads[0]["file.path"]).endswith("/.ssh/id_ed25519")
    assert reads[0]["mcptrace.file.access"] == "read"
    assert reads[0]["mcptrace.attribution"] == "context"
    # a TCP connection,
    weather = tool_span(records, "fetch_weather", SPAN_KIND_SERVER)
    connects = events(weather, "mcptrace.network.connect")
    assert len(connects) == 1
    assert connects[0]["server.address"] == "127.0.0.1"
    assert isinstance(connects[0]["server.port"], int) and connects[0]["server.port"] > 0
    # a spawned shell,
    formatter = tool_span(records, "format_code", SPAN_KIND_SERVER)
    spawns = events(formatter, "mcptrace.process.spawn")
    assert len(spawns) == 1
    assert spawns[0]["process.executable.path"] == "/bin/sh"
    assert spawns[0]["process.command_args"] == ["/bin/sh", "-c", "uname -a; id"]
    # and each action only on the tool that did it
    assert not events(summarize, "mcptrace.network.connect")
    assert not events(summarize, "mcptrace.process.spawn")
    assert not events(weather, "mcptrace.file.open")
    assert not events(weather, "mcptrace.process.spawn")
    assert not events(formatter, "mcptrace.network.connect")
    assert summarize.attributes["mcptrace.events.file.count"] == 1
    assert weather.attributes["mcptrace.events.network.count"] >= 1
    assert formatter.attributes["mcptrace.events.process.count"] == 1

    # and `mcptrace view`, the README's next command, lists them under their tool calls
    view = subprocess.run(
        mcptrace_cmd("view", str(spool), "--tool", "*"),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for tool in ("summarize_notes", "fetch_weather", "format_code"):
        assert f"tools/call {tool}" in view
    assert "/.ssh/id_ed25519" in view
    assert f"127.0.0.1:{connects[0]['server.port']}" in view
    assert "uname -a; id" in view


@pytest.mark.slow
def test_http_pair_in_one_command(spool: Path) -> None:
    result = run_under_mcptrace(example("http_client.py"), spool)
    assert "ping ok" in result.stdout
    records = spans(spool)
    mcp_spans = [r for r in records if r.kind in (SPAN_KIND_CLIENT, SPAN_KIND_SERVER)]
    calls = [r for r in mcp_spans if r.name.startswith("tools/call ")]
    assert {r.kind for r in calls} == {SPAN_KIND_CLIENT, SPAN_KIND_SERVER}
    assert {r.attributes.get("network.transport") for r in mcp_spans} == {"tcp"}
    for tool in ("echo", "add", "word_count"):
        assert len([r for r in calls if r.name == f"tools/call {tool}"]) == (
            6 if tool == "echo" else 2
        )
    assert_server_is_child_of_client(records, "word_count")
    server = tool_span(records, "word_count", SPAN_KIND_SERVER)
    assert [e["mcptrace.file.access"] for e in events(server, "mcptrace.file.open")] == ["read"]


def ancestors(record: SpanRecord, index: dict[str, SpanRecord]) -> list[str]:
    names = []
    while record.parent_span_id in index:
        record = index[record.parent_span_id]
        names.append(record.name)
    return names


@pytest.mark.slow
def test_agent_spans_parent_the_mcp_client_spans(spool: Path) -> None:
    result = run_under_mcptrace(example("agent_app.py"), spool)
    assert "add -> 42" in result.stdout
    records = spans(spool)
    index = by_id(records)
    (run,) = [r for r in records if r.name == "agent.run"]
    (plan,) = [r for r in records if r.name == "agent.plan"]
    acts = [r for r in records if r.name == "agent.act"]
    assert run.kind == plan.kind == SPAN_KIND_INTERNAL
    assert run.parent_span_id == "" and run.attributes["gen_ai.agent.name"] == "notes-agent"
    assert plan.parent_span_id == run.span_id
    assert plan.attributes["agent.plan.steps"] == ["word_count", "add"]
    assert [a.attributes["gen_ai.tool.name"] for a in acts] == ["word_count", "add"]
    assert all(a.parent_span_id == run.span_id for a in acts)

    # one trace: agent → MCP client → MCP server (→ the tool's file read)
    mcp_spans = [r for r in records if r.kind in (SPAN_KIND_CLIENT, SPAN_KIND_SERVER)]
    assert mcp_spans and {r.trace_id for r in mcp_spans} == {run.trace_id}
    (listing,) = [r for r in records if r.name == "tools/list" and r.kind == SPAN_KIND_CLIENT]
    assert listing.parent_span_id == plan.span_id
    for act in acts:
        tool = act.attributes["gen_ai.tool.name"]
        client = tool_span(records, str(tool), SPAN_KIND_CLIENT)
        server = tool_span(records, str(tool), SPAN_KIND_SERVER)
        assert client.parent_span_id == act.span_id
        assert ancestors(server, index) == [client.name, "agent.act", "agent.run"]
    counted = tool_span(records, "word_count", SPAN_KIND_SERVER)
    assert len(events(counted, "mcptrace.file.open")) == 1
