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


def unwrap(owner: Any, attribute: str) -> None:
    """Undo ``wrapt.wrap_function_wrapper(owner, attribute, ...)``; a no-op if not wrapped."""
    import wrapt  # only instrumentors that wrapped something get here, and they loaded it

    proxy = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)  # wrapt 2 / wrapt 1
    # A class's own dict, not getattr: that would bind a wrapped classmethod or staticmethod
    # and put the bound method back in place of the descriptor.
    current = (
        vars(owner).get(attribute) if isinstance(owner, type) else getattr(owner, attribute, None)
    )
    if isinstance(current, proxy) and hasattr(current, "__wrapped__"):
        setattr(owner, attribute, current.__wrapped__)
