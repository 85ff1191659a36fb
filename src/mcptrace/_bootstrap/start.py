"""Start mcptrace the way ``opentelemetry-instrument`` would, with mcptrace pinned — lazily.

``mcptrace run`` and ``opentelemetry-instrument`` end up in the same state: our configurator
sets up the providers and every installed instrumentor (ours, httpx, requests, ...) is
loaded, honouring ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``.

When the only instrumentors installed are mcptrace's own, start-up is lazy: the audit hook,
the spawn patches and a watch on a few imports go in, reading the settings straight from
the environment; importing mcp or fastmcp puts thin wrappers on the MCP entry points
(mcp/lazy.py).  The OpenTelemetry SDK, exporters and the MCP instrumentation load only
when first needed (activation.py): the first call of one of those entry points, the
program's own import or use of opentelemetry (mcp 2.x's import of it does not count), the
sensor's first record, or the process exiting with something to write.  A process that
needs none of them — ``python -c pass`` under ``mcptrace run`` — loads no OpenTelemetry
at all.

Everything else starts eagerly, as before: anything else hooking into auto-instrumentation
(another instrumentor, a pre/post-instrument hook, gevent patching) runs OpenTelemetry's
``initialize``; a policy (it must judge from the first instruction) or a ``mcptrace.toml``
activates at once.

Which instrumentors are installed comes from one scan of the installed distributions'
entry points (≈50 ms), remembered in the state directory with the stat of each ``sys.path``
directory and of each distribution's ``entry_points.txt``: any install, removal or edit
changes one of them and scans again.
"""

from __future__ import annotations

import os
import sys

from mcptrace._bootstrap import quick_settings, state_dir

TYPE_CHECKING = False  # not typing's: this module runs at every interpreter start
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from mcptrace._bootstrap import QuickSettings

_OWN_PREFIX = "mcptrace."
_HOOK_GROUPS = ("opentelemetry_pre_instrument", "opentelemetry_post_instrument")
# imports that need OpenTelemetry set up before they run (unless a library below imports it)
ACTIVATING_IMPORTS = ("opentelemetry",)
# libraries whose import of opentelemetry does not activate: mcp 2.x and fastmcp import the
# API and take a ProxyTracer, which finds the real provider once activation has run
_OTEL_IMPORTING_LIBRARIES = frozenset({"mcp", "fastmcp"})
# callers of the API's entry points that are not the program's own use of OpenTelemetry
_LIBRARY_CALLERS = frozenset({"mcp", "fastmcp", "opentelemetry", "mcptrace"})
# the entry points through which a program uses OpenTelemetry once a library loaded it: the
# first call from the program's own code activates first (set_*_provider does not: the
# program's own provider, set first, wins)
_API_ENTRY_POINTS = (
    ("opentelemetry.trace", ("get_tracer", "get_tracer_provider")),
    ("opentelemetry.metrics", ("get_meter", "get_meter_provider")),
    ("opentelemetry._logs", ("get_logger", "get_logger_provider")),
)
_SCAN_FORMAT = "mcptrace-entry-points 2"


def _disabled() -> set[str]:
    raw = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


# --- which instrumentors are installed


def _directories_key() -> str:
    """Changes whenever an entry is added to, removed from or renamed in a ``sys.path``
    directory (its mtime, ctime and link count), or ``sys.path`` itself changes."""
    parts = [_SCAN_FORMAT, sys.version, *sys.path]
    for entry in sys.path:
        try:
            status = os.stat(entry or ".")
        except OSError:
            parts.append("-")
            continue
        parts.append(f"{status.st_ino}:{status.st_nlink}:{status.st_mtime_ns}:{status.st_ctime_ns}")
    return "\x1f".join(parts).replace("\n", " ")


def _stat_key(path: str) -> str:
    status = os.stat(path)
    return f"{status.st_ino}:{status.st_size}:{status.st_mtime_ns}:{status.st_ctime_ns}"


def _distribution_checks() -> list[str]:
    """``path\\0stat key`` of what changes when a distribution edits its entry points: its
    ``entry_points.txt``, or, without one, its metadata directory (creating the file there
    changes the directory's mtime)."""
    checks = []
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            directory = os.path.join(entry or ".", name)
            for path in (os.path.join(directory, "entry_points.txt"), directory):
                try:
                    checks.append(f"{path}\0{_stat_key(path)}")
                    break
                except OSError:
                    continue
    return checks


