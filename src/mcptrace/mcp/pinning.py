"""Tool pinning: remember what a server offers and report when the offer changes (rug pull).

Usage::

    offer = [fingerprint("tool", tool.name, tool.description, tool.inputSchema, annotations)]
    compare_offer("server", "weather|/srv/weather.py", "weather", offer)   # server side
    client_answer(session_key, "tools/list", result)                       # client side

Each tool, resource, resource template and prompt is fingerprinted (SHA-256 of its
description, of its input schema, of its annotations and, for tools, of its output schema
and title, in canonical JSON).  The offer
seen last is kept per server identity in ``pins/`` next to the module hash cache; when a
later offer differs, one ``mcptrace.mcp.component.changed`` log record (WARN) says what
changed (description, schema, annotations, added, removed), with the new description when
that is what changed.  An offer is only ever compared with the same
kind of listing (tools with tools), so a client that lists only tools reports no prompt as
removed.  Files are created 0600 in a 0700 directory, never through a symlink.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from opentelemetry._logs import SeverityNumber

from mcptrace.mcp.events import emit_event
from mcptrace.record.offers import remember_tool
from mcptrace.record.redact import redact_text
from mcptrace.record.vocabulary import (
    EVENT_COMPONENT_CHANGED,
    MCPTRACE_COMPONENT_CHANGE,
    MCPTRACE_COMPONENT_DESCRIPTION,
    MCPTRACE_COMPONENT_KIND,
    MCPTRACE_COMPONENT_NAME,
    MCPTRACE_PIN_IDENTITY,
    MCPTRACE_PIN_PREVIOUS_SHA256,
    MCPTRACE_PIN_SHA256,
    MCPTRACE_PIN_SIDE,
    MCPTRACE_SERVER_NAME,
)

FIELDS = ("description", "schema", "annotations", "output_schema", "title")
KINDS = ("tool", "resource", "resource_template", "prompt")
_DESCRIPTION_MAX = 1024
_lock = threading.Lock()


def _new_lock_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a thread of the parent's may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)
_store_dir: Path | None = None


def _sha256(value: Any) -> str | None:
    if value is None:
        return None
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    """A pydantic model (annotations, prompt arguments) as plain JSON data."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", exclude_none=True)
        except Exception:
            return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def fingerprint(
    kind: str,
    name: Any,
    description: Any,
    schema: Any = None,
    annotations: Any = None,
    output_schema: Any = None,
    title: Any = None,
) -> dict[str, Any]:
    """One component's pin: its key and the SHA-256 of each field (None when absent)."""
    return {
        "kind": kind,
        "name": str(name),
        "description": _sha256(description) if description else None,
        "schema": _sha256(_plain(schema)),
        "annotations": _sha256(_plain(annotations)),
        "output_schema": _sha256(_plain(output_schema)),
        "title": _sha256(title) if title else None,
        "text": redact_text(str(description))[:_DESCRIPTION_MAX] if description else None,
    }


# ---------------------------------------------------------------- the store


def configure(directory: Path | None) -> None:
    """Where pins live (``MCPTRACE_HASH_CACHE``'s folder /pins by default)."""
    global _store_dir
    _store_dir = directory


def _directory() -> Path:
    if _store_dir is not None:
        return _store_dir
    from mcptrace.activation import current_settings

    return current_settings().hash_cache_path().parent / "pins"


