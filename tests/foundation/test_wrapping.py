"""mcptrace.instrumentor.wrap_function_wrapper: wrapt's wrapper contract with plain functions.

Every kind of attribute the instrumentors patch (a module's function, a method, an async
method, a static and a class method, one inherited from a base class, ``__init__``) gets
``wrapper(wrapped, instance, args, kwargs)`` as wrapt gives it; what the program sees of the
attribute (its name, signature, ``iscoroutinefunction``, what it returns or raises) does
not change; wrapping twice with the same wrapper wraps once; ``unwrap`` puts back the very
object that was there.  Anything else is refused, not half-wrapped.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import textwrap
import types
from typing import Any

import pytest

from mcptrace.instrumentor import unwrap, wrap_function_wrapper, wrapped_by


class Base:
    def inherited(self, value: int) -> int:
        return value + 1


class Target(Base):
    def __init__(self, name: str) -> None:
        self.name = name

    def method(self, value: int, *, scale: int = 1) -> tuple[str, int]:
        """A method."""
        return self.name, value * scale

    async def method_async(self, value: int) -> tuple[str, int]:
        await asyncio.sleep(0)
        return self.name, value

    @staticmethod
    def static(value: int) -> int:
        return value * 2

    @classmethod
    def klass(cls, value: int) -> tuple[str, int]:
        return cls.__name__, value

    def fails(self) -> None:
        raise KeyError("from the program")


def module_function(first: int, second: int = 2) -> int:
    return first - second


async def module_coroutine(value: int) -> int:
    await asyncio.sleep(0)
    return value


def _module() -> types.ModuleType:
    module = types.ModuleType("wrapping_target")
    module.module_function = module_function  # type: ignore[attr-defined]
    module.module_coroutine = module_coroutine  # type: ignore[attr-defined]
    return module


class Calls:
    """A wrapper that records what it was given and changes nothing."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, Any, tuple[Any, ...], dict[str, Any]]] = []

    def __call__(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        self.seen.append((wrapped, instance, args, kwargs))
        return wrapped(*args, **kwargs)


@pytest.fixture
def target() -> Any:
    """A fresh subclass each test, so patches never leak between tests."""
    return type("Target", (Target,), {})


def test_a_method_gets_the_instance_and_its_bound_original(target: Any) -> None:
    calls = Calls()
    original = Target.__dict__["method"]
    target.method = original  # its own attribute, as a patched class's
    wrap_function_wrapper(target, "method", calls)
    obj = target("a")
    assert obj.method(3, scale=2) == ("a", 6)
    wrapped, instance, args, kwargs = calls.seen[-1]
    assert instance is obj and args == (3,) and kwargs == {"scale": 2}
    assert wrapped.__func__ is original and wrapped.__self__ is obj
    # called through the class, as wrapt allows: the instance is still found
    assert target.method(obj, 4) == ("a", 4)
    assert calls.seen[-1][1] is obj and calls.seen[-1][2] == (4,)
    patched = target.__dict__["method"]
    assert patched.__name__ == "method" and patched.__doc__ == "A method."
    assert inspect.signature(patched) == inspect.signature(original)


def test_init_and_an_inherited_method(target: Any) -> None:
    calls = Calls()
    wrap_function_wrapper(target, "__init__", calls)
    wrap_function_wrapper(target, "inherited", calls)
    obj = target("b")
    assert obj.name == "b" and obj.inherited(1) == 2
    assert [seen[1] for seen in calls.seen] == [obj, obj]
    assert "inherited" not in vars(Base) or vars(Base)["inherited"] is Base.inherited
    unwrap(target, "inherited")
    assert target.__dict__["inherited"] is Base.__dict__["inherited"]


def test_async_methods_and_functions_stay_coroutine_functions(target: Any) -> None:
    calls = Calls()
    seen_async: list[Any] = []

    async def async_wrapper(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        seen_async.append(instance)
        return await wrapped(*args, **kwargs)

    module = _module()
    wrap_function_wrapper(target, "method_async", async_wrapper)
    wrap_function_wrapper(module, "module_coroutine", calls)  # a plain wrapper of a coroutine
    assert inspect.iscoroutinefunction(target.method_async)
    assert inspect.iscoroutinefunction(module.module_coroutine)
    assert asyncio.iscoroutinefunction(target("c").method_async)
    obj = target("c")
    assert asyncio.run(obj.method_async(5)) == ("c", 5)
    assert asyncio.run(module.module_coroutine(7)) == 7
    assert seen_async == [obj] and calls.seen[-1][1] is None


def test_static_and_class_methods_keep_their_kind(target: Any) -> None:
    calls = Calls()
    static, klass = Target.__dict__["static"], Target.__dict__["klass"]
    wrap_function_wrapper(target, "static", calls)
    wrap_function_wrapper(target, "klass", calls)
    assert isinstance(target.__dict__["static"], staticmethod)
    assert isinstance(target.__dict__["klass"], classmethod)
    assert target.static(4) == 8 and target("d").static(5) == 10
    assert calls.seen[-1][1] is None
    assert target.klass(1) == ("Target", 1) and calls.seen[-1][1] is target
    subclass = type("Sub", (target,), {})
    assert subclass.klass(2) == ("Sub", 2) and calls.seen[-1][1] is subclass
    unwrap(target, "static")
    unwrap(target, "klass")
    assert target.__dict__["static"] is static and target.__dict__["klass"] is klass


def test_a_module_function(target: Any) -> None:
    calls = Calls()
    module = _module()
    wrap_function_wrapper(module, "module_function", calls)
    assert module.module_function(5, second=1) == 4
    assert calls.seen[-1] == (module_function, None, (5,), {"second": 1})
    assert inspect.signature(module.module_function) == inspect.signature(module_function)
    unwrap(module, "module_function")
    assert module.module_function is module_function


def test_what_the_original_raises_reaches_the_caller(target: Any) -> None:
    wrap_function_wrapper(target, "fails", Calls())
    with pytest.raises(KeyError, match="from the program"):
        target("e").fails()


def test_twice_wraps_once_and_unwrap_restores_the_original(target: Any) -> None:
    calls = Calls()
    original = Target.__dict__["method"]
    target.method = original
    wrap_function_wrapper(target, "method", calls)
    first = target.__dict__["method"]
    assert wrapped_by(target, "method", calls)
    assert not wrapped_by(target, "method", Calls())  # another wrapper is not ours
    assert not wrapped_by(target, "no_such_attribute", calls)
    unwrap(target, "method")
    assert target.__dict__["method"] is original and not wrapped_by(target, "method", calls)
    unwrap(target, "method")  # not wrapped: nothing happens
    assert target.__dict__["method"] is original
    assert first is not original


def test_anything_but_a_function_is_refused(target: Any) -> None:
    module = _module()
    module.builtin = len  # type: ignore[attr-defined]
    target.prop = property(lambda self: 1)

    async def generator() -> Any:
        yield 1

    module.generator = generator  # type: ignore[attr-defined]
    for owner, attribute in ((module, "builtin"), (target, "prop"), (module, "generator")):
        before = vars(owner)[attribute]
        with pytest.raises(TypeError):
            wrap_function_wrapper(owner, attribute, Calls())
        assert vars(owner)[attribute] is before
    with pytest.raises(AttributeError):
        wrap_function_wrapper(target, "missing", Calls())


def test_unwrap_still_undoes_a_wrapt_wrapper() -> None:
    """What a program (or an older mcptrace) wrapped with wrapt: unwrap puts it back."""
    pytest.importorskip("wrapt")  # not mcptrace's dependency; opentelemetry-instrumentation's
    code = textwrap.dedent(
        """
        import types, wrapt
        from mcptrace.instrumentor import unwrap
        def function(): return 1
        module = types.ModuleType("m"); module.function = function
        wrapt.wrap_function_wrapper(module, "function", lambda w, i, a, k: w(*a, **k) + 1)
        assert module.function() == 2
        unwrap(module, "function")
        assert module.function is function
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr
