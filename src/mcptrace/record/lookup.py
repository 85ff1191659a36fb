"""``attribute(value, name, default)``: ``getattr(value, name, default)`` for the per-call
paths that read a result of either mcp major by the names it may have, without paying for
a pydantic model's miss.

Usage::

    root = attribute(result, "root", result)        # 1.x wraps a result; 2.x does not
    error = attribute(root, "isError") is True or attribute(root, "is_error") is True

A name a pydantic model does not have reaches ``BaseModel.__getattr__``, which formats and
raises an ``AttributeError`` for ``getattr`` to swallow: ≈2–4 µs a miss, and a server's
``tools/call`` result was read with five of them (``root``, ``isError``, ``contents``,
``messages``, ``structuredContent``).  For such a name the answer is what that
``__getattr__`` would find — the instance's own value or an extra field — read directly.
Everything else (a name the class has, a private attribute, another ``__getattr__``, not a
pydantic model at all) goes through ``getattr`` itself.
"""

from __future__ import annotations

import sys
from typing import Any

_NOTHING = object()
# (type, name) -> whether ``getattr`` of that name on an instance ends in pydantic's own
# ``__getattr__`` for a name the class does not have (decided once per pair; bounded)
_PLAIN_MISS: dict[tuple[type, str], bool] = {}


def _is_plain_miss(kind: type, name: str) -> bool:
    main = sys.modules.get("pydantic.main")
    model = getattr(main, "BaseModel", None)
    if model is None or not isinstance(kind, type) or not issubclass(kind, model):
        return False
    return (
        kind.__getattribute__ is object.__getattribute__  # type: ignore[comparison-overlap]
        and getattr(kind, "__getattr__", None) is getattr(model, "__getattr__", _NOTHING)
        and name not in (getattr(kind, "__private_attributes__", None) or ())
        and not name.startswith("__")
        and not hasattr(kind, name)
    )


def attribute(value: Any, name: str, default: Any = None) -> Any:
    """``getattr(value, name, default)``, without the exception of a pydantic model's miss."""
    kind = type(value)
    plain = _PLAIN_MISS.get((kind, name))
    if plain is None:
        plain = _is_plain_miss(kind, name)
        if len(_PLAIN_MISS) >= 1024:
            _PLAIN_MISS.clear()
        _PLAIN_MISS[(kind, name)] = plain
    if not plain:
        return getattr(value, name, default)
    # The class has no such name: object.__getattribute__ finds only the instance's own
    # value, and pydantic's __getattr__ only an extra field, else the miss.
    try:
        own = object.__getattribute__(value, "__dict__")
    except AttributeError:
        own = None
    if own is not None:
        found = own.get(name, _NOTHING)
        if found is not _NOTHING:
            return found
    try:
        extra = object.__getattribute__(value, "__pydantic_extra__")
    except AttributeError:
        extra = None
    if extra and name in extra:
        return extra[name]
    return default
