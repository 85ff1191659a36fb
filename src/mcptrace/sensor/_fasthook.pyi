# The optional C accelerator of the sensor's audit hook (_fasthook.c).
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

def install(
    events: dict[str, str | None],
    slow: Callable[[str, tuple[Any, ...]], object],
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
def fast_allowed() -> int: ...
def drain() -> None: ...
def pin(decider: object = None, /) -> None: ...
def forget() -> None: ...
def judge_past_cap() -> None: ...
def code_path(
    registry: object,
    recorder: object,
    last_compile: dict[int, str],
    kinds: dict[str, tuple[str, str]],
    executors: frozenset[str],
    machinery: frozenset[str],
    package_dir: str,
    own_files: frozenset[str],
    importer: tuple[str, ...],
    main_input: list[tuple[str, str]],
    category: str,
    words: tuple[bytes, ...],
    names: frozenset[str],
    span_cap: int,
    import_category: str | None,
    /,
) -> None: ...
def code_path_switch(on: bool, /) -> bool: ...
def fast_code() -> int: ...
