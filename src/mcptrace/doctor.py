"""``mcptrace doctor``: effective settings, where telemetry goes, and whether that works.

Usage::

    lines, ok = diagnose(dict(os.environ))
"""

from __future__ import annotations

import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path

from mcptrace._files import refuse_unsafe_file
from mcptrace._version import __version__
from mcptrace.config import (
    SIGNALS,
    SPOOL_EXPORTER,
    ConfigError,
    Settings,
    check_spool_writable,
    load_settings,
)

_PACKAGES = (
    "mcp",
    "fastmcp",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-exporter-otlp-proto-grpc",
    "opentelemetry-instrumentation",
    "protobuf",
)


def _installed(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def probe_endpoint(url: str, protocol: str, timeout: float = 3.0) -> str | None:
    """None when the endpoint accepts an (empty) OTLP export, else what went wrong."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 4317 if protocol == "grpc" else 4318)
    if protocol == "grpc":
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return None
        except OSError as exc:
            return f"cannot connect to {host}:{port} ({exc.strerror or exc})"
    request = urllib.request.Request(
        url.rstrip("/") + "/v1/traces",
        data=b"",
        headers={"Content-Type": "application/x-protobuf"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        return f"answered HTTP {exc.code} ({exc.reason})"
    except (urllib.error.URLError, OSError) as exc:
        return f"unreachable ({getattr(exc, 'reason', exc)})"


def diagnose(env: dict[str, str], config: Path | None = None) -> tuple[list[str], bool]:
    lines = [f"mcptrace {__version__} on Python {sys.version.split()[0]} ({sys.executable})"]
    try:
        settings = load_settings(env, config)
    except ConfigError as exc:
        return [*lines, f"settings: ERROR {exc}"], False
    ok = True
    lines.append("settings:")
    for name, value in sorted(vars(settings).items()):
        if name == "disabled_parts":
            continue
        shown = ",".join(sorted(value)) if isinstance(value, frozenset) else value
        lines.append(f"  {name} = {shown}")
    lines.append("destinations:")
    for signal in SIGNALS:
        names = settings.exporter_for(signal)
        targets = []
        for name in names:
            if name == "otlp":
                targets.append(
                    f"OTLP {settings.protocol_for(signal)} {settings.endpoint_for(signal)} "
                    f"(written ahead to spool {settings.spool_dir}, shipped from there)"
                )
            elif name == SPOOL_EXPORTER:
                targets.append(f"spool {settings.spool_dir}")
            else:
                targets.append(name)
        lines.append(f"  {signal}: {'; '.join(targets) or 'off'}")
    for endpoint in sorted(set(settings.endpoints.values())):
        problem = probe_endpoint(endpoint, settings.protocol)
        lines.append(f"endpoint {endpoint}: {'OK' if problem is None else 'PROBLEM ' + problem}")
        ok = ok and problem is None
    try:
        check_spool_writable(settings.spool_dir)
        lines.append(f"spool {settings.spool_dir}: writable")
        lines.extend(_unsent(settings, env))
    except ConfigError as exc:
        lines.append(f"spool: PROBLEM {str(exc).removeprefix('mcptrace: ')}")
        ok = False
    cache = settings.hash_cache_path()
    try:
        refuse_unsafe_file(cache, "hash cache")
        lines.append(f"hash cache {cache}: usable")
    except OSError as exc:
        lines.append(f"hash cache: PROBLEM {exc}")
        ok = False
    lines.append(f"sensor audit hook: {_hook_kind(settings.native_hook)}")
    lines.append("installed:")
    lines.extend(f"  {name} {_installed(name)}" for name in _PACKAGES)
    return lines, ok


def _unsent(settings: Settings, env: dict[str, str]) -> list[str]:
    """What the spool holds that each OTLP destination has not acknowledged yet."""
    from mcptrace.export.destination import Destination
    from mcptrace.export.progress import ProgressStore
    from mcptrace.export.shipper import spool_files

    lines = []
    try:
        destination = Destination.from_environment(settings, env)
        for signal, target in destination.targets.items():
            if "otlp" not in settings.exporter_for(signal):
                continue
            store = ProgressStore.open(settings.spool_dir, target)
            try:
                files = spool_files(settings.spool_dir, signal)
                unsent = sum(
                    max(0, path.stat().st_size - store.acknowledged(path.name)) for path in files
                )
            finally:
                store.close()
            lines.append(
                f"  unsent {signal}: {unsent} byte(s) not yet acknowledged by {target.url}"
                + (" (mcptrace replay sends them)" if unsent else "")
            )
    except (OSError, ValueError) as exc:
        lines.append(f"  unsent: cannot tell ({exc})")
    return lines


def _hook_kind(native_wanted: bool) -> str:
    if find_spec("mcptrace.sensor._fasthook") is None:
        return "Python (the C accelerator was not built: no compiler at install time)"
    if not native_wanted:
        return "Python (MCPTRACE_NATIVE_HOOK=false)"
    return "C accelerator in front of the Python hook"
