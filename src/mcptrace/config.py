"""One Settings object from ``MCPTRACE_*`` / ``OTEL_*`` variables and an optional TOML file.

Usage::

    settings = load_settings()                 # raises ConfigError on the first bad value
    settings, errors = load_settings_lenient() # never raises; broken parts come back disabled
    print(settings.spool_dir, settings.exporter_for("traces"))

Precedence: environment (``mcptrace run`` options are written there) over the TOML file
(``MCPTRACE_CONFIG`` or ``--config``) over defaults.  TOML keys are the environment names
lower-cased without the ``MCPTRACE_`` prefix.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

Signal = Literal["traces", "logs", "metrics"]
SIGNALS: tuple[Signal, ...] = ("traces", "logs", "metrics")

SENSOR_CATEGORIES = frozenset({"file", "network", "process", "code", "native", "import"})
SPOOL_EXPORTER = "mcptrace_spool"
PROTOCOLS = ("grpc", "http/protobuf", "http/json")
_OTLP_BY_NAME = {"otlp_proto_grpc": "grpc", "otlp_proto_http": "http/protobuf"}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class ConfigError(ValueError):
    """A setting the user can fix; ``str()`` is the one line shown to them."""

    def __init__(self, setting: str, problem: str, fix: str, part: str) -> None:
        self.setting = setting
        self.part = part
        super().__init__(f"mcptrace: {setting}: {problem}; {fix}")


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "mcptrace"


@dataclass(frozen=True)
class Settings:
    spool_dir: Path = field(default_factory=lambda: default_state_dir() / "spool")
    spool_max_file_bytes: int = 64 * 1024 * 1024
    capture_arguments: bool = False
    capture_max_bytes: int = 4096
    redact_keys: tuple[str, ...] = ()
    redact_patterns: tuple[str, ...] = ()
    sensor: frozenset[str] = SENSOR_CATEGORIES
    policy: Path | None = None
    detections: bool = True
    max_events_per_span: int = 32
    native_hook: bool = True
    provenance_cache: Path | None = None
    enabled: bool = True
    # who called: where the HTTP principal comes from ("" off, "header:NAME", "auth")
    principal: str = ""
    principal_clear: bool = False
    principal_key: str = ""
    metrics_resource_uri: bool = False
    # OTel side (standard variables, validated here so errors are one clear line)
    service_name: str | None = None
    protocol: str = "http/protobuf"
    protocols: Mapping[str, str] = field(default_factory=dict)  # per signal, when set
    endpoints: Mapping[str, str] = field(default_factory=dict)
    exporters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # parts switched off by lenient loading because their setting was bad
    disabled_parts: frozenset[str] = frozenset()

    def endpoint_for(self, signal: Signal) -> str | None:
        return self.endpoints.get(signal) or self.endpoints.get("all")

    def protocol_for(self, signal: Signal) -> str:
        """``OTEL_EXPORTER_OTLP_{SIGNAL}_PROTOCOL`` over ``OTEL_EXPORTER_OTLP_PROTOCOL``."""
        return self.protocols.get(signal) or self.protocol

    def exporter_for(self, signal: Signal) -> tuple[str, ...]:
        """Exporter names for a signal; defaults to OTLP with an endpoint, else the spool."""
        if "export" in self.disabled_parts or not self.enabled:
            return ()
        chosen = self.exporters.get(signal)
        if chosen is not None:
            return chosen
        return ("otlp",) if self.endpoint_for(signal) else (SPOOL_EXPORTER,)

    def hash_cache_path(self) -> Path:
        return self.provenance_cache or default_state_dir() / "hash-cache.sqlite3"

    def part_enabled(self, part: str) -> bool:
        return self.enabled and part not in self.disabled_parts


def _parse_bool(setting: str, raw: object, part: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(setting, f"{raw!r} is not a boolean", "use true or false", part)


def _int_parser(minimum: int) -> Callable[[str, object, str], int]:
    def parse(setting: str, raw: object, part: str) -> int:
        if isinstance(raw, bool):
            raise ConfigError(setting, f"{raw!r} is not an integer", "use a whole number", part)
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ConfigError(
                setting, f"{raw!r} is not an integer", f"use a whole number >= {minimum}", part
            ) from None
        if value < minimum:
            raise ConfigError(setting, f"{value} is too small", f"use a number >= {minimum}", part)
        return value

    return parse


def _parse_path(setting: str, raw: object, part: str) -> Path:
    if not isinstance(raw, str):  # a TOML number, boolean or table would become a path "5"
        raise ConfigError(setting, f"{raw!r} is not a path", "write it as a quoted string", part)
    text = raw.strip()
    if not text:
        raise ConfigError(setting, "is empty", "give a directory path or unset it", part)
    expanded = os.path.expandvars(os.path.expanduser(text))
    unexpanded = unexpanded_part(expanded)
    if unexpanded:  # else a directory literally named "$HOEM" or "~bob" appears in the cwd
        user = unexpanded[0] == "~"
        raise ConfigError(
            setting,
            f"there is no user {unexpanded[1:]!r}" if user else f"{unexpanded} is not set",
            "write the path out" if user else "set it, or write the path out",
            part,
        )
    return Path(expanded)


def unexpanded_part(path: str) -> str | None:
    """The ``$NAME``, ``${NAME}`` or ``~user`` that expandvars/expanduser left in ``path``."""
    if path.startswith("~"):
        return path.split("/", 1)[0]
    found = re.search(r"\$(?:\w+|\{[^}]*\})", path)
    return found.group(0) if found else None


def _parse_existing_file(setting: str, raw: object, part: str) -> Path:
    path = _parse_path(setting, raw, part)
    if not path.is_file():
        raise ConfigError(setting, f"file {str(path)!r} does not exist", "fix the path", part)
    return path


def _parse_csv(raw: object) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _parse_sensor(setting: str, raw: object, part: str) -> frozenset[str]:
    names = {name.lower() for name in _parse_csv(raw)}
    if names in ({"all"}, set()) and str(raw).strip().lower() != "none" and names:
        return SENSOR_CATEGORIES
    if names == {"none"} or not names:
        return frozenset()
    unknown = sorted(names - SENSOR_CATEGORIES)
    if unknown:
        raise ConfigError(
            setting,
            f"unknown categor{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}",
            "use a comma list of " + ", ".join(sorted(SENSOR_CATEGORIES)) + " (or all / none)",
            part,
        )
    return frozenset(names)


def _parse_redact_keys(setting: str, raw: object, part: str) -> tuple[str, ...]:
    return tuple(key.lower() for key in _parse_csv(raw))


def _parse_redact_patterns(setting: str, raw: object, part: str) -> tuple[str, ...]:
    """Regular expressions separated by blanks (a TOML list may hold any); each must compile."""
    items = raw if isinstance(raw, list) else str(raw).split()
    patterns = tuple(str(item) for item in items if str(item).strip())
    for pattern in patterns:
        try:
            re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as error:  # x{99999999999}, ((((…
            why = "nested too deeply" if isinstance(error, RecursionError) else str(error)
            shown = pattern if len(pattern) <= 80 else pattern[:60] + f"…(+{len(pattern) - 60})"
            raise ConfigError(
                setting,
                f"{shown!r} is not a regular expression ({why})",
                "fix the pattern (separate several with spaces; write a space as \\s)",
                part,
            ) from None
    return patterns


def _parse_str(setting: str, raw: object, part: str) -> str:
    return str(raw)


def _parse_principal(setting: str, raw: object, part: str) -> str:
    text = str(raw).strip()
    if text in ("", "auth") or (text.startswith("header:") and text[len("header:") :].strip()):
        return text
    raise ConfigError(
        setting, f"{raw!r} is not a principal source", "use header:NAME or auth", part
    )


@dataclass(frozen=True)
class _Option:
    attribute: str
    parse: Callable[[str, object, str], Any]
    part: str
    description: str


# The public settings: environment name -> how to read it.  TOML keys are derived.
OPTIONS: dict[str, _Option] = {
    "MCPTRACE_SPOOL_DIR": _Option("spool_dir", _parse_path, "export", "spool directory"),
    "MCPTRACE_SPOOL_MAX_FILE_BYTES": _Option(
        "spool_max_file_bytes", _int_parser(4096), "export", "rotate spool files at this size"
    ),
    "MCPTRACE_CAPTURE_ARGUMENTS": _Option(
        "capture_arguments", _parse_bool, "capture", "record tool arguments/results (redacted)"
    ),
    "MCPTRACE_CAPTURE_MAX_BYTES": _Option(
        "capture_max_bytes", _int_parser(16), "capture", "truncate captured arguments/results"
    ),
    "MCPTRACE_REDACT_KEYS": _Option(
        "redact_keys", _parse_redact_keys, "capture", "extra key names to redact"
    ),
    "MCPTRACE_REDACT_PATTERNS": _Option(
        "redact_patterns", _parse_redact_patterns, "capture", "extra value patterns to redact"
    ),
    "MCPTRACE_SENSOR": _Option("sensor", _parse_sensor, "sensor", "sensor categories"),
    "MCPTRACE_POLICY": _Option("policy", _parse_existing_file, "policy", "policy file"),
    "MCPTRACE_DETECTIONS": _Option(
        "detections", _parse_bool, "policy", "built-in detections (and the policy file's)"
    ),
    "MCPTRACE_MAX_EVENTS_PER_SPAN": _Option(
        "max_events_per_span", _int_parser(0), "sensor", "detailed events per span per category"
    ),
    "MCPTRACE_NATIVE_HOOK": _Option(
        "native_hook", _parse_bool, "sensor", "use the C audit hook when it is built"
    ),
    "MCPTRACE_HASH_CACHE": _Option(
        "provenance_cache", _parse_path, "import", "module hash cache file"
    ),
    "MCPTRACE_ENABLED": _Option("enabled", _parse_bool, "all", "turn mcptrace off entirely"),
    "MCPTRACE_PRINCIPAL": _Option(
        "principal", _parse_principal, "principal", "who called over HTTP: header:NAME or auth"
    ),
    "MCPTRACE_PRINCIPAL_CLEAR": _Option(
        "principal_clear", _parse_bool, "principal", "record the principal in clear (user.id)"
    ),
    "MCPTRACE_PRINCIPAL_KEY": _Option(
        "principal_key", _parse_str, "principal", "key of the principal hash (default: per install)"
    ),
    "MCPTRACE_METRICS_RESOURCE_URI": _Option(
        "metrics_resource_uri", _parse_bool, "metrics", "mcp.resource.uri on operation metrics"
    ),
}
TOML_KEYS = {name.removeprefix("MCPTRACE_").lower(): name for name in OPTIONS}


def _validate_endpoint(setting: str, raw: str) -> str:
    url = urlsplit(raw.strip())
    # the error repeats the value without what may be a credential (ftp://user:pw@host,
    # https://user:pw@:4318, ?token=...); config sits below export, so no redact module here
    shown = urlunsplit((url.scheme, url.netloc.rpartition("@")[2], url.path, "", ""))
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(
            setting,
            f"{shown!r} is not an http(s) URL",
            "use e.g. http://127.0.0.1:4318 (http/protobuf) or http://127.0.0.1:4317 (grpc)",
            "export",
        )
    try:
        url.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ConfigError(
            setting, f"{shown!r} has a malformed port", "fix the port", "export"
        ) from None
    return raw.strip()


def toml() -> Any:
    """tomllib (tomli before 3.11), imported only when there is a file to read."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    import tomli  # pragma: no cover - exercised on 3.10 only

    return tomli  # pragma: no cover


