"""mcptrace: OpenTelemetry for MCP servers and clients, and what each tool call actually did.

Zero-code: ``mcptrace run -- python server.py`` (or ``opentelemetry-instrument python
server.py``).  Telemetry goes to OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, else to an
OTLP/JSON-lines spool under ``~/.local/state/mcptrace/spool``; ``mcptrace view`` reads it.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
