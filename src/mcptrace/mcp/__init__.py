"""MCP protocol telemetry: spans, propagation, metrics and inventory for mcp 1.x / 2.x."""
