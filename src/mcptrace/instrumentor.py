"""The base of mcptrace's instrumentors: BaseInstrumentor's contract without its import cost.

``opentelemetry-instrument`` loads an instrumentor entry point and calls
``instrumentor().instrument(**kwargs)``; that is all it needs.  OpenTelemetry's
``BaseInstrumentor`` adds a dependency check that imports ``packaging`` and the semantic
convention helpers, about a tenth of a second at every interpreter start: mcptrace's
instrumentors check what they need themselves, so they keep the contract (one instance per
class, ``instrument``/``uninstrument`` idempotent, ``is_instrumented_by_opentelemetry``) and
skip the import.

Usage::

    class MyInstrumentor(Instrumentor):
        def _instrument(self, **kwargs): ...
        def _uninstrument(self, **kwargs): ...

    MyInstrumentor().instrument()
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing's: instrumentors are imported at every interpreter start
if TYPE_CHECKING:
    from collections.abc import Collection
    from typing import Any


class Instrumentor:
    """One instance per class; ``instrument`` and ``uninstrument`` run their hook once."""

    _instance: Instrumentor | None = None
    _is_instrumented_by_opentelemetry = False

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # ``cls._instance`` is looked up through the class hierarchy but assigned on ``cls``,
        # so every subclass gets its own single instance.
        if cls.__dict__.get("_instance") is None:
            cls._instance = object.__new__(cls)
        return cls._instance

    @property
    def is_instrumented_by_opentelemetry(self) -> bool:
        return self._is_instrumented_by_opentelemetry

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def instrument(self, **kwargs: Any) -> None:
        if not self._is_instrumented_by_opentelemetry:
            self._instrument(**kwargs)
            self._is_instrumented_by_opentelemetry = True

    def uninstrument(self, **kwargs: Any) -> None:
        if self._is_instrumented_by_opentelemetry:
            self._uninstrument(**kwargs)
            self._is_instrumented_by_opentelemetry = False

    def _instrument(self, **kwargs: Any) -> None:
        raise NotImplementedError

    def _uninstrument(self, **kwargs: Any) -> None:
        raise NotImplementedError


# Set on every wrapper ``wrap_function_wrapper`` makes: the hook it calls (idempotence).
WRAPPER_ATTRIBUTE = "_mcptrace_wrapper"
ORIGINAL_ATTRIBUTE = "_mcptrace_original"


def _raw_attribute(owner: Any, attribute: str) -> Any:
    """``owner.attribute`` without binding: a class's own dict or its bases' (a descriptor
    as it is stored), a module's attribute as it is."""
    if isinstance(owner, type):
        for klass in owner.__mro__:
            if attribute in vars(klass):
                return vars(klass)[attribute]
        raise AttributeError(f"{owner.__qualname__} has no attribute {attribute!r}")
    return getattr(owner, attribute)


def _plain_wrapper(function: Any, wrapper: Any, binding: str) -> Any:
    """A plain function in the place of ``function`` calling ``wrapper(wrapped, instance,
    args, kwargs)`` as wrapt would: ``binding`` is "none" (a module's function or a static
    method: instance None), "self" (a method: the instance, and ``wrapped`` bound to it)
    or "class" (a classmethod: the class).  A coroutine function stays one, so
    ``inspect.iscoroutinefunction`` and frameworks asking it see no difference."""
    import functools
    import inspect
    from types import MethodType

    if binding == "none":
        if inspect.iscoroutinefunction(function):

            async def patched_async(*args: Any, **kwargs: Any) -> Any:
                return await wrapper(function, None, args, kwargs)

            patched: Any = patched_async
        else:

            def patched(*args: Any, **kwargs: Any) -> Any:
                return wrapper(function, None, args, kwargs)

    elif inspect.iscoroutinefunction(function):

        async def patched_method_async(instance: Any, /, *args: Any, **kwargs: Any) -> Any:
            return await wrapper(MethodType(function, instance), instance, args, kwargs)

        patched = patched_method_async
    else:

        def patched(instance: Any, /, *args: Any, **kwargs: Any) -> Any:
            return wrapper(MethodType(function, instance), instance, args, kwargs)

    functools.update_wrapper(patched, function)  # name, doc, __wrapped__ (signature)
    setattr(patched, WRAPPER_ATTRIBUTE, wrapper)
    return patched


def wrap_function_wrapper(owner: Any, attribute: str, wrapper: Any) -> None:
    """Replace ``owner.attribute`` (a module's function, or a class's function, static or
    class method) by a plain function calling ``wrapper(wrapped, instance, args, kwargs)``,
    wrapt's signature, without loading wrapt.  ``unwrap`` puts the original back.

    TypeError for anything else (a builtin, a property, a callable object): the caller
    reports it and leaves that attribute alone."""
    import inspect

    raw = _raw_attribute(owner, attribute)
    if isinstance(raw, (staticmethod, classmethod)):
        binding = "none" if isinstance(raw, staticmethod) else "self"
        function = _plain_wrapper(raw.__func__, wrapper, binding)
        replacement: Any = type(raw)(function)
    elif inspect.isfunction(raw) and not inspect.isasyncgenfunction(raw):
        function = replacement = _plain_wrapper(
            raw, wrapper, "self" if isinstance(owner, type) else "none"
        )
    else:
        raise TypeError(f"cannot wrap {attribute!r}: {type(raw).__name__} is not a function")
    setattr(function, ORIGINAL_ATTRIBUTE, raw)  # what unwrap puts back, descriptor and all
    setattr(owner, attribute, replacement)


def wrapped_by(owner: Any, attribute: str, wrapper: Any) -> bool:
    """``owner.attribute`` is already ``wrapper``'s (instrumenting twice wraps once)."""
    try:
        raw = _raw_attribute(owner, attribute)
    except AttributeError:
        return False
    function = getattr(raw, "__func__", raw)  # a static or class method's function
    return getattr(function, WRAPPER_ATTRIBUTE, None) is wrapper


def unwrap(owner: Any, attribute: str) -> None:
    """Undo ``wrap_function_wrapper(owner, attribute, ...)`` (or wrapt's); a no-op if not
    wrapped."""
    # A class's own dict, not getattr: that would bind a wrapped classmethod or staticmethod
    # and put the bound method back in place of the descriptor.
    current = (
        vars(owner).get(attribute) if isinstance(owner, type) else getattr(owner, attribute, None)
    )
    if current is None:
        return
    function = getattr(current, "__func__", current)  # a static or class method's function
    if getattr(function, WRAPPER_ATTRIBUTE, None) is not None:
        setattr(owner, attribute, getattr(function, ORIGINAL_ATTRIBUTE))
        return
    wrapt = sys.modules.get("wrapt")  # wrapped by wrapt: only if something loaded it
    if wrapt is None:
        return
    proxy = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)  # wrapt 2 / wrapt 1
    if isinstance(current, proxy) and hasattr(current, "__wrapped__"):
        setattr(owner, attribute, current.__wrapped__)