def _unchanged(checks: list[str]) -> bool:
    for check in checks:
        path, _, key = check.partition("\0")
        try:
            if _stat_key(path) != key:
                return False
        except OSError:
            return False
    return True


def _scan() -> tuple[bool, list[tuple[str, str]]]:
    """(anything else hooks into auto-instrumentation, [(name, value) of our instrumentors])."""
    from importlib.metadata import entry_points

    installed = entry_points()  # one scan of every distribution's metadata, not one per group
    if any(installed.select(group=group) for group in _HOOK_GROUPS):
        return True, []
    found: list[tuple[str, str]] = []
    foreign = False
    for entry in installed.select(group="opentelemetry_instrumentor"):
        if not entry.value.startswith(_OWN_PREFIX):
            foreign = True
        found.append((entry.name, entry.value))
    return foreign, found


_SCAN_FILES_KEPT = 32  # entry-point answers kept in the state directory (newest)


def _scan_cache_path() -> str:
    """One file per interpreter and ``sys.path``: processes of other environments (another
    venv, another PYTHONPATH) keep their own answer instead of overwriting this one, which
    made each of them scan again (≈50 ms) whenever they took turns."""
    try:
        from _blake2 import blake2b  # (hashlib would import more at every start)
    except ImportError:  # pragma: no cover - a Python built without it
        from hashlib import blake2b

    tag = sys.implementation.cache_tag or "python"
    where = "\0".join(sys.path).encode("utf-8", "surrogateescape")
    digest = blake2b(where, digest_size=6).hexdigest()
    return os.path.join(state_dir(os.environ), f"entry-points-{tag}-{digest}.txt")


def _prune_scan_files(directory: str) -> None:
    """Keep the newest ``_SCAN_FILES_KEPT`` answers (one per environment that ran here)."""
    try:
        paths = [
            os.path.join(directory, name)
            for name in os.listdir(directory)
            if name.startswith("entry-points-") and name.endswith(".txt")
        ]
        if len(paths) <= _SCAN_FILES_KEPT:
            return
        paths.sort(key=lambda path: os.stat(path).st_mtime_ns)
        for path in paths[: len(paths) - _SCAN_FILES_KEPT]:
            os.unlink(path)
    except OSError:
        pass


def _remembered(path: str) -> tuple[str, list[str], bool, list[tuple[str, str]]] | None:
    """(directories key, distribution checks, foreign, entries) from the memory file."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            lines = handle.read().split("\n")
        count = int(lines[2]) if len(lines) >= 3 else -1
    except (OSError, ValueError):
        return None
    if not 0 <= count <= len(lines) - 3:
        return None
    entries = [
        (name, value)
        for name, _, value in (line.partition("=") for line in lines[3 + count :] if "=" in line)
    ]
    return lines[0], lines[3 : 3 + count], lines[1] == "foreign", entries


def _remember(
    path: str, directories: str, checks: list[str], foreign: bool, entries: list[tuple[str, str]]
) -> None:
    if any("\n" in check for check in checks):
        return  # a path with a newline: scanned each time, never misread
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(f"{directories}\n{'foreign' if foreign else 'own'}\n{len(checks)}\n")
            handle.write("".join(f"{check}\n" for check in checks))
            handle.write("".join(f"{name}={value}\n" for name, value in entries))
        os.replace(temporary, path)
    except OSError:
        pass


def installed_instrumentors() -> tuple[bool, list[tuple[str, str]]]:
    """``_scan()``, from the state directory when nothing on sys.path changed since.

    Checked with stats only: each ``sys.path`` directory and each distribution's entry
    points (edited in place).  When a directory changed (a distribution installed or
    removed — or any other file: a project directory on ``PYTHONPATH`` changes often), the
    directories are listed again, and the metadata is scanned only if a distribution or its
    entry points differ from what was remembered."""
    path = _scan_cache_path()
    try:
        directories = _directories_key()
    except Exception:
        return _scan()
    memory = _remembered(path)
    if memory is not None and memory[0] == directories and _unchanged(memory[1]):
        return memory[2], memory[3]
    try:
        checks = _distribution_checks()
    except Exception:
        return _scan()
    if memory is not None and memory[1] == checks:
        _remember(path, directories, checks, memory[2], memory[3])
        return memory[2], memory[3]
    foreign, entries = _scan()
    _remember(path, directories, checks, foreign, entries)
    _prune_scan_files(os.path.dirname(path))
    return foreign, entries


def own_instrumentors() -> list[tuple[str, str]] | None:
    """mcptrace's enabled instrumentors as (name, "module:Class"), or None if anything else
    must load through OpenTelemetry's loader."""
    if os.environ.get("OTEL_PYTHON_AUTO_INSTRUMENTATION_EXPERIMENTAL_GEVENT_PATCH") is not None:
        return None
    disabled = _disabled()
    if "*" in disabled:
        return []
    foreign, entries = installed_instrumentors()
    own: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, value in entries:
        if name in disabled or name in seen:
            continue
        if not value.startswith(_OWN_PREFIX):
            return None
        seen.add(name)  # an editable install may list the distribution twice
        own.append((name, value))
    if foreign and not own and not entries:
        return None  # a pre/post-instrument hook
    return own


