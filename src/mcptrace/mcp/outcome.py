"""How a message ended, written onto its span the way semconv asks (both mcp majors).

Usage::

    record_rpc_error(span, -32602, "Unknown resource")   # error.type + rpc.response.status_code
    record_exception(span, exc)                          # error.type = exception type
    record_tool_result(span, result)                     # tool_error for isError results
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

from opentelemetry.semconv.attributes.exception_attributes import (
    EXCEPTION_ESCAPED,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
)
from opentelemetry.trace import Span, StatusCode

from mcptrace.mcp.capture import capture_enabled, to_captured_json
from mcptrace.record.lookup import attribute
from mcptrace.record.redact import redact_text
from mcptrace.record.vocabulary import (
    ERROR_TYPE,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_RESULT,
    RPC_RESPONSE_STATUS_CODE,
    TOOL_ERROR,
)


def record_rpc_error(span: Span, code: Any, message: str | None) -> None:
    text = str(code)
    span.set_attributes({ERROR_TYPE: text, RPC_RESPONSE_STATUS_CODE: text})
    span.set_status(StatusCode.ERROR, redact_text(message) if message else message)


def _exception_event(span: Span, error: BaseException) -> None:
    """``span.record_exception`` with the message and stack trace redacted (an exception's
    text often quotes the command, URL or value that failed)."""
    stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    module, name = type(error).__module__, type(error).__qualname__
    span.add_event(
        "exception",
        {
            EXCEPTION_TYPE: f"{module}.{name}" if module and module != "builtins" else name,
            EXCEPTION_MESSAGE: redact_text(str(error)),
            EXCEPTION_STACKTRACE: redact_text(stack),
            EXCEPTION_ESCAPED: "False",
        },
    )


def record_exception(span: Span, error: BaseException) -> None:
    data = getattr(error, "error", None)  # McpError / MCPError carry the wire ErrorData
    code = getattr(data, "code", None)
    if code is not None:
        record_rpc_error(span, code, getattr(data, "message", None))
        return
    span.set_attribute(ERROR_TYPE, type(error).__qualname__)
    _exception_event(span, error)
    span.set_status(StatusCode.ERROR, redact_text(str(error)))


def tool_result_is_error(result: Any) -> bool:
    if isinstance(result, Mapping):
        return result.get("isError") is True
    root = attribute(result, "root", result)  # 1.x ServerResult wraps the result
    return attribute(root, "isError") is True or attribute(root, "is_error") is True


def record_tool_result(span: Span, result: Any) -> None:
    """tool_error for an isError result; the (redacted) result when capture is on."""
    if tool_result_is_error(result):
        span.set_attribute(ERROR_TYPE, TOOL_ERROR)
        span.set_status(StatusCode.ERROR)
    if capture_enabled():
        root = attribute(result, "root", result)
        span.set_attribute(GEN_AI_TOOL_CALL_RESULT, to_captured_json(root))


def capture_arguments(span: Span, arguments: Any) -> None:
    if capture_enabled():
        span.set_attribute(GEN_AI_TOOL_CALL_ARGUMENTS, to_captured_json(arguments or {}))
