"""Convention switches that need their own run: the configured propagators carry the context
(and only what they carry), and mcp.resource.uri reaches the operation metrics on opt-in."""

from __future__ import annotations

from pathlib import Path

from mcp_pairs import run_stdio_pair

from support import SPAN_KIND_CLIENT, SPAN_KIND_SERVER


def test_context_travels_with_the_configured_propagators_only(tmp_path: Path) -> None:
    # tracecontext without baggage: the trace still joins, the caller's baggage stays home
    pair = run_stdio_pair(tmp_path / "spool", env={"OTEL_PROPAGATORS": "tracecontext"})
    for name in ("tools/call whoami", "notifications/initialized", "roots/list"):
        (client,) = pair.named(name, SPAN_KIND_CLIENT)
        (server,) = pair.named(name, SPAN_KIND_SERVER)
        assert server.parent_span_id == client.span_id, name
    assert pair.result["whoami"]["baggage"] == {}
    assert pair.result["whoami"]["span_id"] == pair.server("tools/call whoami").span_id


def test_resource_uri_on_operation_metrics_only_on_opt_in(tmp_path: Path) -> None:
    pair = run_stdio_pair(tmp_path / "spool", env={"MCPTRACE_METRICS_RESOURCE_URI": "true"})
    reads = [p for p in pair.metrics if p.attributes.get("mcp.method.name") == "resources/read"]
    assert {p.attributes.get("mcp.resource.uri") for p in reads} == {
        "test://greeting",
        "test://missing",
    }