def _load(value: str) -> object:
    module_name, _, attribute = value.partition(":")
    module = __import__(module_name, fromlist=["_"])
    for part in attribute.split("."):
        module = getattr(module, part)
    return module


def _beside(value: str, target: str) -> str:
    """``target`` ("module:attribute") in the package of entry point ``value``."""
    package = value.partition(":")[0].rpartition(".")[0]
    return f"{package}.{target}"


# --- start


def start() -> None:
    os.environ["OTEL_PYTHON_DISTRO"] = "mcptrace"
    os.environ["OTEL_PYTHON_CONFIGURATOR"] = "mcptrace"
    quick = quick_settings(os.environ)
    if quick is not None and not quick.enabled:
        return
    own = own_instrumentors()
    if own is None:
        from opentelemetry.instrumentation.auto_instrumentation import initialize

        initialize()
        return
    from mcptrace.activation import activate, report, when_active

    if quick is None:  # a config file or a policy: everything now, as opentelemetry-instrument
        activate()
    for name, value in own:
        try:
            if quick is None:
                _load(value)().instrument()  # type: ignore[operator]
            elif name in ("mcptrace_sensor", "mcptrace_provenance") and not _wanted(name, quick):
                continue  # switched off: its instrumentor would do nothing, after 3-16 modules
            elif name == "mcptrace_sensor":
                _load(value)().instrument(  # type: ignore[operator]
                    categories=quick.sensor,
                    max_events_per_span=quick.max_events,
                    native_hook=quick.native,
                )
            elif name == "mcptrace_provenance":
                _load(value)().instrument(enabled=True)  # type: ignore[operator]
            elif name == "mcptrace_subprocess":
                _load(value)().instrument()  # type: ignore[operator]
            elif name == "mcptrace_mcp":
                # thin wrappers as mcp loads (its ``lazy`` module, beside the entry point's,
                # loaded just before mcp or fastmcp is): the first call of one activates,
                # then runs the instrumentor, which puts the real ones in their place
                from mcptrace import importwatch

                install_thin = _thin_wrappers(name, value)
                for module_name in ("mcp", "fastmcp"):
                    importwatch.before(module_name, install_thin)
            else:
                # the MCP instrumentation, thread context, detections (no policy is
                # configured: quick_settings), any other of ours: once OTel is set up
                when_active(_instrument_later(name, value))
        except Exception as exc:  # one part failing must not stop the others
            report(f"mcptrace: could not start {name} ({exc!r})")
    if quick is not None:
        from mcptrace import activation, importwatch

        for module_name in ACTIVATING_IMPORTS:
            importwatch.before(module_name, _activate_before(module_name))
        activation.install_exit_flush()  # what was recorded survives os._exit and SIGTERM


def _wanted(name: str, quick: QuickSettings) -> bool:
    """The sensor with any category on; module provenance with the ``import`` category."""
    return bool(quick.sensor) if name == "mcptrace_sensor" else "import" in quick.sensor