def _read_toml(path: Path) -> dict[str, Any]:
    tomllib = toml()
    try:
        with path.open("rb") as handle:
            table: dict[str, Any] = tomllib.load(handle)
            return table
    except FileNotFoundError:
        raise ConfigError(
            "MCPTRACE_CONFIG", f"file {str(path)!r} does not exist", "fix the path", "all"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            "MCPTRACE_CONFIG", f"{path} is not valid TOML ({exc})", "fix the file", "all"
        ) from None


def _collect(
    env: Mapping[str, str], config_path: Path | None
) -> tuple[Settings, list[ConfigError]]:
    """Build Settings, collecting every error instead of stopping at the first."""
    errors: list[ConfigError] = []
    values: dict[str, Any] = {}
    disabled: set[str] = set()

    raw_by_name: dict[str, tuple[str, object]] = {}
    config_file = config_path or (
        Path(env["MCPTRACE_CONFIG"]) if env.get("MCPTRACE_CONFIG") else None
    )
    if config_file is not None:
        try:
            table = _read_toml(config_file)
        except ConfigError as exc:
            errors.append(exc)
            table = {}
        for key, value in table.items():
            name = TOML_KEYS.get(key)
            if name is None:
                errors.append(
                    ConfigError(
                        f"{config_file}: {key}",
                        "unknown key",
                        "known keys: " + ", ".join(sorted(TOML_KEYS)),
                        "none",
                    )
                )
                continue
            raw_by_name[name] = (f"{config_file}: {key}", value)
    for name in OPTIONS:
        if name in env:
            raw_by_name[name] = (name, env[name])

    for name, (label, raw) in raw_by_name.items():
        option = OPTIONS[name]
        try:
            values[option.attribute] = option.parse(label, raw, option.part)
        except ConfigError as exc:
            errors.append(exc)
            disabled.add(option.part)

    values.update(_otel_values(env, errors, disabled))
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        values["enabled"] = False
    settings = Settings(**values, disabled_parts=frozenset(disabled))
    return settings, errors


