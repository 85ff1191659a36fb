"""Compiled matchers: glob → one regex, addresses → ``ipaddress`` networks, ports → ranges.

Everything here is built once when a policy is loaded; matching does no I/O except
``PathResolver``, which resolves each distinct path once (bounded cache, see below).

Usage::

    matcher = compile_globs(["~/.ssh/**", "*.pem"], expand=expand_path)
    matcher("/home/me/.ssh/id_ed25519")    # True
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import stat
import time
from collections.abc import Callable, Iterable

from mcptrace.policy.model import ADDRESS_KEYWORDS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_GLOB_CHARS = frozenset("*?[")


def glob_to_regex(pattern: str) -> str:
    """A glob as a regex body: ``*``/``?`` stay within one path segment, ``**`` crosses them.

    ``dir/**`` also matches ``dir`` itself; a leading ``**/`` matches any directory prefix.
    Remembered per pattern: the built-in detections alone compile ~2,000 globs at start-up.
    """
    body = _regex_bodies.get(pattern)
    if body is None:
        body = _glob_to_regex(pattern)
        if len(_regex_bodies) >= _REGEX_BODIES_KEPT:
            _regex_bodies.clear()
        _regex_bodies[pattern] = body
    return body


_regex_bodies: dict[str, str] = {}
_REGEX_BODIES_KEPT = 8192
_LITERAL_RUN = re.compile(r"[^*?\[]+")


def _glob_to_regex(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    tail = n - 3 if pattern.endswith("/**") else n  # where a trailing "/**" begins
    while i < n:
        char = pattern[i]
        if i == tail:
            out.append("(?:/.*)?")
            i += 3
        elif pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 2 if pattern.startswith("[!", i) else i + 1)
            if end < 0:
                out.append(re.escape(char))
                i += 1
                continue
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:  # a run of plain characters, escaped at once (up to a trailing "/**")
            run = _LITERAL_RUN.match(pattern, i, tail if i < tail else n)
            end = run.end() if run is not None else i + 1
            out.append(re.escape(pattern[i:end]))
            i = end
    return "".join(out)


def literal_prefix(pattern: str) -> str:
    """The directories of ``pattern`` before its first glob character."""
    cut = next((i for i, char in enumerate(pattern) if char in _GLOB_CHARS), len(pattern))
    if cut == len(pattern):
        return pattern
    return pattern[: pattern.rfind("/", 0, cut) + 1].rstrip("/") or "/"


def path_pattern_variants(pattern: str) -> list[str]:
    """``pattern`` and, if its literal directories go through a symlink, the resolved form.

    Resolved once, when the policy is compiled, so a rule on ``~/.ssh/**`` also holds when
    ``~/.ssh`` is a symlink to ``/data/ssh``.
    """
    if not pattern.startswith("/"):
        return [pattern]
    prefix = literal_prefix(pattern)
    resolved = os.path.realpath(prefix)
    variants = [pattern]
    if resolved != prefix:
        variants.append(resolved.rstrip("/") + pattern[len(prefix.rstrip("/")) :])
    return variants


def compile_path_globs(patterns: Iterable[str]) -> re.Pattern[str]:
    """One regex for absolute-path globs; a pattern without ``/`` matches the file name."""
    bodies: list[str] = []
    for pattern in patterns:
        for variant in path_pattern_variants(pattern):
            body = glob_to_regex(variant)
            bodies.append(body if "/" in variant else "(?:.*/)?" + body)
    return re.compile("(?:" + "|".join(bodies) + ")\\Z", re.DOTALL)


def compile_name_globs(patterns: Iterable[str], ignore_case: bool = False) -> re.Pattern[str]:
    """One regex for name globs (tool names, host names, pickle globals): ``*`` is anything."""
    bodies = [glob_to_regex(pattern).replace("[^/]", ".") for pattern in patterns]
    return re.compile("(?:" + "|".join(bodies) + ")\\Z", re.IGNORECASE if ignore_case else 0)


def executable_matcher(patterns: Iterable[str]) -> re.Pattern[str]:
    """Executable globs: with a ``/`` they match the full path, without one the file name."""
    return compile_path_globs(patterns)


# ---------------------------------------------------------------- paths of events


Identity = tuple[int, int]  # (st_dev, st_ino) of the file a path leads to
Target = tuple[str, "Identity | None", int]  # PathResolver.lookup: resolved, identity, links


def looks_like_module_file(resolved: str) -> bool:
    """A Python source file or a file in a bytecode cache directory (by its real path)."""
    return resolved.endswith(".py") or "/__pycache__/" in resolved


def identify(path: str) -> tuple[Identity | None, int]:
    """(device, inode) of the file ``path`` leads to now (None if none), and its hard-link
    count if it is a regular file (else 0): one ``stat``, following links as an open does."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None, 0
    return (status.st_dev, status.st_ino), (status.st_nlink if stat.S_ISREG(status.st_mode) else 0)


class PathResolver:
    """Where a path leads *now*: symlinks resolved, and re-resolved whenever that changes.

    ``os.path.realpath`` is I/O (an ``lstat`` per component), so the answer is cached per
    path together with the identity (device, inode) of the file it led to; every use costs
    one ``stat`` of the path (which follows the links as the open will), and a different
    identity (a symlink swapped, a directory replaced by a link) resolves the path again.
    What no check at this moment can see: a swap between this ``stat`` and the open itself.

    ``..`` is never collapsed before resolution: ``link/../x`` is where the kernel goes.
    """

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self.cache: dict[str, tuple[Identity | None, str]] = {}
        self.realpath: Callable[[str], str] = os.path.realpath

    def __call__(self, path: str) -> str:
        return self.lookup(path)[0]

    def lookup(self, path: str) -> Target:
        """(resolved path, identity of the file or None, its hard-link count if a regular
        file with more than one name, else 0)."""
        identity, links = identify(path)
        return self.lookup_identified(path, identity, links)

    def lookup_identified(self, path: str, identity: Identity | None, links: int) -> Target:
        """``lookup`` with the path's ``identify`` already made (one ``stat``, not two)."""
        cached = self.cache.get(path)
        if cached is not None and identity is not None and cached[0] == identity:
            return cached[1], identity, links
        try:
            resolved = self.realpath(path)
        except (OSError, ValueError):
            resolved = os.path.normpath(path)
        if len(self.cache) >= self.limit:
            self.cache.clear()
        self.cache[path] = (identity, resolved)
        return resolved, identity, links


