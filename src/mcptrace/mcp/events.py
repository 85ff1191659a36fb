"""Emit mcptrace's MCP log records (sessions, inventory): one small function, never raises.

Usage::

    emit_event(EVENT_SESSION_START, {MCP_SESSION_ID: "..."}, body="session started")

These are rare (per session, per registration), never per message: a log emit costs ~13 µs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber, get_logger

from mcptrace.mcp.semconv import SCOPE_VERSION
from mcptrace.record.vocabulary import MCPTRACE_SCOPE

_logger = get_logger(MCPTRACE_SCOPE, SCOPE_VERSION)


def emit_event(
    name: str,
    attributes: Mapping[str, Any],
    body: str | None = None,
    severity: SeverityNumber = SeverityNumber.INFO,
) -> None:
    try:
        clean = {key: value for key, value in attributes.items() if value is not None}
        _logger.emit(
            LogRecord(
                timestamp=time.time_ns(),
                severity_number=severity,
                severity_text=severity.name,
                body=body or name,
                attributes=clean,
                event_name=name,
            )
        )
    except Exception:  # telemetry must never cost the program
        pass