def _otel_values(
    env: Mapping[str, str], errors: list[ConfigError], disabled: set[str]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if env.get("OTEL_SERVICE_NAME"):
        values["service_name"] = env["OTEL_SERVICE_NAME"]
    protocols: dict[str, str] = {}
    for signal, name in [("all", "OTEL_EXPORTER_OTLP_PROTOCOL")] + [
        (s, f"OTEL_EXPORTER_OTLP_{s.upper()}_PROTOCOL") for s in SIGNALS
    ]:
        protocol = env.get(name, "").strip()
        if not protocol:
            continue
        if protocol not in PROTOCOLS:
            errors.append(
                ConfigError(
                    name,
                    f"{protocol!r} is not supported",
                    "use grpc, http/protobuf or http/json",
                    "export",
                )
            )
            disabled.add("export")
            continue
        protocols[signal] = protocol
    for prefix in ["OTEL_EXPORTER_OTLP_"] + [f"OTEL_EXPORTER_OTLP_{s.upper()}_" for s in SIGNALS]:
        timeout = env.get(f"{prefix}TIMEOUT", "").strip()
        if timeout and not _positive_number(timeout):
            errors.append(
                ConfigError(
                    f"{prefix}TIMEOUT",
                    f"{timeout!r} is not a positive number of seconds",
                    "use e.g. 10",
                    "export",
                )
            )
            disabled.add("export")
        headers_problem = _headers_problem(env.get(f"{prefix}HEADERS", ""))
        if headers_problem:
            # the SDK skips such an item; part "none": a running program keeps the others
            errors.append(
                ConfigError(
                    f"{prefix}HEADERS",
                    headers_problem,
                    "write name=value pairs separated by commas (URL-encode other commas)",
                    "none",
                )
            )
        compression = env.get(f"{prefix}COMPRESSION", "").strip().lower()
        if compression and compression not in ("gzip", "deflate", "none"):
            errors.append(
                ConfigError(
                    f"{prefix}COMPRESSION",
                    f"{compression!r} is not supported",
                    "use gzip, deflate or none",
                    "export",
                )
            )
            disabled.add("export")
    errors.extend(batch_errors(env))
    values["protocol"] = protocols.pop("all", "http/protobuf")
    values["protocols"] = protocols
    endpoints: dict[str, str] = {}
    for signal, name in [("all", "OTEL_EXPORTER_OTLP_ENDPOINT")] + [
        (s, f"OTEL_EXPORTER_OTLP_{s.upper()}_ENDPOINT") for s in SIGNALS
    ]:
        raw = env.get(name, "").strip()
        if not raw:
            continue
        try:
            endpoints[signal] = _validate_endpoint(name, raw)
        except ConfigError as exc:
            errors.append(exc)
            disabled.add("export")
    values["endpoints"] = endpoints
    exporters: dict[str, tuple[str, ...]] = {}
    for signal in SIGNALS:
        name = f"OTEL_{signal.upper()}_EXPORTER"
        if name in env:
            chosen = tuple(n for n in _parse_csv(env[name]) if n != "none")
            exporters[signal] = tuple(
                "otlp" if n in _OTLP_BY_NAME else SPOOL_EXPORTER if n == "spool" else n
                for n in chosen
            )
            # as opentelemetry-instrument: these names fix the protocol whatever the variables
            for named in chosen:
                if named in _OTLP_BY_NAME:
                    values["protocols"][signal] = _OTLP_BY_NAME[named]
    values["exporters"] = exporters
    return values


BATCH_QUEUE_SIZE = 16384
"""mcptrace's default for OTEL_BSP_MAX_QUEUE_SIZE / OTEL_BLRP_MAX_QUEUE_SIZE (the SDK: 2048)."""
BATCH_EXPORT_SIZE = 512
"""The SDK's default for OTEL_BSP_MAX_EXPORT_BATCH_SIZE / OTEL_BLRP_MAX_EXPORT_BATCH_SIZE."""


BATCH_MAX = 2**31 - 1
"""Above this a delay overflows the worker's timed wait, a size the queue's C length."""


def batch_setting(env: Mapping[str, str], name: str, default: int) -> tuple[int, str | None]:
    """A batch processor's integer setting (1..BATCH_MAX), or ``default`` and what is wrong."""
    raw = env.get(name, "").strip()
    if not raw:
        return default, None
    try:
        value = int(raw)
    except ValueError:
        return default, f"{raw!r} is not an integer"
    if value < 1:
        return default, f"{value} is too small"
    if value > BATCH_MAX:
        return default, f"{value} is too large"
    return value, None


def batch_errors(env: Mapping[str, str]) -> list[ConfigError]:
    """Bad OTEL_BSP_*/OTEL_BLRP_* values: the SDK would refuse them and switch telemetry off.

    At run time each falls back to its default (export.providers), so the part is "none".
    """
    errors = []
    for prefix in ("OTEL_BSP_", "OTEL_BLRP_"):
        queue, _ = batch_setting(env, f"{prefix}MAX_QUEUE_SIZE", BATCH_QUEUE_SIZE)
        for suffix in ("SCHEDULE_DELAY", "MAX_QUEUE_SIZE", "MAX_EXPORT_BATCH_SIZE"):
            name = prefix + suffix
            value, problem = batch_setting(env, name, 0)
            unit = "milliseconds" if suffix == "SCHEDULE_DELAY" else "items"
            fix = f"use a whole number from 1 to {BATCH_MAX} ({unit})"
            if problem is None and suffix == "MAX_EXPORT_BATCH_SIZE" and value > queue:
                problem = f"{value} is more than {prefix}MAX_QUEUE_SIZE ({queue})"
                fix = f"use at most {queue} or raise {prefix}MAX_QUEUE_SIZE"
            if problem is not None:
                errors.append(ConfigError(name, problem, fix, "none"))
    return errors


def _headers_problem(raw: str) -> str | None:
    """What is wrong with an OTLP headers value, without repeating it (it may hold a token)."""
    items = [item for item in raw.split(",") if item.strip()]
    for index, item in enumerate(items, 1):
        name, equals, _ = item.partition("=")
        if not equals or not name.strip():
            missing = "no '='" if not equals else "no name before '='"
            return f"item {index} of {len(items)} has {missing} (value not shown)"
    return None


def _positive_number(text: str) -> bool:
    try:
        return float(text) > 0
    except ValueError:
        return False


def load_settings(
    env: Mapping[str, str] | None = None, config_path: Path | None = None
) -> Settings:
    """Strict: the first bad value raises ConfigError (used by the CLI before a command starts)."""
    settings, errors = _collect(os.environ if env is None else env, config_path)
    if errors:
        raise errors[0]
    return settings


def load_settings_lenient(
    env: Mapping[str, str] | None = None, config_path: Path | None = None
) -> tuple[Settings, list[ConfigError]]:
    """For a program that is already running: never raises, disables only the broken parts."""
    settings, errors = _collect(os.environ if env is None else env, config_path)
    if any(error.part == "all" for error in errors):
        settings = dataclasses.replace(settings, disabled_parts=settings.disabled_parts | {"all"})
    return settings, errors


def check_spool_writable(spool_dir: Path) -> None:
    """Create the spool directory (0700, never through a symlink), refuse it unless it is the
    user's own and writable only by them, and prove a file can be written there."""
    from mcptrace._files import UnsafePath, private_directory

    try:
        directory_fd = private_directory(spool_dir, "spool directory")
        try:
            probe = f".write-test-{os.getpid()}"
            fd = os.open(
                probe,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=directory_fd,
            )
            try:
                if os.write(fd, b"ok\n" * 512) != 1536:
                    raise OSError(28, "No space left on device")
            finally:
                os.close(fd)
                os.unlink(probe, dir_fd=directory_fd)
        finally:
            os.close(directory_fd)
    except UnsafePath as exc:
        raise ConfigError(
            "MCPTRACE_SPOOL_DIR", str(exc), "telemetry that needs it is off", "export"
        ) from None
    except OSError as exc:
        raise ConfigError(
            "MCPTRACE_SPOOL_DIR",
            f"{spool_dir} is not writable ({exc.strerror or exc})",
            "choose a writable directory with --spool or MCPTRACE_SPOOL_DIR",
            "export",
        ) from None
