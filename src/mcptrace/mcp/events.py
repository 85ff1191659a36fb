"""Emit mcptrace's MCP log records (sessions, inventory, pinning): one small function, never raises.

Usage::

    emit_event(EVENT_SESSION_START, {MCP_SESSION_ID: "..."}, body="session started")

These are rare (per session, per registration), never per message.  They are handed to the
record stage's one log pump (``record.recorder.emit_log``), which emits them on its thread
with the context they were made in; without a pump (sensor off) they are emitted at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry._logs import SeverityNumber

from mcptrace.mcp.semconv import SCOPE_VERSION
from mcptrace.record.recorder import emit_log
from mcptrace.record.vocabulary import MCPTRACE_SCOPE


def emit_event(
    name: str,
    attributes: Mapping[str, Any],
    body: str | None = None,
    severity: SeverityNumber = SeverityNumber.INFO,
) -> None:
    try:
        clean = {key: value for key, value in attributes.items() if value is not None}
        emit_log(MCPTRACE_SCOPE, SCOPE_VERSION, name, clean, body or name, int(severity.value))
    except Exception:  # telemetry must never cost the program
        pass
