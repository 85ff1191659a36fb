"""Convention switches that need their own run: the configured propagators carry the context
(and only what they carry), mcp.resource.uri reaches the operation metrics on opt-in, and the
HTTP principal (who called) is a keyed hash unless the clear form is asked for."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from mcp_pairs import run_stdio_pair
from test_mcp_versions import VERSIONS, run_version_pair

from support import SPAN_KIND_CLIENT, SPAN_KIND_SERVER

pytestmark = pytest.mark.slow  # each test runs its own client and server


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


@pytest.mark.parametrize("version", [VERSIONS[-1], "2025-06-18"])
def test_http_principal_is_hashed_unless_clear_is_asked_for(tmp_path: Path, version: str) -> None:
    key, user = "k" * 32, "alice@example.com"
    hashed = run_version_pair(
        tmp_path / "hashed", version, "http", user=user,
        MCPTRACE_PRINCIPAL="header:x-user", MCPTRACE_PRINCIPAL_KEY=key,
    )  # fmt: skip
    expected = hmac.new(key.encode(), user.encode(), hashlib.sha256).hexdigest()[:32]
    served = [s for s in hashed.spans if s.resource.get("service.name") == "peer_server"]
    # requests (on mcp 1.x a notification's handler does not see its HTTP request)
    handled = [s for s in served if "jsonrpc.request.id" in s.attributes and s.kind == 2]
    assert handled and all(s.attributes["enduser.pseudo.id"] == expected for s in handled)
    assert all("user.id" not in s.attributes for s in hashed.spans)
    spool_text = "".join(p.read_text() for p in (tmp_path / "hashed").glob("*.jsonl"))
    assert user not in spool_text
    for point in hashed.metrics:  # one series per user would be too many
        assert "enduser.pseudo.id" not in point.attributes
    clear = run_version_pair(
        tmp_path / "clear", version, "http", user=user,
        MCPTRACE_PRINCIPAL="header:x-user", MCPTRACE_PRINCIPAL_CLEAR="true",
    )  # fmt: skip
    echo = clear.server("tools/call echo")
    assert echo.attributes["user.id"] == user and "enduser.pseudo.id" not in echo.attributes
