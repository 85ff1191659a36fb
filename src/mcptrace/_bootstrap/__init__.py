"""Start-up for processes launched by ``mcptrace run`` (see sitecustomize.py here).

The settings start-up reads straight from the environment live here, not in ``start``:
the launcher (``mcptrace.quickrun``) checks them too before its ``exec``, and every module
it imports is paid by every ``mcptrace run`` — so this package's modules and the
launcher's import nothing beyond ``os`` and ``sys`` (not even ``__future__``).
"""

import os

TYPE_CHECKING = False  # not typing's: imported by the launcher and at every start
if TYPE_CHECKING:
    from collections.abc import Mapping

BOOTSTRAP_DIR = os.path.dirname(os.path.abspath(__file__))

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
# config.SENSOR_CATEGORIES (a test keeps the two equal; config is not imported at start)
SENSOR_CATEGORIES = frozenset({"file", "network", "process", "code", "native", "import"})
# settings that need the full settings (and everything they configure) from the start
_EAGER_SETTINGS = (
    "MCPTRACE_CONFIG",
    "MCPTRACE_POLICY",
    "MCPTRACE_REDACT_KEYS",
    "MCPTRACE_REDACT_PATTERNS",
)


class QuickSettings:
    """What start-up needs, read from the environment without loading ``config``."""

    __slots__ = ("enabled", "max_events", "native", "sensor")

    def __init__(self, enabled: bool, sensor: frozenset[str], max_events: int, native: bool):
        self.enabled = enabled
        self.sensor = sensor
        self.max_events = max_events
        self.native = native


def _bool(raw: str) -> bool | None:
    text = raw.strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def quick_settings(env: "Mapping[str, str]") -> QuickSettings | None:
    """The start-up settings, or None when the full settings must be read now (a config
    file, a policy, redaction settings the sensor must apply from its first record, or a
    value this reader does not accept: ``config`` reports it)."""
    if any(env.get(name) for name in _EAGER_SETTINGS):
        return None
    enabled = _bool(env.get("MCPTRACE_ENABLED", "true"))
    native = _bool(env.get("MCPTRACE_NATIVE_HOOK", "true"))
    if enabled is None or native is None:
        return None
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        enabled = False
    raw = env.get("MCPTRACE_SENSOR")
    sensor = SENSOR_CATEGORIES
    if raw is not None:
        names = {part.strip().lower() for part in raw.split(",") if part.strip()}
        if names == {"all"}:
            sensor = SENSOR_CATEGORIES
        elif names in ({"none"}, set()):
            sensor = frozenset()
        elif names <= SENSOR_CATEGORIES:
            sensor = frozenset(names)
        else:
            return None
    try:
        max_events = int(env.get("MCPTRACE_MAX_EVENTS_PER_SPAN", "32").strip())
    except ValueError:
        return None
    if max_events < 0:
        return None
    return QuickSettings(enabled, sensor, max_events, native)


def state_dir(env: "Mapping[str, str]") -> str:
    """config.default_state_dir(), as a string (a test keeps the two equal)."""
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "mcptrace")
