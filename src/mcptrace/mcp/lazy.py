"""The MCP instrumentation's first half: thin wrappers at ``import mcp``, the rest at first use.

Usage (done by ``_bootstrap/start.py`` when start-up is lazy)::

    from mcptrace.mcp import lazy
    lazy.install()      # each listed mcp/fastmcp module gets its thin wrappers as it loads

Importing mcp (or fastmcp) no longer sets up OpenTelemetry.  Each entry point the
instrumentation patches — a session or server being made or run, a transport opened, a
message sent — gets a plain wrapper naming, as a string, the wrapper that will replace it.
Its first call activates mcptrace (``activation.activate``: the SDK providers, the
exporters, the MCP instrumentation itself, which puts its real wrappers in place of these),
then hands the call to the real wrapper, so the program's first message is traced as if
everything had been set up at import.  A process that imports mcp and never uses it loads
neither the SDK nor mcptrace's span, export or enrichment modules.

A reference taken before activation (``mcp/__init__`` binding ``stdio_client``, say) keeps
the thin wrapper, which from then on calls the real one.  The entry points are the
instrumentor's own, from the one table both read (``patch_tables``).
"""

from __future__ import annotations

import _thread
import sys

from mcptrace import importwatch
from mcptrace.instrumentor import WRAPPER_ATTRIBUTE, unwrap, wrap_function_wrapper
from mcptrace.mcp.patch_tables import (
    FASTMCP,
    FASTMCP_HOME,
    TABLES,
    TRANSPORTS,
    TRANSPORTS_HOME,
    V1,
    V1_HOME,
    V2,
    V2_HOME,
)

TYPE_CHECKING = False  # not typing's: this module is imported at every interpreter start
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any


_pending: list[Callable[[], None]] = []  # the MCP instrumentation, until an MCP call runs it
_pending_lock = _thread.RLock()
_PLAIN = object()  # activation left the MCP instrumentation off: call the function as it is
_major: list[int | None] = []  # the installed mcp's major version, once looked up


class LazyWrapper:
    """Stands for ``home:name`` until mcptrace is active; from then on calls it."""

    __slots__ = ("home", "name", "real")

    def __init__(self, home: str, name: str) -> None:
        self.home = home
        self.name = name
        self.real: Any = None

    def __call__(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: Any
    ) -> Any:
        real = self.real
        if real is None:
            real = self._resolve()
        if real is _PLAIN:
            return wrapped(*args, **kwargs)
        return real(wrapped, instance, args, kwargs)

    def _resolve(self) -> Any:
        from mcptrace import activation

        try:
            start_instrumentation()
        except Exception:  # neither raises; this is the program's call all the same
            return _PLAIN
        instrumentor = sys.modules.get("mcptrace.mcp.instrumentor")
        if instrumentor is None or not instrumentor.McpInstrumentor()._active:
            # off (disabled, failed, unsupported): plain calls, for good once activation
            # has settled; an activation under way here (one of its own imports) asks again
            if activation.is_settled():
                self.real = _PLAIN
            return _PLAIN
        try:
            real = getattr(sys.modules[self.home], self.name)
        except (KeyError, AttributeError):
            real = _PLAIN
        self.real = real
        return real


def is_lazy(owner: Any, attribute: str) -> bool:
    """``owner.attribute`` is one of these thin wrappers."""
    raw = vars(owner).get(attribute) if isinstance(owner, type) else getattr(owner, attribute, None)
    function = getattr(raw, "__func__", raw)
    return isinstance(getattr(function, WRAPPER_ATTRIBUTE, None), LazyWrapper)


def take_back(owner: Any, attribute: str) -> None:
    """The instrumentor is about to put its real wrapper on ``owner.attribute``: the thin
    one goes first (references taken meanwhile keep it, and it calls the real one)."""
    if is_lazy(owner, attribute):
        unwrap(owner, attribute)


def mcp_major() -> int | None:
    """The installed mcp's major version (mcptrace.mcp.instrumentor.mcp_major, whose module
    is not to be imported before activation); None if unknown."""
    if not _major:
        from importlib import metadata

        try:
            _major.append(int(metadata.version("mcp").split(".", 1)[0]))
        except (metadata.PackageNotFoundError, ValueError):
            _major.append(None)
    return _major[0]


def _entries(module_name: str) -> list[tuple[str, str, str]]:
    """(attribute, home, wrapper name) of what goes on ``module_name`` for this mcp."""
    major = mcp_major()
    chosen = [(TRANSPORTS_HOME, TRANSPORTS), (FASTMCP_HOME, FASTMCP)]
    if major == 1:
        chosen.append((V1_HOME, V1))
    elif major == 2:
        chosen.append((V2_HOME, V2))
    return [
        (dotted, home, name)
        for home, table in chosen
        for module, dotted, name in table
        if module == module_name
    ]


def start_instrumentation() -> None:
    """Activate mcptrace if nothing did yet, then run the MCP instrumentation (once): the
    first call of an MCP entry point does this before the call runs."""
    from mcptrace import activation

    activation.activate()
    # under the lock even when nothing is pending: another thread may be instrumenting
    # right now, and the caller must not find the instrumentor half done (and settle on
    # plain calls for good)
    with _pending_lock:
        if _pending and activation.is_active():
            _pending.pop()()


def _patch(module: ModuleType) -> None:
    from mcptrace import activation

    if not _pending:
        return  # the instrumentor runs: it patches the module itself (its own watch)
    if module.__name__.startswith("mcp") and mcp_major() not in (1, 2):
        start_instrumentation()  # the instrumentor declines it, with its one line on stderr
        return
    for dotted, home, name in _entries(module.__name__):
        owner: Any = module
        *path, attribute = dotted.split(".")
        try:
            for part in path:
                owner = getattr(owner, part)
            if isinstance(owner, type) and attribute in vars(owner):
                raw = vars(owner)[attribute]
            else:
                raw = getattr(owner, attribute)
            if getattr(getattr(raw, "__func__", raw), WRAPPER_ATTRIBUTE, None) is not None:
                continue  # already wrapped (a base class's entry, instrumented twice)
            wrap_function_wrapper(owner, attribute, LazyWrapper(home, name))
        except AttributeError:
            pass  # this version has no such function: that hook is not needed
        except Exception as exc:
            where = f"{module.__name__}.{dotted}"
            activation.report(f"mcptrace: could not instrument {where} ({exc!r})")


def _activate_if_recorded(module: ModuleType) -> None:
    """Once mcp (or fastmcp) has loaded: if the sensor has recorded something by then (the
    import of pydantic alone does), activate now, as importing mcp always did, so what the
    program does next is judged by the detections even if it ends within the second the
    sensor would otherwise wait; the MCP instrumentation still waits for its first call."""
    from mcptrace import activation

    if not activation.is_settled() and activation.something_to_write():
        activation.activate()


def install(instrument: Callable[[], None]) -> None:
    """Watch every module the instrumentation patches; each gets its thin wrappers as it
    finishes loading (before anything importing it can take a reference).  ``instrument``
    runs the MCP instrumentation: at the first call of a thin wrapper, after activation.
    An activation for another reason (a record to write, the program's own use of
    OpenTelemetry) leaves it for that first call."""
    _pending.append(instrument)
    for name in ("mcp", "fastmcp"):
        importwatch.after(name, _activate_if_recorded)
    names = {module for _, table in TABLES for module, _, _ in table}
    for name in sorted(names):
        importwatch.after(name, _patch)
