"""Opt-in capture of tool arguments and results, redacted, then truncated.

Usage::

    if capture_enabled():
        span.set_attribute(GEN_AI_TOOL_CALL_ARGUMENTS, to_captured_json(arguments))

Semconv marks ``gen_ai.tool.call.arguments`` / ``.result`` as sensitive, so nothing is
recorded unless ``MCPTRACE_CAPTURE_ARGUMENTS=true``.  Redaction works on structure first
(a key that names a secret hides its whole value, at any depth) and on shape second (a string
that looks like a bearer token, an AWS access key, an ``sk-...`` API key or a JWT is replaced
wherever it appears, even inside a longer string).  Truncation happens last, on the JSON text,
so a cut can never reveal what redaction removed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from mcptrace.activation import current_settings

REDACTED = "[REDACTED]"
TRUNCATION_MARK = "...[truncated]"

# Substrings of key names whose values are secrets (compared lower-case, without - and _).
SECRET_KEY_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "authorization",
    "apikey",
    "accesskey",
    "privatekey",
    "credential",
    "cookie",
    "signature",
)

_SECRET_VALUE = re.compile(
    r"(?i:bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}"  # Authorization header values
    r"|\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{16}\b"  # AWS access key ids
    r"|\b(?:sk|rk|pk)[-_](?:live[-_]|test[-_]|proj[-_]|ant[-_])?[A-Za-z0-9_-]{12,}"  # sk-... keys
    r"|\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"  # JWTs
    r"|\b(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{20,}"  # GitHub tokens
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"  # AWS secret access keys
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
)
_AWS_SECRET_SHAPE = re.compile(r"[A-Za-z0-9/+]{40}")
_MAX_DEPTH = 32


def _normalise(key: str) -> str:
    return key.lower().replace("-", "").replace("_", "")


def is_secret_key(key: str, extra_keys: Iterable[str] = ()) -> bool:
    name = _normalise(key)
    if any(part in name for part in SECRET_KEY_PARTS):
        return True
    return any(_normalise(extra) in name for extra in extra_keys if extra)


def _redact_string(value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        # 40 base64-ish characters is only an AWS secret when it mixes cases and digits;
        # plain words, hex digests and paths of that length stay.
        if _AWS_SECRET_SHAPE.fullmatch(text) and not (
            any(c.isupper() for c in text)
            and any(c.islower() for c in text)
            and any(c.isdigit() for c in text)
        ):
            return text
        return REDACTED

    return _SECRET_VALUE.sub(replace, value)


def redact(value: Any, extra_keys: Iterable[str] = (), _depth: int = 0) -> Any:
    """A copy of ``value`` (JSON-like data) with secrets replaced by ``[REDACTED]``."""
    if _depth > _MAX_DEPTH:
        return REDACTED
    if isinstance(value, str):
        return _redact_string(value)
    if isinstance(value, Mapping):
        extras = tuple(extra_keys)
        return {
            str(key): (
                REDACTED
                if is_secret_key(str(key), extras) and value[key] not in (None, "")
                else redact(value[key], extras, _depth + 1)
            )
            for key in value
        }
    if isinstance(value, (list, tuple)):
        extras = tuple(extra_keys)
        return [redact(item, extras, _depth + 1) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _redact_string(str(value))


def truncate(text: str, max_bytes: int) -> str:
    """Cut ``text`` to at most ``max_bytes`` UTF-8 bytes (mark included), never mid-character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    room = max(0, max_bytes - len(TRUNCATION_MARK))
    return encoded[:room].decode("utf-8", errors="ignore") + TRUNCATION_MARK


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
    text = json.dumps(redact(_plain(value), keys), ensure_ascii=False, default=str)
    return truncate(text, limit)


def capture_enabled() -> bool:
    settings = current_settings()
    return settings.capture_arguments and settings.part_enabled("capture")


def redact_command_args(args: Iterable[str]) -> list[str]:
    """Command-line arguments with secret-looking values (and values of --token=... style
    options, and the argument after a secret-named option) replaced."""
    out: list[str] = []
    hide_next = False
    for arg in args:
        text = str(arg)
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        if text.startswith("-") and "=" in text:
            key, _, _ = text.partition("=")
            if is_secret_key(key.lstrip("-")):
                out.append(f"{key}={REDACTED}")
                continue
        elif text.startswith("-") and is_secret_key(text.lstrip("-")):
            hide_next = True
        out.append(_redact_string(text))
    return out
