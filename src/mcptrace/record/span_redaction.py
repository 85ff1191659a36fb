"""The last redaction step for finished spans, whoever wrote them.

Usage::

    register_finisher(redact_span)     # export.enrich runs it on every span before export

mcptrace redacts what it records where it records it; other tracers in the process do not.
The mcp 2.x SDK puts the peer's error message in its client span's status
(``Unknown resource: https://u:p@host/...``) and records exceptions with their text, and
fastmcp sets ``mcp.resource.uri`` itself.  This step passes the status message, exception
events and the user-data attributes of spans that mcptrace did not make through the one
redaction module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.semconv.attributes.exception_attributes import (
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
)
from opentelemetry.trace import Status

from mcptrace.record.redact import redact_text
from mcptrace.record.vocabulary import (
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_RESULT,
    MCP_RESOURCE_URI,
    MCPTRACE_SCOPE,
    PROCESS_COMMAND_ARGS,
    PROCESS_COMMAND_LINE,
    URL_FULL,
)

# Attributes other tracers set from user data (semconv names; http.* are the old ones).
USER_DATA_ATTRIBUTES = (
    MCP_RESOURCE_URI,
    URL_FULL,
    "url.query",
    "http.url",
    "http.target",
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_RESULT,
    PROCESS_COMMAND_ARGS,
    PROCESS_COMMAND_LINE,
)
_USER_DATA_SET = frozenset(USER_DATA_ATTRIBUTES)


def _redacted_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, (list, tuple)):
        return type(value)(redact_text(v) if isinstance(v, str) else v for v in value)
    return value


def _redacted_events(events: Sequence[Event]) -> Sequence[Event] | None:
    changed = False
    result: list[Event] = []
    for event in events:
        attributes = event.attributes
        if event.name == "exception" and attributes:
            new = dict(attributes)
            for key in (EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE):
                if isinstance(new.get(key), str):
                    new[key] = redact_text(str(new[key]))
            if new != dict(attributes):
                event = Event(event.name, new, event.timestamp)
                changed = True
        result.append(event)
    return result if changed else None


def _attribute_dict(span: ReadableSpan) -> Mapping[str, Any]:
    """The attributes of an ended span as the plain dict the SDK keeps them in, when it does.

    ``ReadableSpan.attributes`` is a new read-only view on every access, over the SDK's
    ``BoundedAttributes`` whose ``get`` goes through the ``Mapping`` mixin (a ``KeyError``
    raised and caught for each absent key): nine lookups of mostly absent keys per span."""
    held = getattr(span, "_attributes", None)
    inner = getattr(held, "_dict", held)
    if type(inner) is dict:
        return inner
    return span.attributes or {}


def redact_span(span: ReadableSpan) -> ReadableSpan:
    """``span``, or a copy with its status message, exception events and (for spans of
    other tracers) user-data attributes redacted."""
    if type(span) is ReadableSpan:  # its fields, as its properties give them (no copies)
        status, events, scope = span._status, span._events, span._instrumentation_scope
    else:
        status, events, scope = span.status, span.events, span.instrumentation_scope
    description = status.description
    new_status = None
    if description:
        redacted = redact_text(description)
        if redacted != description:
            new_status = Status(status.status_code, redacted)
    new_events = _redacted_events(tuple(events)) if events else None
    new_attributes = None
    if scope is None or scope.name != MCPTRACE_SCOPE:
        attributes = _attribute_dict(span)
        # most spans carry none of them: one check in C before nine lookups
        if attributes and not _USER_DATA_SET.isdisjoint(attributes.keys()):
            for key in USER_DATA_ATTRIBUTES:
                value = attributes.get(key)
                if value is None:
                    continue
                redacted_value = _redacted_value(value)
                if redacted_value != value:
                    new_attributes = new_attributes or dict(attributes)
                    new_attributes[key] = redacted_value
    if new_status is None and new_events is None and new_attributes is None:
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=new_attributes if new_attributes is not None else span.attributes,
        events=new_events if new_events is not None else span.events,
        links=span.links,
        kind=span.kind,
        status=new_status or status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=scope,
    )
