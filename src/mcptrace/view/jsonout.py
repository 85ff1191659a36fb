"""``mcptrace view --json``: the model as one JSON document, schema ``mcptrace.view/1``.

The schema is a contract for scripts; fields are only ever added within version 1::

    {
      "schema": "mcptrace.view/1",
      "spool": "/path/to/spool",
      "read": {"files": int, "lines": int, "malformed": int, "spans": int},
      "limit": int,                  # most recent requests shown in detail; 0 = all
      "filters": {"tool": str|null, "categories": [str], "since": ISO|null, "trace": str|null},
      "summary": {
        "requests": int, "tool_calls": int, "tool_errors": int, "error_rate": float,
        "p95_duration_ms": float|null,
        "tools": [{"name": str, "calls": int, "errors": int, "p95_duration_ms": float|null}],
        "hosts_contacted": [str], "files_written": [str], "processes_spawned": [str],
        "module_mismatches": [str],
        "violations": [{"rule": str, "action": "observed"|"blocked", "count": int}],
        "detections": [{"severity": str, "rule": str, "finding": str, "tool": str, "count": int}],
        "clients": [{"client": str|null, "requests": int, "tool_calls": int, "errors": int}],
        "events": {category: int}, "dropped": int
      },
      "sessions": [{
        "key": str, "session_ids": [str], "services": [str], "clients": [str],
        "transport": str|null,
        "start": ISO, "end": ISO, "requests": int, "errors": int,
        "requests_not_shown": int,   # beyond --limit (the most recent requests are shown)
        "calls": [CALL]
      }],
      "outside": [{"service": str, "activity": ACTIVITY}]
    }

    CALL = {"name": str, "method": str, "tool": str|null, "trace_id": str,
            "request_id": str|null, "start": ISO, "start_unix_nano": int,
            "duration_ms": float, "status": "ok"|"error", "error_type": str|null,
            "error_message": str, "transport": str|null,
            "client": SIDE|null, "server": SIDE|null, "activity": ACTIVITY}
    SIDE = {"span_id": str, "session_id": str|null, "service": str, "duration_ms": float}
    ACTIVITY = {"counts": {category: int}, "dropped": int,
                "items": [{"category": str, "action": str, "target": str, "count": int,
                           "flagged": bool, "library"?: str}],  # library: made by library
                                                 # machinery for the tool ("ast via mcp")
                "items_omitted": {category: int}}

Categories: detection, file, network, process, code, native, import, policy, tamper. ISO times
are UTC with millisecond precision. ``--follow --json`` writes one CALL per line (with an added
``"session"`` key) as requests complete.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mcptrace.view.model import CATEGORIES, Call, Filters, Model, Session, iso

SCHEMA = "mcptrace.view/1"


def call_dict(call: Call, categories: Iterable[str] = CATEGORIES) -> dict[str, Any]:
    return {
        "name": call.name,
        "method": call.method,
        "tool": call.tool,
        "trace_id": call.trace_id,
        "request_id": call.request_id,
        "start": iso(call.start_ns),
        "start_unix_nano": call.start_ns,
        "duration_ms": round(call.duration_ms, 3),
        "status": "error" if call.failed else "ok",
        "error_type": call.error_type,
        "error_message": call.error_message,
        "transport": call.transport,
        "client": call.client.as_dict() if call.client else None,
        "server": call.server.as_dict() if call.server else None,
        "activity": call.activity.as_dict(categories),
    }


def session_dict(session: Session, categories: Iterable[str] = CATEGORIES) -> dict[str, Any]:
    wanted = tuple(categories)
    return {
        "key": session.key,
        "session_ids": session.session_ids,
        "services": session.services,
        "clients": session.clients,
        "transport": session.transport,
        "start": iso(session.start_ns),
        "end": iso(session.end_ns),
        "requests": session.requests,
        "errors": session.errors,
        "requests_not_shown": session.not_shown,
        "calls": [call_dict(c, wanted) for c in session.calls],
    }


def model_dict(model: Model, filters: Filters) -> dict[str, Any]:
    wanted = tuple(c for c in CATEGORIES if not filters.categories or c in filters.categories)
    return {
        "schema": SCHEMA,
        "spool": str(model.spool),
        "read": {
            "files": model.stats.files,
            "lines": model.stats.lines,
            "malformed": model.stats.malformed,
            "not_plain_files": model.stats.not_plain_files,
            "spans": model.spans_read,
        },
        "limit": model.limit,
        "filters": {
            "tool": filters.tool,
            "categories": sorted(filters.categories),
            "since": iso(filters.since_ns) if filters.since_ns is not None else None,
            "trace": filters.trace,
        },
        "summary": model.summary.as_dict(),
        "sessions": [session_dict(s, wanted) for s in model.sessions],
        "outside": [
            {"service": o.service, "activity": o.activity.as_dict(wanted)} for o in model.outside
        ],
    }
