"""Opt-in capture of tool arguments and results, redacted, then truncated.

Usage::

    if capture_enabled():
        span.set_attribute(GEN_AI_TOOL_CALL_ARGUMENTS, to_captured_json(arguments))

Semconv marks ``gen_ai.tool.call.arguments`` / ``.result`` as sensitive, so nothing is
recorded unless ``MCPTRACE_CAPTURE_ARGUMENTS=true``.  What counts as a secret is decided by
``mcptrace.record.redact`` (the same rules as every other channel); truncation happens
last, on the JSON text, so a cut can never reveal what redaction removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from mcptrace.activation import current_settings
from mcptrace.record.redact import redact_data, truncate


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(by_alias=True, mode="json", exclude_none=True)
        except Exception:
            return str(value)
    return value


def to_captured_json(
    value: Any, *, extra_keys: Iterable[str] | None = None, max_bytes: int | None = None
) -> str:
    """Redacted, truncated JSON text of ``value`` (pydantic models are dumped first)."""
    settings = current_settings()
    keys = settings.redact_keys if extra_keys is None else tuple(extra_keys)
    limit = settings.capture_max_bytes if max_bytes is None else max_bytes
    text = json.dumps(redact_data(_plain(value), keys), ensure_ascii=False, default=str)
    return truncate(text, limit)


def capture_enabled() -> bool:
    settings = current_settings()
    return settings.capture_arguments and settings.part_enabled("capture")
