"""Per-span state and its registry: which span an observation belongs to.

Usage::

    registry = SpanRegistry()
    registry.span_started(span, parent_context)   # from the enricher, for every span
    state, how = registry.attribute()              # inside the hook: (SpanState, "context")
    registry.span_ended(span_id)

Rules (DESIGN.md, "Runtime sensor"):

1. The current span, if it is one of ours and recording: ``context``.
1b. The current span is one of ours that has ended (a thread the tool started outlived the
   call): still that span, ``context``, as log records only (the span is gone) marked
   ``mcptrace.span.ended``.  Never another call's span, in flight or not.
2. No span in the context (a plain ``threading.Thread``, an executor, asyncio's resolver thread): if
   exactly one MCP server request is in flight, that request, ``inferred``.
3. Else, in a child process started with ``TRACEPARENT``, its process span, ``inferred``.
4. Else, before the first MCP request, the start-up bucket (summarised), ``none``.
5. Else the unattributed bucket: log records only, ``none``.

Each span's counters live on its nearest enclosing MCP SERVER span (``root``), or on its
outermost tracked ancestor when there is none.
"""

from __future__ import annotations

from mcptrace.record import vocabulary as ev

TYPE_CHECKING = False  # not typing's: imported as the interpreter starts
if TYPE_CHECKING:
    from collections import OrderedDict
    from collections.abc import Callable, Mapping
    from contextvars import ContextVar
    from typing import Any

    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import Span
    from opentelemetry.trace import SpanContext, SpanKind

# also SPAN_KEY and SUPPRESS_KEY, looked up on use (__getattr__ below)
__all__ = ["Attribution", "SpanRegistry", "SpanState"]

# Until OpenTelemetry is loaded no span of ours can exist: the hook reads an empty context.
_NO_CONTEXT: Mapping[str, object] = {}
_NO_SPAN = object()  # no context to read a parent span from: get_current_span decides


def _ordered_dict() -> OrderedDict[Any, Any]:
    from _collections import OrderedDict  # type: ignore[import-not-found]  # (no collections/)

    return OrderedDict()  # type: ignore[no-any-return]


def _no_context() -> Mapping[str, object]:
    return _NO_CONTEXT


def otel_keys() -> tuple[str, str]:
    """(suppress-instrumentation key, current-span key) of OTel's context (imports the API)."""
    from opentelemetry import context as otel_context
    from opentelemetry.trace.propagation import _SPAN_KEY

    try:
        from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY as suppress
    except ImportError:  # pragma: no cover - older API
        suppress = otel_context.create_key("suppress_instrumentation")
    return suppress, _SPAN_KEY


