"""One OTLP/JSON export request as spool text, its members already written as text.

The one place that knows the request's nesting: members grouped by resource, then by
scope, in first-seen order (as the SDK encoders group them), each group's envelope
(``{"resource":{...},"scopeSpans":[...],"schemaUrl":...}``) around them.  Each signal gives
only its member encoder (``otlp_json._span_text``, ``log_text._log_text``), so a line is
exactly ``json.dumps(request_tree(signal, items))`` with compact separators, byte for byte
(tests/foundation/test_otlp_tree.py and test_log_text.py hold them equal).  A resource's and
a scope's own text is made once per object: the SDK shares them between items.

Usage::

    line = request_line("logs", records, member_text)   # "" for no items
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from mcptrace.config import Signal
from mcptrace.export import otlp_tree

_quote = json.encoder.encode_basestring  # json.dumps(text, ensure_ascii=False), in C
_CACHE_LIMIT = 1024
_envelope_text: dict[int, tuple[Any, str]] = {}  # id(resource or scope) -> (it, its text)


def compact(tree: Any) -> str:
    return json.dumps(tree, separators=(",", ":"), ensure_ascii=False)


def kept(cache: dict[Any, Any], key: Any, value: Any) -> Any:
    """``cache[key] = value``, the cache emptied first when full (a bound, not an LRU: the
    steady state refills it)."""
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value


def _envelope_part(part: Any, name: str, make: Callable[[Any], otlp_tree.Tree]) -> str:
    """``{"<name>":{...}`` (no closing brace) for a resource or scope, made once per object."""
    held = _envelope_text.get(id(part))
    if held is not None and held[0] is part:
        return held[1]
    text = compact({name: make(part)})[:-1]
    kept(_envelope_text, id(part), (part, text))
    return text


def request_line(signal: Signal, items: Sequence[Any], member_text: Callable[[Any], str]) -> str:
    """The spool line (newline included) of these items; "" for none.  Each item has
    ``resource`` and ``instrumentation_scope``; ``member_text(item)`` is its JSON text."""
    if not items:
        return ""
    top, scope_key, member_key = otlp_tree.FIELDS[signal]
    groups = otlp_tree._group(
        items, lambda item: item.resource, lambda item: item.instrumentation_scope or None
    )
    resources: list[str] = []
    for resource, scopes in groups.items():
        scope_texts: list[str] = []
        for scope, members in scopes.items():
            text = (
                _envelope_part(scope, "scope", otlp_tree._scope)
                + f',"{member_key}":['
                + ",".join([member_text(member) for member in members])
                + "]"
            )
            if scope is not None and scope.schema_url:
                text += ',"schemaUrl":' + _quote(scope.schema_url)
            scope_texts.append(text + "}")
        text = (
            _envelope_part(resource, "resource", otlp_tree._resource)
            + f',"{scope_key}":['
            + ",".join(scope_texts)
            + "]"
        )
        if resource.schema_url:
            text += ',"schemaUrl":' + _quote(resource.schema_url)
        resources.append(text + "}")
    return f'{{"{top}":[' + ",".join(resources) + "]}\n"
