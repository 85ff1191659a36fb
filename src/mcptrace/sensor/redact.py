"""Redaction of secrets in command lines and URLs before they become attributes.

Usage::

    redact_argv(["curl", "--token", "abc", "https://u:p@host/x?key=1"])
    # ['curl', '--token', '[REDACTED]', 'https://host/x']
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

REDACTED = "[REDACTED]"
MAX_ARGS = 64
MAX_ARG_CHARS = 512

_SECRET_NAME = (
    r"(?:pass(?:word|wd)?|pwd|token|secret|api[-_]?key|access[-_]?key|auth(?:orization)?"
    r"|credentials?|private[-_]?key|session[-_]?key)"
)
# --password=x, -password=x, PASSWORD=x, password:x
_ASSIGNED = re.compile(rf"(?i)^(-{{0,2}}[\w.-]*{_SECRET_NAME}[\w.-]*[=:])(.+)$")
# --password x  (the value is the next argument)
_FLAG = re.compile(rf"(?i)^-{{1,2}}[\w.-]*{_SECRET_NAME}[\w.-]*$")
# values that look like credentials whatever their position
_SECRET_VALUE = re.compile(
    r"^(?:"
    r"(?:Bearer|Basic|Token)\s+\S+"
    r"|(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|AKIA[0-9A-Z]{16}"
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+"
    r")$"
)
_URL_WITH_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+(?::[^/\s@]*)?@")
_SHELL_ASSIGNED = re.compile(rf"(?i)((?:^|\s)-{{0,2}}[\w.-]*{_SECRET_NAME}[\w.-]*[=:])(\S+)")
_SHELL_FLAG = re.compile(rf"(?i)((?:^|\s)-{{1,2}}[\w.-]*{_SECRET_NAME}[\w.-]*\s+)([^\s-]\S*)")


def redact_arg(arg: str) -> str:
    if len(arg) > MAX_ARG_CHARS:
        arg = arg[:MAX_ARG_CHARS] + "…"
    if _SECRET_VALUE.match(arg):
        return REDACTED
    assigned = _ASSIGNED.match(arg)
    if assigned:
        return assigned.group(1) + REDACTED
    if "://" in arg:
        return _URL_WITH_CREDENTIALS.sub(r"\1", arg)
    return arg


def redact_argv(argv: Iterable[str]) -> list[str]:
    """Arguments with secret values replaced; at most ``MAX_ARGS`` kept."""
    result: list[str] = []
    secret_follows = False
    for index, arg in enumerate(argv):
        if index >= MAX_ARGS:
            result.append(f"… ({index}+ arguments)")
            break
        if secret_follows:
            result.append(REDACTED)
            secret_follows = False
            continue
        secret_follows = bool(_FLAG.match(arg))
        result.append(redact_arg(arg))
    return result


def redact_command_line(command: str) -> str:
    """A shell command line with ``--token x`` / ``PASSWORD=x`` / URL credentials removed."""
    if len(command) > MAX_ARG_CHARS * 4:
        command = command[: MAX_ARG_CHARS * 4] + "…"
    command = _URL_WITH_CREDENTIALS.sub(r"\1", command)
    command = _SHELL_ASSIGNED.sub(lambda m: m.group(1) + REDACTED, command)
    command = _SHELL_FLAG.sub(lambda m: m.group(1) + REDACTED, command)
    return " ".join(REDACTED if _SECRET_VALUE.match(word) else word for word in command.split(" "))


def strip_url(url: str) -> str:
    """``scheme://host[:port]/path`` — no credentials, no query, no fragment."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port is not None:
            netloc = f"{netloc}:{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return url.split("?", 1)[0].split("#", 1)[0]