def __getattr__(name: str) -> Any:
    # SUPPRESS_KEY / SPAN_KEY: looked up on use, so importing the sensor loads no OTel
    if name == "SUPPRESS_KEY":
        return otel_keys()[0]
    if name == "SPAN_KEY":
        return otel_keys()[1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def context_variable() -> ContextVar[Context] | None:
    """The ContextVar behind OTel's current context, if the runtime context is the default."""
    from contextvars import ContextVar

    from opentelemetry import context as otel_context
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    if isinstance(runtime, ContextVarsRuntimeContext) and isinstance(variable, ContextVar):
        return variable
    return None


class _Otel:
    """What span starts read from OpenTelemetry, imported with the first span (OTel is loaded
    by then), not at interpreter start, and not again on every span (an import statement
    costs a lookup in ``sys.modules`` each time)."""

    server: object = None
    client: object = None
    parent_span_context: Callable[[Context | None], SpanContext] | None = None
    # the SDK's span class and its attribute container: a span of exactly that class is read
    # from its fields, which its properties return (``attributes``: a read-only view of the
    # container, whose ``in`` goes through the Mapping ABC, a raised KeyError for a miss)
    sdk_span: object = None
    bounded: object = None
    # the current-span key of OTel's context and its span context class: a parent that is an
    # SDK span in the parent context is read from there (what get_current_span returns)
    span_key: str = ""
    span_context_class: object = None
    non_recording: object = None  # a remote parent (extracted from _meta, TRACEPARENT)

    @classmethod
    def load(cls) -> None:
        from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, get_current_span
        from opentelemetry.trace.propagation import _SPAN_KEY

        cls.server, cls.client = SpanKind.SERVER, SpanKind.CLIENT
        cls.span_key = _SPAN_KEY
        # a SpanContext is a tuple (trace_id, span_id, is_remote, flags, state, is_valid): its
        # items are read directly only while this SDK lays it out so (else its properties)
        probe = SpanContext(trace_id=1, span_id=2, is_remote=False)
        laid_out = len(probe) == 6 and probe[1] == 2 and probe[5] is True
        cls.span_context_class = SpanContext if laid_out else None
        cls.non_recording = NonRecordingSpan
        cls.parent_span_context = lambda context: get_current_span(context).get_span_context()
        try:
            from opentelemetry.attributes import BoundedAttributes
            from opentelemetry.sdk.trace import _Span

            cls.sdk_span, cls.bounded = _Span, BoundedAttributes
        except Exception:  # another SDK: its spans are read through their properties
            pass


def _span_parts(span: Any) -> tuple[SpanContext, Any, SpanKind, Any]:
    """(span context, instrumentation scope, kind, attributes) of a started span."""
    if type(span) is _Otel.sdk_span:
        held = span._attributes
        inner = held._dict if type(held) is _Otel.bounded else None
        if type(inner) is dict:
            return span._context, span._instrumentation_scope, span._kind, inner
    return span.get_span_context(), span.instrumentation_scope, span.kind, span.attributes


def is_mcp_server_span(kind: SpanKind, attributes: Any, scope_name: str | None) -> bool:
    """True for a span that handles one MCP message on the server side (any SDK version)."""
    if _Otel.server is None:
        _Otel.load()
    if kind is not _Otel.server:
        return False
    if attributes and ev.MCP_METHOD_NAME in attributes:
        return True
    return scope_name in (ev.SDK_SCOPE, ev.MCPTRACE_SCOPE)


def is_mcp_client_span(kind: SpanKind, attributes: Any, scope_name: str | None) -> bool:
    """True for a span that sends one MCP message on the client side (any SDK version)."""
    if _Otel.client is None:
        _Otel.load()
    if kind is not _Otel.client:
        return False
    if attributes and ev.MCP_METHOD_NAME in attributes:
        return True
    return scope_name in (ev.SDK_SCOPE, ev.MCPTRACE_SCOPE)


def _context_getter() -> Callable[[], Mapping[str, object]]:
    """The fastest way to read the current OTel context (a ContextVar read when possible)."""
    from opentelemetry import context as otel_context

    variable = context_variable()
    return variable.get if variable is not None else otel_context.get_current


class SpanState:
    """What the record stage keeps for one live span (or a bucket standing in for none).

    Writers: ``Recorder.record`` and the hook's count-only step write the counters and
    buffers holding ``Recorder.lock``, and so does the policy's ``ViolationRecorder`` (it
    takes the same lock through ``record.recorder.active()``); the C hook keeps its counts
    in a table of its own and adds them under the GIL only when ``Recorder.span_additions``
    drains it.  Its contract with these slots is in ``sensor/_fasthook.c``
    (``NATIVE_CONTRACT``, asserted by ``tests/sensor/test_native_contract.py``).
    """

    __slots__ = (
        "counts",
        "dropped",
        "ended",
        "events",
        "is_mcp",
        "kept",
        "key",
        "label",
        "mcp_client",
        "past_cap",
        "recent",
        "root",
        "shown",
        "span_context",
        "symbols",
    )

    def __init__(self, span_context: SpanContext | None, is_mcp: bool = False, label: str = ""):
        self.span_context = span_context
        self.is_mcp = is_mcp
        self.label = label
        self.root: SpanState = self
        self.key: object = None  # the span object, the hot path's lookup key
        self.ended = False  # the span has ended: records become log records only
        # an MCP client request or a span under one: its network activity is the transport's
        self.mcp_client = False
        self.kept: dict[str, int] = {}  # events seen on this span, per category (for caps)
        self.shown: dict[str, int] = {}  # records that became span events, per category
        self.events: list[Any] = []  # records that become span events
        self.counts: dict[str, int] = {}  # on a root: events per category in its subtree
        self.dropped = 0  # on a root: events that became neither span event nor log record
        self.symbols: set[tuple[object, object]] | None = None  # native symbols looked up
        self.recent: dict[tuple[object, ...], Any] = {}  # records open to repeats (recorder)
        self.past_cap: tuple[list[Any], Any] | None = None  # records past the cap (detector)

    def reset(self) -> None:
        self.symbols = None
        self.past_cap = None
        self.recent.clear()
        self.kept.clear()
        self.shown.clear()
        self.events.clear()
        self.counts.clear()
        self.dropped = 0


Attribution = tuple[SpanState, str]

# Ended roots standing in for evicted ones (SpanRegistry.keep_ended), per (is_mcp, label,
# mcp_client): what a late reader of ``state.root`` asks of a root that has ended.
_ENDED_ROOTS: dict[tuple[bool, str, bool], SpanState] = {}


def _ended_root(state: SpanState) -> SpanState:
    kind = (state.is_mcp, state.label, state.mcp_client)
    root = _ENDED_ROOTS.get(kind)
    if root is None:
        root = SpanState(None, state.is_mcp, state.label)
        root.mcp_client = state.mcp_client
        root.ended = True
        root = _ENDED_ROOTS.setdefault(kind, root)
    return root


# Ended spans kept for late events from the threads their calls started (rule 1b).  Older
# ones are rebuilt from the span object itself (``SpanRegistry.adopt_ended``).
ENDED_SPANS_KEPT = 256


class SpanRegistry:
    def __init__(self) -> None:
        self.by_span: dict[object, SpanState] = {}
        self.by_id: dict[int, SpanState] = {}
        self.in_flight: dict[int, SpanState] = {}
        # ended span object → its state (rule 1b), oldest first: a FIFO of the last
        # ENDED_SPANS_KEPT.  An OrderedDict, because evicting the oldest key of a plain dict
        # (``pop(next(iter(d)))``) walks over every slot freed by earlier evictions.
        self.ended: OrderedDict[object, SpanState] = _ordered_dict()
        self.process: SpanState | None = None
        self.startup = SpanState(None, label="startup")
        self.unattributed = SpanState(None, label="unattributed")
        self.requests_seen = False
        self.on_first_request: Callable[[], None] | None = None
        # what the hook reads OTel's context with: nothing until link_otel()
        self.current_context: Callable[[], Mapping[str, object]] = _no_context
        self.keys: tuple[str, str] = ("", "")  # (suppress key, span key) once linked
        self.linked = False

    def link_otel(self) -> None:
        """Read the current span from OTel's context from now on (once the SDK is set up)."""
        if not self.linked:
            self.keys = otel_keys()
            self.current_context = _context_getter()
            self.linked = True

    # --- span lifecycle (called from the enricher, off the hot path)

    def span_started(self, span: Span, parent_context: Context | None) -> SpanState:
        if _Otel.parent_span_context is None:
            _Otel.load()
        span_context, scope, kind, attributes = _span_parts(span)
        scope_name = scope.name if scope else None
        is_mcp = is_mcp_server_span(kind, attributes, scope_name)
        state = SpanState(span_context, is_mcp)
        context = parent_context
        if context is None and self.linked:  # the current context (a ContextVar read)
            context = self.current_context()  # type: ignore[assignment]
        held = context.get(_Otel.span_key) if context is not None else _NO_SPAN
        if held is None:  # no span in it: get_current_span's INVALID_SPAN, no parent
            parent = None
        elif type(held) is _Otel.sdk_span or type(held) is _Otel.non_recording:
            parent = held._context  # type: ignore[attr-defined]  # get_current_span's answer
        else:
            parent = _Otel.parent_span_context(parent_context)  # type: ignore[misc]
        if parent is None:
            parent_state = None
        elif type(parent) is _Otel.span_context_class:  # (its properties read these items)
            parent_state = self.by_id.get(parent[1]) if parent[5] else None
        else:
            parent_state = self.by_id.get(parent.span_id) if parent.is_valid else None
        if not is_mcp and parent_state is not None:
            state.root = parent_state.root
        if not is_mcp:
            state.mcp_client = (parent_state is not None and parent_state.mcp_client) or (
                is_mcp_client_span(kind, attributes, scope_name)
            )
        state.key = span
        self.by_span[span] = state
        span_id = span_context.span_id
        self.by_id[span_id] = state
        if is_mcp:
            self.in_flight[span_id] = state
            if not self.requests_seen:
                self.requests_seen = True
                if self.on_first_request is not None:
                    self.on_first_request()
        return state

    def span_ended(self, span_id: int) -> SpanState | None:
        state = self.by_id.pop(span_id, None)
        if state is None:
            return None
        self.in_flight.pop(span_id, None)
        span = state.key
        self.by_span.pop(span, None)
        state.ended = True
        self.keep_ended(span, state)
        return state

    def keep_ended(self, span: object, state: SpanState) -> None:
        ended = self.ended
        ended[span] = state
        if len(ended) > ENDED_SPANS_KEPT:
            try:
                evicted = ended.popitem(last=False)[1]
            except KeyError:  # another thread got there first
                return
            # Nothing looks it up by its span any more (a late record adopts the span anew),
            # so the span (its whole object graph) goes now.  A root's state is a cycle (its
            # root is itself): left so, the state and what it holds would wait for a full
            # collection of the cyclic GC, which a server may not run for thousands of
            # calls.  A record still on its way to it (queued before this) finds a shared
            # ended root of the same kind instead (its counters were final at its end).
            evicted.key = None
            if evicted.root is evicted:
                evicted.root = _ended_root(evicted)

    def adopt_ended(self, span: object) -> SpanState | None:
        """A state for an ended SDK span no longer kept (rule 1b), or None if ``span`` is not
        an ended span of this SDK (a remote parent, another provider's span)."""
        from opentelemetry.sdk.trace import Span  # a span exists: the SDK is loaded

        if not isinstance(span, Span) or span.end_time is None:
            return None
        scope = span.instrumentation_scope
        state = SpanState(
            span.get_span_context(),
            is_mcp_server_span(span.kind, span.attributes, scope.name if scope else None),
        )
        state.key = span
        state.ended = True
        self.keep_ended(span, state)
        return state

    # --- the attribution step (hot path)

    def attribute(self) -> Attribution | None:
        """(state, how) for the current thread.  OpenTelemetry's suppress-instrumentation flag
        is not consulted (tool code can set it too): mcptrace's own work runs paused."""
        context = self.current_context()
        span = context.get(self.keys[1])
        if span is not None:
            state = self.by_span.get(span)
            if state is not None:
                return state, ev.CONTEXT
        return self.attribute_without_span(span)

    def attribute_without_span(self, span: object = None) -> Attribution:
        """Rules 1b-5: ``span`` (the context's span, if any) is not a live span of ours."""
        if span is not None:
            state = self.ended.get(span)
            if state is None:
                state = self.adopt_ended(span)
            if state is not None:
                return state, ev.CONTEXT
        in_flight = self.in_flight
        if len(in_flight) == 1:
            try:
                return next(iter(in_flight.values())), ev.INFERRED
            except (StopIteration, RuntimeError):  # it ended meanwhile
                pass
        if self.process is not None:
            return self.process, ev.INFERRED
        if not self.requests_seen:
            return self.startup, ev.NONE
        return self.unattributed, ev.NONE

    def reset(self) -> None:
        """After fork: the parent's spans are not ours to end."""
        self.by_span.clear()
        self.by_id.clear()
        self.in_flight.clear()
        self.ended.clear()
        self.process = None
        self.startup.reset()
        self.unattributed.reset()
