"""mcptrace: OpenTelemetry for MCP servers and clients, and what each tool call actually did.

Zero-code: ``mcptrace run -- python server.py`` (or ``opentelemetry-instrument python
server.py``).  Telemetry goes to OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, else to an
OTLP/JSON-lines spool under ``~/.local/state/mcptrace/spool``; ``mcptrace view`` reads it.
"""

from mcptrace._version import __version__

TYPE_CHECKING = False  # not typing's (nor __future__): imported at every interpreter start
if TYPE_CHECKING:
    from typing import Any

    from mcptrace.policy.violation import PolicyViolation

__all__ = ["PolicyViolation", "__version__"]


def __getattr__(name: str) -> "Any":
    # lazily: importing mcptrace (the CLI does) must not load the OTel SDK
    if name == "PolicyViolation":
        from mcptrace.policy.violation import PolicyViolation

        return PolicyViolation
    raise AttributeError(f"module 'mcptrace' has no attribute {name!r}")
