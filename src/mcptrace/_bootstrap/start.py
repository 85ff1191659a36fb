"""Run OpenTelemetry's auto-instrumentation with mcptrace pinned as distro and configurator.

Going through ``opentelemetry.instrumentation.auto_instrumentation.initialize`` means
``mcptrace run`` and ``opentelemetry-instrument`` take the same path: our configurator sets
up the providers, and every installed instrumentor (ours, httpx, requests, ...) loads the
way it would under ``opentelemetry-instrument``.
"""

from __future__ import annotations

import os


def start() -> None:
    os.environ["OTEL_PYTHON_DISTRO"] = "mcptrace"
    os.environ["OTEL_PYTHON_CONFIGURATOR"] = "mcptrace"
    from opentelemetry.instrumentation.auto_instrumentation import initialize

    initialize()
