"""What a producer hands the record stage for one runtime action: plain data, and its severity.

Usage::

    Observation(FILE_OPEN, FILE, {FILE_PATH: "/etc/hosts", FILE_ACCESS: READ}, "open")
"""

from __future__ import annotations

from _operator import itemgetter

from mcptrace.record.vocabulary import CODE, NATIVE, PROCESS, TAMPER

# Observations are made from interpreter start, before (and often without) OpenTelemetry,
# and without the typing module (importing it costs more than the rest of the start-up).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    from opentelemetry._logs import SeverityNumber
    from opentelemetry.util.types import AttributeValue

_WARN_CATEGORIES = frozenset({PROCESS, CODE, NATIVE, TAMPER})


def severity_of(category: str) -> SeverityNumber:
    """WARN for what can change the process or run foreign code, INFO otherwise."""
    from opentelemetry._logs import SeverityNumber

    return SeverityNumber.WARN if category in _WARN_CATEGORIES else SeverityNumber.INFO


_DETECTION_SEVERITIES = {
    "info": "INFO",
    "notice": "INFO2",
    "warning": "WARN",
    "error": "ERROR",
    "critical": "ERROR2",
}


def detection_severity(severity: object) -> SeverityNumber:
    """A detection's log severity from its rule's severity name (policy/detections.toml)."""
    from opentelemetry._logs import SeverityNumber

    return SeverityNumber[_DETECTION_SEVERITIES.get(str(severity), "WARN")]


if TYPE_CHECKING:

    class Observation(NamedTuple):
        """One translated audit event: plain data only, never a reference to the audited
        objects."""

        name: str
        category: str
        attributes: dict[str, AttributeValue]
        audit_event: str

else:

    class Observation(tuple):
        """One translated audit event: plain data only, never a reference to the audited
        objects.  (What ``typing.NamedTuple`` would build, without importing typing.)"""

        __slots__ = ()
        _fields = ("name", "category", "attributes", "audit_event")

        def __new__(cls, name: str, category: str, attributes: dict, audit_event: str):
            return tuple.__new__(cls, (name, category, attributes, audit_event))

        def __repr__(self) -> str:
            name, category, attributes, audit_event = self
            return (
                f"Observation(name={name!r}, category={category!r}, "
                f"attributes={attributes!r}, audit_event={audit_event!r})"
            )

        def __getnewargs__(self) -> tuple[Any, ...]:
            return tuple(self)

        def _replace(self, **changes: Any) -> Observation:
            values = dict(zip(self._fields, self, strict=True))
            values.update(changes)
            return Observation(**values)

        name = property(itemgetter(0))
        category = property(itemgetter(1))
        attributes = property(itemgetter(2))
        audit_event = property(itemgetter(3))
