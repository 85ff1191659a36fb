"""Wrappers made from one small step, so an instrumented function's hook says only what it
adds; a step that fails is swallowed and never reaches the instrumented program.  A wrapper
has wrapt's signature, ``wrapper(wrapped, instance, args, kwargs)``, and is applied by
``mcptrace.instrumentor.wrap_function_wrapper`` (plain functions, no wrapt).

Usage::

    def _tag(instance, args, kwargs, result): ...
    wrap_init = after(_tag)              # a wrapper: the call, then _tag(...)
    wrap_aexit = finally_async(_close)   # await the call; _close(instance, args, kwargs) after
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]
AfterStep = Callable[[Any, tuple[Any, ...], dict[str, Any], Any], None]
FinalStep = Callable[[Any, tuple[Any, ...], dict[str, Any]], None]


def after(step: AfterStep) -> Wrapper:
    """A wrapper that calls ``step(instance, args, kwargs, result)`` once the call returned."""

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = wrapped(*args, **kwargs)
        try:
            step(instance, args, kwargs, result)
        except Exception:
            pass
        return result

    return wrapper


def after_async(step: AfterStep) -> Wrapper:
    """``after`` for a coroutine function."""

    async def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = await wrapped(*args, **kwargs)
        try:
            step(instance, args, kwargs, result)
        except Exception:
            pass
        return result

    return wrapper


def finally_async(step: FinalStep) -> Wrapper:
    """A coroutine wrapper that calls ``step(instance, args, kwargs)`` however the call ends."""

    async def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            return await wrapped(*args, **kwargs)
        finally:
            try:
                step(instance, args, kwargs)
            except Exception:
                pass

    return wrapper


def with_argument(
    args: tuple[Any, ...], kwargs: dict[str, Any], position: int, name: str, value: Any
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The call's arguments with one replaced, passed by position or by name as the caller
    passed it."""
    if len(args) > position:
        return (*args[:position], value, *args[position + 1 :]), kwargs
    return args, {**kwargs, name: value}
