"""Turn mcptrace on inside the current process, once, without ever taking the program down.

Usage (done for you by ``mcptrace run`` and by ``opentelemetry-instrument`` through the
``mcptrace`` configurator)::

    from mcptrace.activation import activate, current_settings
    activate()
    current_settings().sensor      # what the instrumentors read

Bad settings are reported as one line each on stderr and switch off only the part they
belong to.  ``TRACEPARENT``/``TRACESTATE`` inherited from an instrumented parent become this
process's ambient context, so a child's telemetry continues the parent's trace.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

from opentelemetry import context as otel_context
from opentelemetry.propagate import extract

from mcptrace.config import (
    SIGNALS,
    SPOOL_EXPORTER,
    Settings,
    check_spool_writable,
    load_settings_lenient,
)
from mcptrace.export.providers import ExporterError, Telemetry, build_telemetry
from mcptrace.export.spool import spool_reported
from mcptrace.record.redact import configure as configure_redaction

_lock = threading.Lock()
_REPORTED_SPOOL = "MCPTRACE_SPOOL_PROBLEM_REPORTED"  # inherited by children: said once
_settings: Settings | None = None
_telemetry: Telemetry | None = None
_parent_context: otel_context.Context | None = None


def report(message: str) -> None:
    """The single way mcptrace tells the user something at runtime: one line on stderr."""
    try:
        sys.stderr.write(message.rstrip("\n") + "\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def current_settings() -> Settings:
    """The settings of this process (loaded leniently on first use)."""
    global _settings
    if _settings is None:
        settings, errors = load_settings_lenient()
        for error in errors:
            report(str(error))
        configure_redaction(settings.redact_keys, settings.redact_patterns)
        _settings = settings
    return _settings


def parent_context() -> otel_context.Context | None:
    """The context an instrumented parent process passed in TRACEPARENT, if any."""
    return _parent_context


def telemetry() -> Telemetry | None:
    return _telemetry


def default_service_name(argv: list[str] | None = None, orig_argv: list[str] | None = None) -> str:
    """The script, module or console-script name; at start-up ``sys.argv`` is still raw."""
    args = sys.argv if argv is None else argv
    original = getattr(sys, "orig_argv", []) if orig_argv is None else orig_argv
    if args and args[0] == "-m":
        # during sitecustomize, argv is ['-m', ...]; the module name is only in orig_argv
        if "-m" in original[1:-1]:
            return str(original[original.index("-m", 1) + 1])
        return "python"
    if not args or not args[0] or args[0] == "-c":
        return "python"
    name = os.path.basename(args[0])
    return name.removesuffix(".py") or "python"


def _spool_in_use(settings: Settings) -> bool:
    return any(
        name in (SPOOL_EXPORTER, "otlp")
        for signal in SIGNALS
        for name in settings.exporter_for(signal)
    )


def _install_sigterm_flush(active: Telemetry) -> None:
    """On SIGTERM, flush like a normal exit, then die of SIGTERM as the parent expects."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # the program (or its runtime) handles SIGTERM itself; atexit still flushes

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        try:
            active.shutdown()
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)


def _pin_locations_for_children(settings: Settings) -> None:
    """Children (e.g. a stdio server given only HOME/PATH/...) write to the same spool and
    cache even when they would resolve a different default (no XDG_STATE_HOME there)."""
    os.environ.setdefault("MCPTRACE_SPOOL_DIR", str(settings.spool_dir))
    os.environ.setdefault("MCPTRACE_HASH_CACHE", str(settings.hash_cache_path()))


def _adopt_parent_context() -> None:
    global _parent_context
    carrier = {
        key.lower(): os.environ[key] for key in ("TRACEPARENT", "TRACESTATE") if key in os.environ
    }
    if "traceparent" not in carrier:
        return
    _parent_context = extract(carrier)
    otel_context.attach(_parent_context)


def activate() -> Telemetry | None:
    """Configure providers and exporters from the settings; idempotent, never raises."""
    global _telemetry
    with _lock:
        if _telemetry is not None:
            return _telemetry
        try:
            settings = current_settings()
            if not settings.part_enabled("all"):
                return None
            spool_usable = True
            if settings.part_enabled("export") and _spool_in_use(settings):
                try:
                    check_spool_writable(settings.spool_dir)
                except ValueError as exc:
                    spool_usable = False
                    # once per spool for a process and its children (a client and its stdio
                    # servers share one stderr): the first to find it tells its children
                    if os.environ.get(_REPORTED_SPOOL) != str(settings.spool_dir):
                        report(f"{exc} (telemetry that needs the spool is dropped and counted)")
                        os.environ[_REPORTED_SPOOL] = str(settings.spool_dir)
                    spool_reported(settings.spool_dir)
            try:
                active = build_telemetry(settings, default_service_name(), spool_usable)
            except ExporterError as exc:
                report(str(exc))
                active = build_telemetry(
                    Settings(**{**settings.__dict__, "disabled_parts": {"export"}}),
                    default_service_name(),
                )
            active.install()
            _pin_locations_for_children(settings)
            _install_sigterm_flush(active)
            _adopt_parent_context()
            _telemetry = active
            return active
        except Exception as exc:  # never take the program down
            report(f"mcptrace: telemetry disabled, setup failed ({exc!r})")
            return None
