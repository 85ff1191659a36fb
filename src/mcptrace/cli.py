"""The ``mcptrace`` command: run, replay, doctor.

Usage::

    mcptrace run [--spool DIR] [--endpoint URL] ... -- python server.py
    mcptrace replay [SPOOL] [--endpoint URL]
    mcptrace doctor
    mcptrace view [SPOOL] [--tool GLOB] [--json | --html OUT.html] [--follow]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mcptrace._version import __version__
from mcptrace.config import (
    SIGNALS,
    SPOOL_EXPORTER,
    ConfigError,
    Settings,
    load_settings,
    load_settings_lenient,
)
from mcptrace.quickrun import child_environment

EXIT_USAGE = 2
EXIT_NOT_FOUND = 127

# option dest -> (environment variable, value for a flag)
_RUN_OPTIONS: dict[str, str] = {
    "config": "MCPTRACE_CONFIG",
    "spool": "MCPTRACE_SPOOL_DIR",
    "service_name": "OTEL_SERVICE_NAME",
    "endpoint": "OTEL_EXPORTER_OTLP_ENDPOINT",
    "protocol": "OTEL_EXPORTER_OTLP_PROTOCOL",
    "sensor": "MCPTRACE_SENSOR",
    "policy": "MCPTRACE_POLICY",
    "max_events_per_span": "MCPTRACE_MAX_EVENTS_PER_SPAN",
    "capture_arguments": "MCPTRACE_CAPTURE_ARGUMENTS",
}


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    sys.stderr.write(message.rstrip("\n") + "\n")
    return code


def _add_settings_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="mcptrace.toml to read settings from")
    parser.add_argument("--spool", metavar="DIR", help="spool directory (MCPTRACE_SPOOL_DIR)")
    parser.add_argument("--service-name", metavar="NAME", help="service.name (OTEL_SERVICE_NAME)")
    parser.add_argument(
        "--endpoint", metavar="URL", help="OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT)"
    )
    parser.add_argument(
        "--protocol",
        choices=["grpc", "http/protobuf", "http/json"],
        help="OTLP protocol (OTEL_EXPORTER_OTLP_PROTOCOL)",
    )


def _settings_environment(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    for dest, name in _RUN_OPTIONS.items():
        value = getattr(args, dest, None)
        if value is None or value is False:
            continue
        env[name] = "true" if value is True else str(value)
    return env


def _check_exporters(settings: Settings) -> None:
    for signal in SIGNALS:
        for name in settings.exporter_for(signal):
            if name in ("otlp", SPOOL_EXPORTER, "console"):
                continue
            from importlib.metadata import entry_points

            if not list(entry_points(group=f"opentelemetry_{signal}_exporter", name=name)):
                raise ConfigError(
                    f"OTEL_{signal.upper()}_EXPORTER",
                    f"no exporter named {name!r} is installed",
                    f"use otlp, {SPOOL_EXPORTER}, console or none",
                    "export",
                )


def _validated_settings(env: dict[str, str], config: str | None) -> Settings:
    settings = load_settings(env, Path(config) if config else None)
    _check_exporters(settings)
    if settings.policy is not None:
        from mcptrace.policy.cli import validate_policy_setting

        validate_policy_setting(settings)
    # The spool is not checked here: an unusable spool (full disk, another user's
    # directory) costs telemetry, never the command; the instrumented process says so once.
    return settings


def cmd_run(args: argparse.Namespace) -> int:
    command: list[str] = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        return _fail("mcptrace run: no command given; usage: mcptrace run [OPTIONS] -- COMMAND ...")
    env = _settings_environment(args)
    try:
        _validated_settings(env, args.config)
    except ConfigError as exc:
        return _fail(f"{exc} (the command was not started)")
    executable = shutil.which(command[0], path=env.get("PATH"))
    if executable is None:
        return _fail(f"mcptrace run: command not found: {command[0]}", EXIT_NOT_FOUND)
    sys.stdout.flush()
    sys.stderr.flush()
    # exec: the command *is* this process, so signals and the exit status need no relaying.
    try:
        os.execve(executable, command, child_environment(env))
    except OSError as exc:
        return _fail(f"mcptrace run: cannot execute {executable}: {exc.strerror}", 126)
    return 0  # pragma: no cover - execve does not return


def cmd_replay(args: argparse.Namespace) -> int:
    from mcptrace.export.replay import Destination, ReplayError, replay

    env = _settings_environment(args)
    try:
        settings = load_settings(env, Path(args.config) if args.config else None)
        spool = Path(args.spool_dir) if args.spool_dir else settings.spool_dir
        destination = Destination.from_environment(settings, env, args.endpoint, args.protocol)
        stop = _StopFlag()
        report = replay(spool, destination, say=_say, should_stop=stop.is_set, follow=args.follow)
    except (ConfigError, ReplayError, ValueError) as exc:
        return _fail(str(exc), 1)
    except Exception as exc:  # one line, never a traceback
        return _fail(f"mcptrace replay: failed ({exc!r}); nothing was lost, run it again", 1)
    sys.stderr.write(report.summary() + "\n")
    if report.interrupted:
        return 130
    return 0 if report.complete else 1


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class _StopFlag:
    """SIGINT/SIGTERM ask replay to stop after the line in flight, keeping its progress."""

    def __init__(self) -> None:
        import signal

        self._set = False
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


def cmd_doctor(args: argparse.Namespace) -> int:
    from mcptrace.doctor import diagnose

    env = _settings_environment(args)
    lines, ok = diagnose(env, Path(args.config) if args.config else None)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0 if ok else 1


def cmd_view(args: argparse.Namespace) -> int:
    from mcptrace.view.command import run as run_view

    if args.spool_dir:
        spool = Path(args.spool_dir)
    else:
        # lenient: a bad value elsewhere in the settings must not hide the spool
        spool = load_settings_lenient(dict(os.environ))[0].spool_dir
    return run_view(args, spool)


def cmd_inventory(args: argparse.Namespace) -> int:
    import json

    from mcptrace.provenance.inventory import read_inventory, render_text, to_cyclonedx, to_json

    try:
        settings = load_settings(_settings_environment(args), None)
    except ConfigError as exc:
        return _fail(str(exc), 1)
    spool = Path(args.spool_dir) if args.spool_dir else settings.spool_dir
    if not spool.is_dir():
        return _fail(f"mcptrace inventory: no spool at {spool}; pass the spool directory", 1)
    inventory = read_inventory(spool)
    if args.cyclonedx:
        sys.stdout.write(json.dumps(to_cyclonedx(inventory), indent=2) + "\n")
    elif args.json:
        sys.stdout.write(json.dumps(to_json(inventory), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(inventory) + "\n")
    return 0


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or just one subcommand's (``mcptrace run`` starts faster)."""
    parser = argparse.ArgumentParser(
        prog="mcptrace",
        description="OpenTelemetry for MCP servers: what every tool call actually did.",
    )
    parser.add_argument("--version", action="version", version=f"mcptrace {__version__}")
    commands = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run a command with mcptrace active",
        usage="mcptrace run [OPTIONS] -- COMMAND [ARGS...]",
    )
    _add_settings_options(run)
    run.add_argument("--sensor", metavar="CATEGORIES", help="MCPTRACE_SENSOR, e.g. file,network")
    run.add_argument("--policy", metavar="FILE", help="policy file (MCPTRACE_POLICY)")
    run.add_argument("--max-events-per-span", metavar="N", help="MCPTRACE_MAX_EVENTS_PER_SPAN")
    run.add_argument(
        "--capture-arguments",
        action="store_true",
        default=None,
        help="record tool arguments and results, redacted (MCPTRACE_CAPTURE_ARGUMENTS)",
    )
    run.add_argument("command", nargs=argparse.REMAINDER, help="the command to run")
    run.set_defaults(handler=cmd_run)
    if only == "run":
        return parser

    replay = commands.add_parser(
        "replay", help="send the spool to an OTLP endpoint (--follow: keep sending)"
    )
    replay.add_argument("spool_dir", nargs="?", metavar="SPOOL", help="spool directory")
    _add_settings_options(replay)
    replay.add_argument(
        "--follow",
        action="store_true",
        help="keep running: send what processes write as they go (Ctrl-C to stop)",
    )
    replay.set_defaults(handler=cmd_replay, spool=None)

    doctor = commands.add_parser("doctor", help="show settings and check where telemetry goes")
    _add_settings_options(doctor)
    doctor.set_defaults(handler=cmd_doctor)

    inventory = commands.add_parser(
        "inventory", help="modules and distributions that ran, with hashes and verification"
    )
    inventory.add_argument("spool_dir", nargs="?", metavar="SPOOL", help="spool directory")
    formats = inventory.add_mutually_exclusive_group()
    formats.add_argument("--json", action="store_true", help="machine-readable JSON")
    formats.add_argument("--cyclonedx", action="store_true", help="CycloneDX 1.5 JSON BOM")
    inventory.set_defaults(handler=cmd_inventory)

    from mcptrace.view.command import add_arguments as add_view_arguments

    view = commands.add_parser("view", help="show sessions, tool calls and what each call did")
    add_view_arguments(view)
    view.set_defaults(handler=cmd_view)
    from mcptrace.policy.cli import add_policy_commands

    add_policy_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=arguments[0] if arguments[:1] == ["run"] else None)
    args = parser.parse_args(arguments)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
