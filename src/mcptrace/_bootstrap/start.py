"""Start mcptrace the way ``opentelemetry-instrument`` would, with mcptrace pinned.

``mcptrace run`` and ``opentelemetry-instrument`` end up in the same state: our configurator
sets up the providers and every installed instrumentor (ours, httpx, requests, ...) is
loaded, honouring ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``.

When the only instrumentors installed are mcptrace's own, the same state is reached without
OpenTelemetry's loader: its import chain (dependency checks through ``packaging``, the SDK's
own configurator module) costs about a tenth of a second at every interpreter start, which
every MCP server spawned under ``mcptrace run`` would pay.  As soon as anything else hooks
into auto-instrumentation (another instrumentor, a pre/post-instrument hook, gevent
patching), OpenTelemetry's ``initialize`` runs instead, so those load exactly as they would
under ``opentelemetry-instrument``.
"""

from __future__ import annotations

import os
from typing import Any

_OWN_PREFIX = "mcptrace."
_HOOK_GROUPS = ("opentelemetry_pre_instrument", "opentelemetry_post_instrument")


def _disabled() -> set[str]:
    raw = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def own_instrumentors() -> list[Any] | None:
    """mcptrace's enabled instrumentor entry points, or None if anything else must load."""
    if os.environ.get("OTEL_PYTHON_AUTO_INSTRUMENTATION_EXPERIMENTAL_GEVENT_PATCH") is not None:
        return None
    from importlib.metadata import entry_points

    installed = entry_points()  # one scan of every distribution's metadata, not one per group
    if any(installed.select(group=group) for group in _HOOK_GROUPS):
        return None
    disabled = _disabled()
    if "*" in disabled:
        return []
    own: list[Any] = []
    seen: set[str] = set()
    for entry in installed.select(group="opentelemetry_instrumentor"):
        if entry.name in disabled or entry.name in seen:
            continue
        if not entry.value.startswith(_OWN_PREFIX):
            return None
        seen.add(entry.name)  # an editable install may list the distribution twice
        own.append(entry)
    return own


def start() -> None:
    os.environ["OTEL_PYTHON_DISTRO"] = "mcptrace"
    os.environ["OTEL_PYTHON_CONFIGURATOR"] = "mcptrace"
    own = own_instrumentors()
    if own is None:
        from opentelemetry.instrumentation.auto_instrumentation import initialize

        initialize()
        return
    from mcptrace.activation import activate, report

    activate()  # what the mcptrace configurator does
    for entry in own:
        try:
            entry.load()().instrument()
        except Exception as exc:  # one part failing must not stop the others
            report(f"mcptrace: could not start {entry.name} ({exc!r})")
