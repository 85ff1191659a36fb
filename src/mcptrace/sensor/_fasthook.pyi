# The optional C accelerator of the sensor's audit hook (_fasthook.c).
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

def install(
    events: dict[str, str | None],
    slow: Callable[[str, tuple[Any, ...]], None],
    sensor: object,
    paused: set[int],
    context_var: ContextVar[Any] | None,
    suppress_key: str | None,
    span_key: str | None,
    by_span: dict[object, Any],
    policy: list[Any],
    log_cap: int,
    /,
) -> None: ...
def link(context_var: ContextVar[Any], suppress_key: str, span_key: str, /) -> None: ...
def fast_counted() -> int: ...
def drain() -> None: ...
def pin() -> None: ...
