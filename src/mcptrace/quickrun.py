"""The ``mcptrace`` console script: ``mcptrace run -- COMMAND`` without loading the CLI.

Usage (what the console script does)::

    sys.exit(main())        # `mcptrace run -- python server.py`, or any other subcommand

``mcptrace run`` ends in ``execve``: whatever the launcher imported is paid once more by
every process it starts (and a host that launches a stdio server per session pays it each
time).  The full command line (argparse, the settings dataclasses, pathlib) costs about as
much as the interpreter's own start-up, so the common case takes a short path: ``run``
followed by the command, no options, and only settings this module validates itself
(the ones start-up reads, ``_bootstrap/start.py``).  Anything else — an option, an
``OTEL_*`` exporter setting, a config or policy file, a value that does not parse, a
command that cannot be found — goes to ``mcptrace.cli``, which validates everything and
says what is wrong, exactly as before.
"""

import os
import sys

from mcptrace._bootstrap import BOOTSTRAP_DIR, quick_settings, state_dir

TYPE_CHECKING = False  # not typing's (nor __future__): this is the launcher's whole start-up
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# settings the short path accepts: read and checked by quick_settings(), or free-form
_SHORT_PATH_SETTINGS = frozenset(
    {
        "MCPTRACE_SPOOL_DIR",
        "MCPTRACE_HASH_CACHE",
        "MCPTRACE_ENABLED",
        "MCPTRACE_SENSOR",
        "MCPTRACE_MAX_EVENTS_PER_SPAN",
        "MCPTRACE_NATIVE_HOOK",
        "MCPTRACE_HOME",
        "MCPTRACE_CACHE_TAG",
        "OTEL_PYTHON_DISTRO",
        "OTEL_PYTHON_CONFIGURATOR",
        "OTEL_SERVICE_NAME",
    }
)


def borrowable_paths() -> str:
    """Where this interpreter finds mcptrace and its dependencies (for foreign interpreters)."""
    package = os.path.dirname(os.path.realpath(__file__))
    roots = [os.path.dirname(package)]
    roots += [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    return os.pathsep.join(dict.fromkeys(roots))


def child_environment(env: "Mapping[str, str]") -> dict[str, str]:
    """``env`` plus what makes the command's Python processes start mcptrace."""
    child = dict(env)
    python_path = [p for p in child.get("PYTHONPATH", "").split(os.pathsep) if p]
    child["PYTHONPATH"] = os.pathsep.join(
        [BOOTSTRAP_DIR, *(p for p in python_path if p != BOOTSTRAP_DIR)]
    )
    child["OTEL_PYTHON_DISTRO"] = "mcptrace"
    child["OTEL_PYTHON_CONFIGURATOR"] = "mcptrace"
    child["MCPTRACE_HOME"] = borrowable_paths()
    child["MCPTRACE_CACHE_TAG"] = sys.implementation.cache_tag or ""
    return child


def which(command: str, path: str | None) -> str | None:
    """shutil.which for the short path (shutil imports fnmatch, re and more)."""

    def runnable(candidate: str) -> bool:
        return os.path.isfile(candidate) and os.access(candidate, os.X_OK)

    if os.sep in command:
        return command if runnable(command) else None
    for directory in (path if path is not None else os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or os.curdir, command)
        if runnable(candidate):
            return candidate
    return None


def _spool_writable(directory: str) -> bool:
    """config.check_spool_writable without pathlib; False sends the case to the full CLI."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        probe = os.path.join(directory, f".write-test-{os.getpid()}")
        descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(descriptor, b"ok")
        finally:
            os.close(descriptor)
            os.unlink(probe)
    except OSError:
        return False
    return True


def short_run(arguments: "Sequence[str]", env: "Mapping[str, str]") -> int | None:
    """Exec the command of ``mcptrace run -- COMMAND``; None when the full CLI must decide."""
    if arguments[:1] != ["run"]:
        return None
    rest = list(arguments[1:])
    command = rest[1:] if rest[:1] == ["--"] else rest
    if not command or command[0].startswith("-"):
        return None  # options (or a usage error): argparse's business
    for name in env:
        if name.startswith(("MCPTRACE_", "OTEL_")) and name not in _SHORT_PATH_SETTINGS:
            return None
    quick = quick_settings(env)
    if quick is None:
        return None
    locations = {}
    for name in ("MCPTRACE_SPOOL_DIR", "MCPTRACE_HASH_CACHE"):
        if name in env:
            raw = env[name].strip()
            if not raw:
                return None  # config reports the empty value
            location = os.path.expandvars(os.path.expanduser(raw))
            if location.startswith("~") or "$" in location:
                return None  # an unset variable or unknown user: config says which
            locations[name] = location
    if quick.enabled:
        spool = locations.get("MCPTRACE_SPOOL_DIR") or os.path.join(state_dir(env), "spool")
        if not _spool_writable(spool):
            return None
    executable = which(command[0], env.get("PATH"))
    if executable is None:
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    try:  # exec: the command *is* this process, so signals and the exit status need no relay
        os.execve(executable, command, child_environment(env))
    except OSError:
        return None
    return 0  # pragma: no cover - execve does not return


def main(argv: "Sequence[str] | None" = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    code = short_run(arguments, os.environ)
    if code is not None:
        return code
    from mcptrace.cli import main as full_main

    return full_main(arguments)


if __name__ == "__main__":
    sys.exit(main())