def _thin_wrappers(name: str, value: str) -> Callable[[], Callable[[], None] | None]:
    """An ``importwatch.before`` callback installing the MCP instrumentation's thin half,
    once, just before the module's body runs (outside importlib's global lock)."""
    done: list[bool] = []

    def install() -> None:
        if done:
            return
        done.append(True)
        try:
            install_thin = _load(_beside(value, "lazy:install"))
            install_thin(_instrument_later(name, value))  # type: ignore[operator]
        except Exception as exc:
            from mcptrace.activation import report

            report(f"mcptrace: could not start {name} ({exc!r})")

    def before() -> Callable[[], None] | None:
        return None if done else install

    return before


def _instrument_later(name: str, value: str) -> Callable[[], None]:
    def instrument() -> None:
        from mcptrace import activation

        if activation.exiting() and not (name == "mcptrace_policy" and _judged_at_exit()):
            return  # activated to write what is left: nothing will run to instrument
        try:
            _load(value)().instrument()  # type: ignore[operator]
        except Exception as exc:
            activation.report(f"mcptrace: could not start {name} ({exc!r})")

    return instrument


def _judged_at_exit() -> bool:
    """A child a traced parent started (a tool's ``python -c`` child, a pool worker), or a
    program that imported mcp or fastmcp (which set everything up at import before
    ``import mcp`` became lazy): its detections still judge, at exit, what it did if
    nothing activated before the exit."""
    return bool(os.environ.get("TRACEPARENT")) or any(
        name in sys.modules for name in ("mcp", "fastmcp")
    )


def _activate_before(module_name: str) -> Callable[[], Callable[[], None] | None]:
    def activate_first() -> Callable[[], None] | None:
        from mcptrace import activation, importwatch

        if activation.activating_here() or activation.is_settled():
            return None  # activation itself importing opentelemetry, or done already
        if module_name == "opentelemetry" and activation.activating_elsewhere():
            return None  # that thread imports opentelemetry too: it must not wait for us
        if module_name == "opentelemetry" and _imported_by_library():
            # mcp's import, not the program's use: activation waits for a session (the
            # thin MCP wrappers) or the program's own first call into the API
            activation.context_loaded_by_library()
            for api_module, functions in _API_ENTRY_POINTS:
                importwatch.after(api_module, _activating_api(functions))
            return None
        # Not here: importlib holds its global import lock while it looks for a module,
        # and activation starts threads and waits on them.  Just before the module runs.
        return _activate_now

    return activate_first


def _activate_now() -> None:
    from mcptrace import activation

    activation.activate()


def _imported_by_library() -> bool:
    """The import under way was started by one of ``_OTEL_IMPORTING_LIBRARIES``."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if isinstance(name, str) and name.partition(".")[0] in _OTEL_IMPORTING_LIBRARIES:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _activating_api(functions: tuple[str, ...]) -> Callable[[ModuleType], None]:
    """Wrap the module's ``functions``: the first call from the program's own code (not a
    library's, not the API's own) activates before it runs."""

    def wrap(module: ModuleType) -> None:
        for name in functions:
            original = getattr(module, name, None)
            if original is not None and getattr(original, "_mcptrace_api", False) is False:
                setattr(module, name, _activating(original))

    return wrap


def _activating(original: Callable[..., object]) -> Callable[..., object]:
    settled = [False]

    def function(*args: object, **kwargs: object) -> object:
        if not settled[0]:
            caller = sys._getframe(1).f_globals.get("__name__")
            if not isinstance(caller, str) or caller.partition(".")[0] not in _LIBRARY_CALLERS:
                from mcptrace import activation

                if not activation.is_settled() and not activation.activating_here():
                    activation.activate()
                settled[0] = activation.is_settled()
        return original(*args, **kwargs)

    function.__name__ = getattr(original, "__name__", "function")
    function.__qualname__ = getattr(original, "__qualname__", function.__name__)
    function.__doc__ = original.__doc__
    function.__module__ = getattr(original, "__module__", None)  # type: ignore[assignment]
    function.__wrapped__ = original  # type: ignore[attr-defined]
    function._mcptrace_api = True  # type: ignore[attr-defined]
    return function
