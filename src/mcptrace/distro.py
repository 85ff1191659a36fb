"""Entry points for ``opentelemetry-instrument``: the mcptrace distro and configurator.

Usage::

    export OTEL_PYTHON_DISTRO=mcptrace OTEL_PYTHON_CONFIGURATOR=mcptrace
    opentelemetry-instrument python server.py

(``mcptrace run`` pins both for you.)  The configurator builds the providers from the
standard ``OTEL_*`` variables plus ``MCPTRACE_*``, with the spool as the default exporter.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _BaseConfigurator

from mcptrace.activation import activate


class McptraceDistro(BaseDistro):  # type: ignore[misc]
    """Nothing to pre-set: the configurator reads the settings and builds the providers."""

    def _configure(self, **kwargs: Any) -> None:
        return None


class McptraceConfigurator(_BaseConfigurator):
    def _configure(self, **kwargs: Any) -> None:
        activate()
