"""mcp 2.x servers are traced through the SDK's public ``Server.middleware`` list: mcptrace's
middleware takes the place of the SDK's tracing middleware (never both), and no patch touches
an underscore-private method on the server side."""

from __future__ import annotations

import pytest

from mcptrace.mcp.instrumentor import McpInstrumentor, mcp_major

pytestmark = pytest.mark.skipif(mcp_major() != 2, reason="mcp 2.x only")


def _kinds(server: object) -> list[str]:
    return [type(entry).__name__ for entry in server.middleware]  # type: ignore[attr-defined]


def test_tracing_middleware_replaces_the_sdks_and_uninstrument_restores_it() -> None:
    from mcp.server.lowlevel.server import Server
    from mcp.server.mcpserver import MCPServer

    plain = Server("plain")
    assert _kinds(plain)[0] == "OpenTelemetryMiddleware"
    instrumentor = McpInstrumentor()
    instrumentor.instrument()
    try:
        lowlevel = Server("lowlevel")
        high = MCPServer("high")._lowlevel_server
        for server in (lowlevel, high):
            kinds = _kinds(server)
            assert kinds[0] == "TracingMiddleware", kinds
            assert "OpenTelemetryMiddleware" not in kinds
            assert kinds.count("TracingMiddleware") == 1
        assert _kinds(plain)[0] == "OpenTelemetryMiddleware"  # made before: left alone
    finally:
        instrumentor.uninstrument()
    assert _kinds(lowlevel)[0] == "OpenTelemetryMiddleware"
    assert "TracingMiddleware" not in _kinds(high)


def test_no_server_side_patch_of_a_private_sdk_method() -> None:
    from mcptrace.mcp.v2 import V2_PATCHES

    server_side = [(module, dotted) for module, dotted, _ in V2_PATCHES if ".server" in module]
    assert ("mcp.server.lowlevel.server", "Server.__init__") in server_side
    for module, dotted in server_side:
        for part in dotted.split("."):
            private = part.startswith("_") and not (part.startswith("__") and part.endswith("__"))
            assert not private, f"{module}.{dotted}"
