"""What a producer hands the record stage for one runtime action: plain data, and its severity.

Usage::

    Observation(FILE_OPEN, FILE, {FILE_PATH: "/etc/hosts", FILE_ACCESS: READ}, "open")
"""

from __future__ import annotations

from typing import NamedTuple

from opentelemetry._logs import SeverityNumber
from opentelemetry.util.types import AttributeValue

from mcptrace.record.vocabulary import CODE, NATIVE, PROCESS, TAMPER

_WARN_CATEGORIES = frozenset({PROCESS, CODE, NATIVE, TAMPER})


def severity_of(category: str) -> SeverityNumber:
    """WARN for what can change the process or run foreign code, INFO otherwise."""
    return SeverityNumber.WARN if category in _WARN_CATEGORIES else SeverityNumber.INFO


_DETECTION_SEVERITIES = {
    "info": SeverityNumber.INFO,
    "notice": SeverityNumber.INFO2,
    "warning": SeverityNumber.WARN,
    "error": SeverityNumber.ERROR,
    "critical": SeverityNumber.ERROR2,
}


def detection_severity(severity: object) -> SeverityNumber:
    """A detection's log severity from its rule's severity name (policy/detections.toml)."""
    return _DETECTION_SEVERITIES.get(str(severity), SeverityNumber.WARN)


class Observation(NamedTuple):
    """One translated audit event: plain data only, never a reference to the audited objects."""

    name: str
    category: str
    attributes: dict[str, AttributeValue]
    audit_event: str
