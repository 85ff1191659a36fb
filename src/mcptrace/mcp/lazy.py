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
the thin wrapper, which from then on calls the real one.  The tables below name the
instrumentor's own (``transports``, ``v1``, ``v2``, ``fastmcp``); a test keeps them equal.
"""

from __future__ import annotations

import _thread
import sys

from mcptrace import importwatch
from mcptrace.instrumentor import WRAPPER_ATTRIBUTE, unwrap, wrap_function_wrapper

TYPE_CHECKING = False  # not typing's: this module is imported at every interpreter start
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

# (module, attribute, wrapper's name in ``home``): mcptrace.mcp.transports.CLIENT_TRANSPORT_PATCHES
_TRANSPORTS = "mcptrace.mcp.transports"
TRANSPORTS = (
    ("mcp.client.stdio", "stdio_client", "wrap_stdio_client"),
    ("mcp.client.streamable_http", "streamable_http_client", "wrap_http_client"),
    ("mcp.client.streamable_http", "streamablehttp_client", "wrap_http_client"),
    ("mcp.client.streamable_http", "StreamableHTTPTransport.post_writer", "wrap_post_writer"),
    ("mcp.client.sse", "sse_client", "wrap_sse_client"),
)
# mcptrace.mcp.v1.V1_PATCHES
_V1 = "mcptrace.mcp.v1"
V1 = (
    ("mcp.shared.session", "BaseSession.send_request", "wrap_send_request"),
    ("mcp.shared.session", "BaseSession.send_notification", "wrap_send_notification"),
    ("mcp.shared.session", "BaseSession.__aenter__", "wrap_session_aenter"),
    ("mcp.shared.session", "BaseSession.__aexit__", "wrap_session_aexit"),
    ("mcp.shared.session", "RequestResponder.respond", "wrap_respond"),
    ("mcp.client.session", "ClientSession.__init__", "wrap_client_session_init"),
    ("mcp.client.session", "ClientSession._received_request", "wrap_client_received_request"),
    (
        "mcp.client.session",
        "ClientSession._received_notification",
        "wrap_client_received_notification",
    ),
    ("mcp.server.session", "ServerSession.__init__", "wrap_server_session_init"),
    ("mcp.server.session", "ServerSession._received_request", "wrap_server_received_request"),
    ("mcp.server.lowlevel.server", "Server._handle_message", "wrap_handle_message"),
    (
        "mcp.server.streamable_http",
        "StreamableHTTPServerTransport.connect",
        "wrap_http_transport_connect",
    ),
    ("mcp.server.fastmcp.server", "FastMCP.run_stdio_async", "wrap_server_run"),
    ("mcp.server.fastmcp.server", "FastMCP.run_streamable_http_async", "wrap_server_run"),
    ("mcp.server.fastmcp.server", "FastMCP.run_sse_async", "wrap_server_run"),
)
# mcptrace.mcp.v2.V2_PATCHES
_V2 = "mcptrace.mcp.v2"
V2 = (
    (
        "mcp.shared.jsonrpc_dispatcher",
        "JSONRPCDispatcher.send_raw_request",
        "wrap_send_raw_request",
    ),
    ("mcp.shared.jsonrpc_dispatcher", "JSONRPCDispatcher._resolve_pending", "wrap_resolve_pending"),
    ("mcp.shared.jsonrpc_dispatcher", "JSONRPCDispatcher.notify", "wrap_notify"),
    ("mcp.server.connection", "Connection.for_loop", "wrap_connection_for_loop"),
    ("mcp.server.runner", "aclose_shielded", "wrap_aclose_shielded"),
    ("mcp.server.lowlevel.server", "Server.__init__", "wrap_server_init"),
    ("mcp.client.session", "ClientSession.__init__", "wrap_client_session_init"),
    ("mcp.client.session", "ClientSession.__aexit__", "wrap_client_session_aexit"),
    ("mcp.client.session", "ClientSession._on_request", "wrap_client_handles"),
    ("mcp.client.session", "ClientSession._on_notify", "wrap_client_handles"),
    (
        "mcp.client.session",
        "ClientSession._intercept_notification",
        "wrap_client_intercept_notification",
    ),
    ("mcp.server.mcpserver.server", "MCPServer.run_stdio_async", "wrap_server_run"),
    ("mcp.server.mcpserver.server", "MCPServer.run_streamable_http_async", "wrap_server_run"),
    ("mcp.server.mcpserver.server", "MCPServer.run_sse_async", "wrap_server_run"),
)
# mcptrace.mcp.fastmcp.FASTMCP_PATCHES
_FASTMCP = "mcptrace.mcp.fastmcp"
FASTMCP = (
    ("fastmcp.server.server", "FastMCP.run_async", "wrap_fastmcp_run_async"),
    (
        "fastmcp.server.providers.local_provider.local_provider",
        "LocalProvider._add_component",
        "wrap_local_provider_add_component",
    ),
)
TABLES = ((_TRANSPORTS, TRANSPORTS), (_V1, V1), (_V2, V2), (_FASTMCP, FASTMCP))

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
    chosen = [(_TRANSPORTS, TRANSPORTS), (_FASTMCP, FASTMCP)]
    if major == 1:
        chosen.append((_V1, V1))
    elif major == 2:
        chosen.append((_V2, V2))
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
