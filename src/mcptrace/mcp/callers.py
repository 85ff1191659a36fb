"""Who called: the client's name and version, and (over HTTP, when configured) the
authenticated principal, as attributes of the server's spans.

Usage::

    attributes.update(client_info_attributes(params["clientInfo"]))  # name and version
    attributes.update(principal_attributes(http_request))             # {} unless configured

Names.  No OTel attribute names the MCP client implementation, so mcptrace uses
``mcptrace.mcp.client.name`` / ``mcptrace.mcp.client.version`` (beside its
``mcptrace.mcp.server.name``).  The principal uses OTel's general attributes:
``enduser.pseudo.id`` for the keyed hash (a pseudonymous id that groups one user's calls
without naming the user) and, only when ``MCPTRACE_PRINCIPAL_CLEAR=true``, ``user.id`` in
clear.

Source (``MCPTRACE_PRINCIPAL``, off by default): ``header:NAME`` takes the value of that
HTTP request header; ``auth`` takes the client id of the access token the SDK's auth
middleware verified for the request.  The hash is HMAC-SHA256 under
``MCPTRACE_PRINCIPAL_KEY``, else under a random key made once per installation and kept,
readable by its owner only, in ``principal.key`` next to the module hash cache.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcptrace.activation import current_settings, report
from mcptrace.record.vocabulary import (
    ENDUSER_PSEUDO_ID,
    MCPTRACE_CLIENT_NAME,
    MCPTRACE_CLIENT_VERSION,
    MCPTRACE_SERVER_NAME,
    MCPTRACE_SERVER_VERSION,
    USER_ID,
)

AUTH_SOURCE = "auth"
HEADER_SOURCE = "header:"
KEY_FILE = "principal.key"
# identity strings are short; a longer one is cut before hashing or recording
MAX_IDENTITY_CHARS = 256


def _implementation(info: Any, name_key: str, version_key: str) -> dict[str, Any]:
    """Name and version of an MCP ``Implementation`` (a dict on the wire, a model in SDKs)."""
    if info is None:
        return {}
    if isinstance(info, Mapping):
        name, version = info.get("name"), info.get("version")
    else:
        name, version = getattr(info, "name", None), getattr(info, "version", None)
    attributes: dict[str, Any] = {}
    if isinstance(name, str) and name:
        attributes[name_key] = _identity_text(name)
    if isinstance(version, str) and version:
        attributes[version_key] = _identity_text(version)
    return attributes


_identity_texts: dict[str, str] = {}  # the peer's name or version -> as recorded


def _identity_text(text: str) -> str:
    """The peer's own text, redacted (a client may put anything in its name), then cut;
    remembered, as a stateless client sends it with every request."""
    found = _identity_texts.get(text)
    if found is None:
        from mcptrace.record.redact import redact_text

        found = redact_text(text)[:MAX_IDENTITY_CHARS]
        if len(_identity_texts) >= 256:
            _identity_texts.clear()
        _identity_texts[text] = found
    return found


def client_info_attributes(client_info: Any) -> dict[str, Any]:
    """``mcptrace.mcp.client.name``/``.version`` of a ``clientInfo``."""
    return _implementation(client_info, MCPTRACE_CLIENT_NAME, MCPTRACE_CLIENT_VERSION)


def server_info_attributes(server_info: Any) -> dict[str, Any]:
    """``mcptrace.mcp.server.name``/``.version`` of a ``serverInfo`` (on client spans)."""
    return _implementation(server_info, MCPTRACE_SERVER_NAME, MCPTRACE_SERVER_VERSION)


class PrincipalReader:
    """Reads the configured principal of an HTTP request and turns it into one attribute."""

    def __init__(self, source: str, clear: bool, key: bytes | None) -> None:
        self.source = source
        self.clear = clear
        self._key = key

    @property
    def enabled(self) -> bool:
        return bool(self.source)

    def principal(self, http_request: Any) -> str | None:
        if self.source == AUTH_SOURCE:
            return _access_token_client_id()
        if self.source.startswith(HEADER_SOURCE) and http_request is not None:
            headers = getattr(http_request, "headers", None)
            found = headers.get(self.source[len(HEADER_SOURCE) :]) if headers is not None else None
            return str(found) if found else None
        return None

    def attributes(self, http_request: Any) -> dict[str, Any]:
        principal = self.principal(http_request)
        if not principal:
            return {}
        principal = principal.strip()[:MAX_IDENTITY_CHARS]
        if self.clear:
            return {USER_ID: principal}
        key = self._key if self._key is not None else _install_key()
        if key is None:
            return {}
        digest = hmac.new(key, principal.encode("utf-8", "replace"), hashlib.sha256)
        return {ENDUSER_PSEUDO_ID: digest.hexdigest()[:32]}


def _access_token_client_id() -> str | None:
    """The client id of the request's verified access token (the SDK's auth middleware puts
    it in a context variable for the request)."""
    try:
        from mcp.server.auth.middleware.auth_context import get_access_token
    except ImportError:
        return None
    token = get_access_token()
    client_id = getattr(token, "client_id", None) if token is not None else None
    return str(client_id) if client_id else None


_key_cache: bytes | None = None


def _install_key() -> bytes | None:
    """The per-installation key, made on first use (0600); None if it cannot be had."""
    global _key_cache
    if _key_cache is not None:
        return _key_cache
    path = current_settings().hash_cache_path().parent / KEY_FILE
    try:
        _key_cache = _read_or_make_key(path)
    except OSError as exc:
        report(f"mcptrace: no principal hash key at {path} ({exc}); principals are not recorded")
        _key_cache = b""
    return _key_cache or None


def _read_or_make_key(path: Path) -> bytes:
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_bytes(32)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, fresh)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)  # the first process to get there wins; others read its key
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
    key = path.read_bytes()
    if len(key) < 32:
        raise OSError(f"{path} holds no usable key")
    return key


_reader: PrincipalReader | None = None


def principal_reader() -> PrincipalReader:
    global _reader
    if _reader is None:
        settings = current_settings()
        key = settings.principal_key.encode() if settings.principal_key else None
        _reader = PrincipalReader(settings.principal, settings.principal_clear, key)
    return _reader


def principal_attributes(http_request: Any) -> dict[str, Any]:
    """``enduser.pseudo.id`` (or ``user.id`` on opt-in) of the caller; {} when not configured
    or when the request carries none."""
    reader = principal_reader()
    if not reader.enabled:
        return {}
    try:
        return reader.attributes(http_request)
    except Exception:
        return {}