def _safe_directory(path: Path) -> bool:
    """Create ``path`` 0700 if missing; refuse a symlink or a folder someone else owns."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        info = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return False
    if info.st_mode & 0o077:
        try:
            os.chmod(path, 0o700)
        except OSError:
            return False
    return True


def _file_for(identity: str) -> Path:
    return _directory() / (hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32] + ".json")


def load_pins(identity: str) -> dict[str, Any] | None:
    path = _file_for(identity)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            document = json.loads(handle.read(4 * 1024 * 1024))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def save_pins(identity: str, document: dict[str, Any]) -> bool:
    directory = _directory()
    if not _safe_directory(directory):
        return False
    path = _file_for(identity)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, sort_keys=True)
        os.replace(temporary, path)  # rename replaces a symlink itself, never its target
        return True
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return False


# ---------------------------------------------------------------- comparing offers


def changes(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, Mapping[str, Any], Mapping[str, Any] | None]]:
    """(change, component now or before, component before) for every difference."""
    found: list[tuple[str, Mapping[str, Any], Mapping[str, Any] | None]] = []
    for key, now in after.items():
        old = before.get(key)
        if old is None:
            found.append(("added", now, None))
            continue
        found.extend(
            (field, now, old)
            for field in FIELDS
            # a pin written before a field was fingerprinted says nothing about it
            if field in old and old.get(field) != now.get(field)
        )
    found.extend(("removed", old, old) for key, old in before.items() if key not in after)
    return found


def compare_offer(
    side: str,
    identity: str,
    server_name: str | None,
    offer: Iterable[Mapping[str, Any]],
    kinds: Iterable[str] = KINDS,
) -> int:
    """Compare ``offer`` with the last one seen for ``identity``; report, then remember it.

    Only components of ``kinds`` are compared (a client's ``tools/list`` answer says
    nothing about prompts); returns the number of changes reported.  Never raises.
    """
    try:
        return _compare(side, identity, server_name, list(offer), frozenset(kinds))
    except Exception:
        return 0


def _compare(
    side: str,
    identity: str,
    server_name: str | None,
    offer: list[Mapping[str, Any]],
    compared: frozenset[str],
) -> int:
    now = {f"{c['kind']}:{c['name']}": dict(c) for c in offer}
    with _lock:
        document = load_pins(identity) or {"identity": identity, "components": {}}
        stored: dict[str, Any] = document.get("components") or {}
        before = {key: value for key, value in stored.items() if value.get("kind") in compared}
        known = set(document.get("kinds") or ())  # kinds an earlier offer listed
        found = [change for change in changes(before, now) if change[1].get("kind") in known]
        for key in before:
            stored.pop(key, None)
        stored.update(now)
        previous_seen = document.get("seen")
        document.update(
            components=stored,
            kinds=sorted(known | compared),
            seen=time.time(),
            server=server_name,
        )
        save_pins(identity, document)
    for change, component, old in found:
        _report(side, identity, server_name, change, component, old, previous_seen)
    return len(found)


def _report(
    side: str,
    identity: str,
    server_name: str | None,
    change: str,
    component: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    previous_seen: float | None,
) -> None:
    field = change if change in FIELDS else "description"
    attributes: dict[str, Any] = {
        MCPTRACE_COMPONENT_KIND: component.get("kind"),
        MCPTRACE_COMPONENT_NAME: component.get("name"),
        MCPTRACE_COMPONENT_CHANGE: change,
        MCPTRACE_PIN_SIDE: side,
        MCPTRACE_PIN_IDENTITY: identity,
        MCPTRACE_SERVER_NAME: server_name,
        MCPTRACE_PIN_SHA256: component.get(field) if change != "removed" else None,
        MCPTRACE_PIN_PREVIOUS_SHA256: old.get(field) if old is not None else None,
    }
    if change in ("description", "added") and component.get("text"):
        attributes[MCPTRACE_COMPONENT_DESCRIPTION] = component.get("text")
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(previous_seen or 0))
    emit_event(
        EVENT_COMPONENT_CHANGED,
        attributes,
        body=f"{component.get('kind')} {component.get('name')!r}: {change} changed since {when}"
        if change in FIELDS
        else f"{component.get('kind')} {component.get('name')!r} {change} since {when}",
        severity=SeverityNumber.WARN,
    )


# ---------------------------------------------------------------- the client side

# id(SessionInfo) -> the server's name from initialize's answer (SessionInfo is unhashable)
_servers: dict[int, str] = {}
_SESSIONS_KEPT = 1024


def _field(result: Any, name: str) -> Any:
    if isinstance(result, Mapping):
        return result.get(name)
    return getattr(result, name, None)


def _client_identity(session: Any, server_name: str | None) -> str:
    transport = getattr(session, "transport", None) or "?"
    address = getattr(session, "server_address", None)
    port = getattr(session, "server_port", None)
    where = f"{address}:{port}" if address else "stdio"
    return f"client|{transport}|{where}|{server_name or '?'}"


_KIND_OF_LIST = {
    "tools/list": ("tools", "tool"),
    "resources/list": ("resources", "resource"),
    "resources/templates/list": ("resourceTemplates", "resource_template"),
    "prompts/list": ("prompts", "prompt"),
}


def client_answer(session: Any, method: str, result: Any) -> None:
    """Feed one answer the client received (``initialize`` or a listing); never raises."""
    try:
        if method == "initialize":
            info = _field(result, "serverInfo")
            name = _field(info, "name") if info is not None else None
            if len(_servers) >= _SESSIONS_KEPT:
                _servers.clear()
            _servers[id(session)] = str(name) if name is not None else "?"
            return
        listing = _KIND_OF_LIST.get(method)
        if listing is None or id(session) not in _servers:
            return
        if _field(result, "nextCursor"):
            return  # a page of a longer list: comparing it alone would report removals
        key, kind = listing
        components = []
        for item in _field(result, key) or []:
            name = _field(item, "name") or _field(item, "uri") or _field(item, "uriTemplate")
            schema = _field(item, "inputSchema")
            if kind == "prompt":
                schema = _field(item, "arguments")
            description, annotations = _field(item, "description"), _field(item, "annotations")
            output_schema = _field(item, "outputSchema") or _field(item, "output_schema")
            components.append(
                fingerprint(
                    kind,
                    name,
                    description,
                    schema,
                    annotations,
                    output_schema,
                    _field(item, "title"),
                )
            )
        server_name = _servers[id(session)]
        identity = _client_identity(session, server_name)
        compare_offer("client", identity, server_name, components, [kind])
    except Exception:
        pass


# ---------------------------------------------------------------- the server side


def server_offer(server: Any, server_name: str | None) -> list[dict[str, Any]]:
    """Fingerprints of what an mcp FastMCP (1.x) / MCPServer (2.x) offers, from its managers."""
    offer: list[dict[str, Any]] = []
    tools = getattr(server, "_tool_manager", None)
    for tool in tools.list_tools() if tools is not None else []:
        output_schema = getattr(tool, "output_schema", None)
        remember_tool(
            str(tool.name),
            getattr(tool, "description", None),
            getattr(tool, "parameters", None),
            getattr(tool, "annotations", None),
            output_schema,
            getattr(tool, "title", None),
        )
        offer.append(
            fingerprint(
                "tool",
                tool.name,
                getattr(tool, "description", None),
                getattr(tool, "parameters", None),
                getattr(tool, "annotations", None),
                output_schema,
                getattr(tool, "title", None),
            )
        )
    resources = getattr(server, "_resource_manager", None)
    if resources is not None:
        for resource in resources.list_resources():
            name = getattr(resource, "name", None) or str(resource.uri)
            offer.append(
                fingerprint(
                    "resource",
                    name,
                    getattr(resource, "description", None),
                    str(resource.uri),
                    getattr(resource, "annotations", None),
                )
            )
        for template in resources.list_templates():
            offer.append(
                fingerprint(
                    "resource_template",
                    getattr(template, "name", None),
                    getattr(template, "description", None),
                    [
                        getattr(template, "uri_template", None),
                        getattr(template, "parameters", None),
                    ],
                    getattr(template, "annotations", None),
                )
            )
    prompts = getattr(server, "_prompt_manager", None)
    for prompt in prompts.list_prompts() if prompts is not None else []:
        offer.append(
            fingerprint(
                "prompt",
                prompt.name,
                getattr(prompt, "description", None),
                getattr(prompt, "arguments", None),
            )
        )
    return offer


def server_identity(server_name: str | None) -> str:
    """The server as a program: its name and the script or module that runs it."""
    import sys

    program = sys.argv[0] if sys.argv and sys.argv[0] else "?"
    if program not in ("-c", "-m", "?"):
        program = os.path.realpath(program)
    return f"server|{server_name or '?'}|{program}"


def pin_server(server: Any, server_name: str | None) -> int:
    """Server side: compare this server's offer with the last run's; never raises."""
    try:
        return compare_offer(
            "server", server_identity(server_name), server_name, server_offer(server, server_name)
        )
    except Exception:
        return 0