class HardLinkIndex:
    """The files with several names (hard links) under the directories deny rules protect.

    A hard link made elsewhere to a protected file is the same file under another name: an
    open of a file with more than one name is looked up here by identity.  Built lazily,
    bounded (``limit`` directory entries), rebuilt at most every ``refresh_seconds`` when a
    multi-name file is not found (a link made after the last scan).
    """

    def __init__(
        self, roots: Iterable[str], limit: int = 20_000, refresh_seconds: float = 2.0
    ) -> None:
        self.roots = sorted({root for root in roots if root.startswith("/") and root != "/"})
        self.limit = limit
        self.refresh_seconds = refresh_seconds
        self.by_identity: dict[Identity, str] = {}
        self.built_at: float | None = None

    def __call__(self, identity: Identity) -> str | None:
        if not self.roots:
            return None
        found = self.by_identity.get(identity)
        now = time.monotonic()
        if found is None and (self.built_at is None or now - self.built_at >= self.refresh_seconds):
            self.built_at = now
            self.by_identity = self._scan()
            found = self.by_identity.get(identity)
        return found

    def _scan(self) -> dict[Identity, str]:
        found: dict[Identity, str] = {}
        budget = self.limit
        pending = list(self.roots)
        while pending and budget > 0:
            directory = pending.pop()
            try:
                entries = list(os.scandir(directory))
            except NotADirectoryError:  # a rule naming one file
                try:
                    status = os.stat(directory)
                except OSError:
                    continue
                if status.st_nlink > 1:
                    found[(status.st_dev, status.st_ino)] = directory
                continue
            except OSError:
                continue
            for entry in entries:
                budget -= 1
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                        continue
                    status = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISREG(status.st_mode) and status.st_nlink > 1:
                    found[(status.st_dev, status.st_ino)] = entry.path
        return found


# ---------------------------------------------------------------- network

_PRIVATE: tuple[Network, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


# What the C library also takes for an IPv4 address without asking DNS (inet_aton, which
# getaddrinfo and so socket.connect use): 2130706433, 127.1, 0x7f000001, 0177.0.0.1
_INET_ATON_SHAPE = re.compile(r"[0-9A-Fa-fXx.]+\Z")


def dns_name(host: str) -> str:
    """The name DNS is asked for ``host``: lower case, trailing dots dropped, and what the
    IDNA codec (which ``socket.getaddrinfo`` applies) makes of fullwidth letters or an
    ideographic full stop, so ``EVIL.example.`` and ``ｅｖｉｌ。example`` are ``evil.example``."""
    name = host.rstrip(".")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except (UnicodeError, ValueError):
            pass
    return name.lower().rstrip(".")


def parse_address(text: str) -> IPAddress | None:
    """An IP address (IPv4-mapped IPv6 as IPv4, zone index dropped, the numeric spellings
    ``inet_aton`` accepts read as it reads them), or None for a name."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        if not (text[:1].isdigit() and _INET_ATON_SHAPE.match(text)):
            return None
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _keyword_test(keyword: str) -> Callable[[IPAddress], bool]:
    match keyword:
        case "loopback":
            return lambda address: address.is_loopback
        case "private":
            return lambda address: any(address in network for network in _PRIVATE)
        case "link_local":
            return lambda address: address.is_link_local
        case "multicast":
            return lambda address: address.is_multicast
        case _:  # any
            return lambda address: True


class AddressMatcher:
    """IPs, CIDRs and keywords (``loopback``, ``private``, ``link_local``, ``multicast``,
    ``any``, ``unix`` for AF_UNIX socket paths)."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: list[Network] = []
        self.tests: list[Callable[[IPAddress], bool]] = []
        self.keywords: set[str] = set()
        for entry in entries:
            if entry in ADDRESS_KEYWORDS:
                self.keywords.add(entry)
                if entry != "unix":
                    self.tests.append(_keyword_test(entry))
            else:
                self.networks.append(ipaddress.ip_network(entry, strict=False))

    def __call__(self, address: str) -> bool:
        parsed = parse_address(address)
        if parsed is None:
            if address.startswith(("/", "\0")) or address == "":
                return "unix" in self.keywords and address != ""
            # a name: only "localhost" is known without resolving it
            return "loopback" in self.keywords and address.lower() in _LOOPBACK_NAMES
        if any(parsed in network for network in self.networks):
            return True
        return any(test(parsed) for test in self.tests)


def validate_address(entry: str) -> str | None:
    """None if ``entry`` is a keyword, IP or CIDR; else what is wrong with it."""
    if entry in ADDRESS_KEYWORDS:
        return None
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError as exc:
        keywords = ", ".join(ADDRESS_KEYWORDS)
        return f"{entry!r} is not an IP address, a CIDR or one of {keywords} ({exc})"
    return None


def port_in(port: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= port <= high for low, high in ranges)
