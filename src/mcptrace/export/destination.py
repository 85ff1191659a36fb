"""Where each signal goes over OTLP, read from ``OTEL_EXPORTER_OTLP_*`` exactly as the SDK does.

Usage::

    destination = Destination.from_environment(settings, os.environ)
    target = destination.targets["traces"]   # url, protocol, headers, timeout, TLS files
    target.key                               # the same for every spelling of one endpoint

Per signal, ``OTEL_EXPORTER_OTLP_{TRACES,LOGS,METRICS}_{ENDPOINT,PROTOCOL,HEADERS,TIMEOUT,
COMPRESSION,CERTIFICATE,CLIENT_KEY,CLIENT_CERTIFICATE,INSECURE}`` win over the general
variable, as in the SDK's exporters: a signal endpoint is used as it is, the general one gets
``/v1/{signal}`` appended for HTTP; the timeout is in seconds; headers are ``k=v`` pairs,
URL-decoded, keys lower-cased.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from mcptrace.config import SIGNALS, Settings, Signal

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "ip6-localhost"})
_COMPRESSIONS = ("gzip", "deflate", "none")


class DestinationError(ValueError):
    """A setting that makes a destination unusable; ``str()`` is one line for the user."""


def parse_headers(raw: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in raw.split(","):
        if "=" in item:
            key, value = item.split("=", 1)
            name = urllib.parse.unquote(key).strip().lower()
            if name:
                headers[name] = urllib.parse.unquote(value).strip()
    return headers


def canonical_endpoint(url: str, protocol: str) -> str:
    """One spelling per endpoint: scheme and host lower-cased, every loopback name as
    ``loopback``, the port explicit, no trailing slash (gRPC: no path at all)."""
    parts = urllib.parse.urlsplit(url if "//" in url else f"//{url}")
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "localhost").lower()
    if host in _LOOPBACK or host.startswith("127."):
        host = "loopback"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if scheme == "https" else (4317 if protocol == "grpc" else 80)
    if protocol == "grpc":
        return f"grpc://{host}:{port}"
    path = "/" + "/".join(piece for piece in parts.path.split("/") if piece)
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{host}:{port}{path}{query}"


@dataclass(frozen=True)
class Target:
    """One signal's OTLP destination."""

    signal: Signal
    url: str
    protocol: str = "http/protobuf"
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    compression: str = "none"
    certificate: str | None = None
    client_key: str | None = None
    client_certificate: str | None = None
    insecure: bool | None = None

    @property
    def canonical(self) -> str:
        return canonical_endpoint(self.url, self.protocol)

    @property
    def collector(self) -> str:
        """The canonical ``scheme://host:port``: signals sent there are up or down together."""
        canonical = self.canonical
        scheme, _, rest = canonical.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}"

    @property
    def collector_url(self) -> str:
        """The collector as the user spelled it, for messages."""
        parts = urllib.parse.urlsplit(self.url if "//" in self.url else f"//{self.url}")
        return f"{parts.scheme or 'http'}://{parts.netloc}"

    @property
    def key(self) -> str:
        """Names the progress directory: delivery state belongs to the endpoint, not to how
        it was spelled."""
        import hashlib

        digest = hashlib.sha256(f"{self.signal} {self.canonical}".encode()).hexdigest()
        return digest[:16]


def _signal_url(base: str, signal: Signal, protocol: str) -> str:
    if protocol == "grpc":
        return base
    return base + (f"v1/{signal}" if base.endswith("/") else f"/v1/{signal}")


def _timeout(raw: str, name: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise DestinationError(
            f"mcptrace: {name}: {raw!r} is not a number of seconds; use e.g. 10"
        ) from None
    if not value > 0:
        raise DestinationError(f"mcptrace: {name}: {raw!r} must be positive; use e.g. 10")
    return value


@dataclass(frozen=True)
class Destination:
    targets: Mapping[Signal, Target]

    @property
    def label(self) -> str:
        urls = dict.fromkeys(target.url for target in self.targets.values())
        return ", ".join(urls)

    @classmethod
    def from_environment(
        cls,
        settings: Settings,
        environ: Mapping[str, str],
        endpoint: str | None = None,
        protocol: str | None = None,
    ) -> Destination:
        """Targets for the signals that have an endpoint.  ``endpoint``/``protocol`` (the
        replay command's options) replace the general variables and every per-signal one of
        the same kind."""
        targets: dict[Signal, Target] = {}
        for signal in SIGNALS:
            target = _target(settings, environ, signal, endpoint, protocol)
            if target is not None:
                targets[signal] = target
        return cls(targets)


def _target(
    settings: Settings,
    environ: Mapping[str, str],
    signal: Signal,
    endpoint: str | None,
    protocol: str | None,
) -> Target | None:
    prefix = f"OTEL_EXPORTER_OTLP_{signal.upper()}_"

    def setting(name: str) -> tuple[str, str] | None:
        for variable in (prefix + name, f"OTEL_EXPORTER_OTLP_{name}"):
            value = environ.get(variable, "").strip()
            if value:
                return variable, value
        return None

    chosen_protocol = protocol or settings.protocol_for(signal)
    if endpoint:
        url = _signal_url(endpoint, signal, chosen_protocol)
    elif settings.endpoints.get(signal):
        url = settings.endpoints[signal]
    elif settings.endpoints.get("all"):
        url = _signal_url(settings.endpoints["all"], signal, chosen_protocol)
    else:
        return None
    headers = setting("HEADERS")
    timeout = setting("TIMEOUT")
    compression = setting("COMPRESSION")
    chosen_compression = compression[1].lower() if compression else "none"
    if chosen_compression not in _COMPRESSIONS:
        raise DestinationError(
            f"mcptrace: {compression[0] if compression else ''}: {chosen_compression!r} is not "
            "supported; use gzip, deflate or none"
        )
    insecure = setting("INSECURE")
    certificate, client_key, client_cert = (
        setting("CERTIFICATE"),
        setting("CLIENT_KEY"),
        setting("CLIENT_CERTIFICATE"),
    )
    return Target(
        signal=signal,
        url=url,
        protocol=chosen_protocol,
        headers=parse_headers(headers[1]) if headers else {},
        timeout=_timeout(timeout[1], timeout[0]) if timeout else 10.0,
        compression=chosen_compression,
        certificate=certificate[1] if certificate else None,
        client_key=client_key[1] if client_key else None,
        client_certificate=client_cert[1] if client_cert else None,
        insecure=insecure[1].lower() == "true" if insecure else None,
    )
