"""``mcptrace policy suggest``: an enforce policy allowing exactly what each tool was seen doing.

Usage::

    text = suggest_policy(Path("spool"), tool="fetch*")   # commented TOML, like audit2allow
    mcptrace policy suggest --spool ~/.local/state/mcptrace/spool > policy.toml

Every action recorded inside MCP server requests becomes an allow rule scoped to its tool
(actions of other requests, such as ``resources/read``, get unscoped rules): file paths are
generalised to globs (a library tree, a scratch directory, a folder with several files),
network peers to hosts and addresses (ports pinned unless they look ephemeral), programs to
their executables, dynamic code to its operations.  Every default is ``deny``, so anything
new is blocked.  Before it is printed the suggestion is replayed against the same spool
(``policy test``): a suggestion that would block something it saw is a bug, reported as one.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcptrace.policy import model as m
from mcptrace.policy.loader import parse_policy
from mcptrace.policy.matchers import parse_address
from mcptrace.policy.replay import _recorded, _Spans, replay_spool
from mcptrace.record import vocabulary as ev

EPHEMERAL_PORTS = 32768  # Linux's default ephemeral range starts here (macOS: 49152)
OTHER_REQUESTS = ""  # the key for actions of requests that are no tool call
_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm", "/private/tmp", "/private/var/folders")
_LIBRARY_MARKERS = ("site-packages", "dist-packages")
_READ = frozenset({ev.READ, ev.READ_WRITE})
_WRITE = frozenset({ev.WRITE, ev.READ_WRITE, ev.CREATE, ev.APPEND})
_FILE_WRITE_EVENTS = frozenset(
    {
        ev.FILE_DELETE,
        ev.FILE_CHMOD,
        ev.FILE_CHOWN,
        ev.FILE_MKDIR,
        ev.FILE_LINK,
        ev.FILE_TRUNCATE,
        ev.FILE_UTIME,
        ev.FILE_XATTR,
    }
)
_NETWORK_OPERATIONS = {
    ev.NETWORK_CONNECT: "connect",
    ev.NETWORK_SEND: "send",
    ev.NETWORK_RESOLVE: "resolve",
    ev.NETWORK_REQUEST: "request",
    ev.NETWORK_BIND: "bind",
}


class SuggestionError(RuntimeError):
    """The suggestion would block an action it saw (a bug), or there is nothing to suggest."""


@dataclass
class Seen:
    """What one tool (or the other requests) did, by policy category."""

    calls: set[str] = field(default_factory=set)
    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)
    natives: set[str] = field(default_factory=set)
    executables: set[str] = field(default_factory=set)
    hosts: set[str] = field(default_factory=set)
    addresses: set[str] = field(default_factory=set)
    ports: set[int] = field(default_factory=set)
    portless: bool = False  # a network action without a port (a name lookup, a unix socket)
    operations: set[str] = field(default_factory=set)
    code: set[str] = field(default_factory=set)
    pickle_globals: set[str] = field(default_factory=set)
    actions: int = 0


def _resolved(path: str) -> str:
    try:
        return os.path.realpath(os.path.normpath(path))
    except (OSError, ValueError):
        return os.path.normpath(path)


def _add_path(into: set[str], value: Any) -> None:
    if isinstance(value, str) and value.startswith("/"):
        into.add(_resolved(value))


def observe(seen: Seen, name: str, attributes: dict[str, Any]) -> None:
    """Fold one recorded action into what its tool was seen doing."""
    seen.actions += 1
    path = attributes.get(ev.FILE_PATH)
    target = attributes.get(ev.FILE_TARGET_PATH)
    if name == ev.FILE_OPEN:
        access = attributes.get(ev.FILE_ACCESS, ev.READ)
        if access in _READ:
            _add_path(seen.reads, path)
        if access in _WRITE:
            _add_path(seen.writes, path)
    elif name == ev.FILE_LISTDIR:
        _add_path(seen.reads, path)
    elif name == ev.FILE_COPY:
        _add_path(seen.reads, path)
        _add_path(seen.writes, target)
    elif name == ev.FILE_RENAME:
        _add_path(seen.writes, path)
        _add_path(seen.writes, target)
    elif name in _FILE_WRITE_EVENTS:
        _add_path(seen.writes, path)
    elif name in _NETWORK_OPERATIONS:
        _network(seen, _NETWORK_OPERATIONS[name], attributes)
    elif name in (ev.PROCESS_SPAWN, ev.PROCESS_EXEC):
        executable = attributes.get(ev.PROCESS_EXECUTABLE_PATH)
        if isinstance(executable, str) and executable:
            seen.executables.add(executable)  # as run: the engine also tries its real path
    elif name == ev.CODE_EXEC:
        seen.code.add(str(attributes.get(ev.CODE_OPERATION, "compile")))
    elif name == ev.CODE_DESERIALIZE:
        fmt = str(attributes.get(ev.DESERIALIZE_FORMAT, "pickle"))
        seen.code.add(fmt)
        pickled = attributes.get(ev.DESERIALIZE_GLOBAL)
        if fmt == "pickle" and isinstance(pickled, str):
            seen.pickle_globals.add(pickled)
    elif name == ev.NATIVE_LOAD:
        library = attributes.get(ev.FILE_PATH)
        if isinstance(library, str) and library:
            seen.natives.add(_resolved(library) if library.startswith("/") else library)


def _network(seen: Seen, operation: str, attributes: dict[str, Any]) -> None:
    address = str(attributes.get(ev.SERVER_ADDRESS, ""))
    port = attributes.get(ev.SERVER_PORT)
    if operation == "request":
        url = urlsplit(str(attributes.get(ev.URL_FULL, "")))
        address = url.hostname or ""
        try:
            port = url.port or {"http": 80, "https": 443}.get(url.scheme)
        except ValueError:
            port = None
    if operation == "resolve" and parse_address(address) is not None:
        return  # the engine does not judge lookups of IP literals
    seen.operations.add(operation)
    if not address or address.startswith(("/", "\0")):
        seen.addresses.add("unix")
        seen.portless = True
        return
    if parse_address(address) is not None:
        seen.addresses.add(address.split("%", 1)[0])
    else:
        seen.hosts.add(address.lower().rstrip("."))
    if isinstance(port, int):
        seen.ports.add(port)
    else:
        seen.portless = True


# ---------------------------------------------------------------- generalisation


def _library_root(path: str) -> str | None:
    parts = path.split("/")
    for index, part in enumerate(parts):
        if part in _LIBRARY_MARKERS:
            return "/".join(parts[: index + 1])
        if re.fullmatch(r"python3\.\d+", part) and index > 0 and parts[index - 1] == "lib":
            return "/".join(parts[: index + 1])
    return None


def _scratch_root(path: str) -> str | None:
    for scratch in _SCRATCH:
        if path == scratch or path.startswith(scratch + "/"):
            return scratch
    return None


# tempfile's names: a prefix ("tmp" by default, often ending in "-"), 8 random characters
_RANDOM_NAME = re.compile(r"((?:.*?(?:tmp|-))?)([a-z0-9_]{8})(\.[A-Za-z0-9.]+)?")


def _temporary_glob(path: str) -> str | None:
    """``/tmp/tmp*`` for a ``tempfile`` name under a scratch dir (8 random characters)."""
    root = _scratch_root(path)
    if root is None or path == root:
        return None
    parts = path[len(root) + 1 :].split("/")
    for depth, part in enumerate(parts):
        found = _RANDOM_NAME.fullmatch(part)
        if found is not None and re.search(r"[0-9_]", found.group(2)):
            head = "/".join([root, *parts[:depth], found.group(1) + "*"])
            return head + ("/**" if depth < len(parts) - 1 else "")
    return None


def generalise_paths(paths: Iterable[str]) -> list[str]:
    """Globs covering ``paths``: library trees whole, temporary names by ``*``, crowded folders
    by ``folder/*``; anything else exactly."""
    globs: set[str] = set()
    rest: list[str] = []
    for path in sorted(set(paths)):
        root = _library_root(path)
        temporary = _temporary_glob(path)
        if root is not None:
            globs.add(root + "/**")
        elif temporary is not None:
            globs.add(temporary)
        elif path.startswith(("/proc/self/", "/proc/thread-self/")):
            globs.add("/proc/self/**")
        else:
            rest.append(path)
    by_folder: dict[str, list[str]] = defaultdict(list)
    for path in rest:
        by_folder[os.path.dirname(path)].append(path)
    home = _resolved(os.path.expanduser("~"))
    for folder, members in by_folder.items():
        if len(members) >= 3 and folder not in ("/", "/etc", home):
            globs.add(folder + "/*")
        else:
            globs.update(members)
    covered = [g for g in globs if g.endswith("/**")]
    return sorted(
        g
        for g in globs
        if not any(g != c and fnmatchcase(g, c[:-3] + "/*") for c in covered)
        and not any(g != c and g.startswith(c[:-3] + "/") for c in covered)
    )


def _home_relative(pattern: str) -> str:
    home = _resolved(os.path.expanduser("~"))
    if home != "/" and (pattern == home or pattern.startswith(home + "/")):
        return "~" + pattern[len(home) :]
    return pattern


# ---------------------------------------------------------------- rendering


def _toml_list(values: Iterable[object]) -> str:
    items = []
    for value in values:
        if isinstance(value, int):
            items.append(str(value))
        else:
            text = str(value).replace("\\", "\\\\").replace('"', '\\"')
            items.append(f'"{text}"')
    return "[" + ", ".join(items) + "]"


def _rule_id(tool: str, category: str) -> str:
    label = re.sub(r"[^A-Za-z0-9_.:-]+", "-", tool).strip("-") or "tool"
    if not label[0].isalnum():
        label = "t" + label
    return f"{label}.{category}" if tool != OTHER_REQUESTS else f"requests.{category}"


def _rules_for(tool: str, seen: Seen) -> list[str]:
    scope = f"tools = {_toml_list([tool])}\n" if tool != OTHER_REQUESTS else ""
    blocks: list[str] = []

    def rule(category: str, comment: str, body: str) -> None:
        blocks.append(
            f'# {comment}\n[[rule]]\nid = "{_rule_id(tool, category)}"\n'
            f'category = "{category}"\naction = "allow"\n{scope}{body}'
        )

    if seen.reads:
        paths = [_home_relative(p) for p in generalise_paths(seen.reads)]
        rule(
            m.FILE_READ, f"read {len(seen.reads)} distinct paths", f"paths = {_toml_list(paths)}\n"
        )
    if seen.writes:
        paths = [_home_relative(p) for p in generalise_paths(seen.writes)]
        rule(
            m.FILE_WRITE,
            f"wrote, created or removed {len(seen.writes)} distinct paths",
            f"paths = {_toml_list(paths)}\n",
        )
    if seen.operations:
        body = ""
        if seen.hosts:
            body += f"hosts = {_toml_list(sorted(seen.hosts))}\n"
        if seen.addresses:
            body += f"addresses = {_toml_list(sorted(seen.addresses))}\n"
        ephemeral = any(port >= EPHEMERAL_PORTS for port in seen.ports)
        note = ""
        if seen.ports and not ephemeral and not seen.portless:
            body += f"ports = {_toml_list(sorted(seen.ports))}\n"
        elif ephemeral:
            note = "; ports not pinned (an ephemeral port was seen: a local test server?)"
        body += f"operations = {_toml_list(sorted(seen.operations))}\n"
        peers = len(seen.hosts) + len(seen.addresses)
        rule(m.NETWORK, f"{', '.join(sorted(seen.operations))} with {peers} peers{note}", body)
    if seen.executables:
        rule(
            m.PROCESS,
            f"ran {len(seen.executables)} programs (any arguments)",
            f"executables = {_toml_list(sorted(seen.executables))}\n",
        )
    if seen.code:
        body = f"operations = {_toml_list(sorted(seen.code))}\n"
        rule(m.CODE, "dynamic code (compile: exec/eval of source; exec: code objects)", body)
    if seen.natives:
        paths = [_home_relative(p) for p in generalise_paths(seen.natives)]
        rule(m.NATIVE, "native libraries loaded", f"paths = {_toml_list(paths)}\n")
    return blocks


def collect(spool: Path, tool: str | None = None) -> tuple[dict[str, Seen], str]:
    """What each tool did in the spool (``tool``: a glob selecting tools), and the source."""
    spans = _Spans(spool)
    source, recorded = _recorded(spool, spans)
    by_tool: dict[str, Seen] = {}
    for request_id, name in spans.request_tool.items():
        key = name if name is not None else OTHER_REQUESTS
        if tool is None or (name is not None and fnmatchcase(name, tool)):
            by_tool.setdefault(key, Seen()).calls.add(request_id)
    for span_id, name, attributes in recorded:
        if name == ev.POLICY_VIOLATION:
            continue  # a blocked action never happened: not something to allow
        request = spans.request_of(span_id)
        if request is None:
            continue
        tool_name = spans.request_tool.get(request)
        key = tool_name if tool_name is not None else OTHER_REQUESTS
        if key in by_tool:
            observe(by_tool[key], name, attributes)
    return by_tool, source


def suggest_policy(spool: Path, tool: str | None = None) -> str:
    """The suggested policy as commented TOML; raises SuggestionError."""
    by_tool, source = collect(spool, tool)
    if not by_tool:
        what = f"tools matching {tool!r}" if tool else "MCP server requests"
        raise SuggestionError(f"no {what} in {spool}")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# mcptrace policy suggested from {spool} ({source}) on {stamp}.",
        "# It allows exactly what each tool was seen doing and denies everything else:",
        "# review it (paths were generalised to globs), then check and enforce it with",
        "#   mcptrace policy check FILE",
        "#   mcptrace run --policy FILE -- <your server>",
        "# A tool that does something new is blocked; run the workload again in observe mode",
        "# and suggest again to widen it.",
        "",
        "[policy]",
        'mode = "enforce"',
        'applies_to = "tool_calls"',
        "",
        "[defaults]",
        *(f'{category} = "deny"' for category in m.CATEGORIES),
        "",
    ]
    for name in sorted(by_tool):
        seen = by_tool[name]
        title = f'tool "{name}"' if name != OTHER_REQUESTS else "requests other than tool calls"
        lines.append(
            f"# ---- {title}: {len(seen.calls)} request(s), {seen.actions} recorded actions"
            + ("" if seen.actions else " (nothing to allow)")
        )
        lines.extend(_rules_for(name, seen))
        lines.append("")
    text = "\n".join(lines).rstrip() + "\n"
    _self_check(text, spool, tool)
    return text


def _self_check(text: str, spool: Path, tool: str | None) -> None:
    policy = parse_policy(text, "<suggested policy>")
    report = replay_spool(policy, spool)
    blocked = [
        finding
        for finding in report.findings.values()
        if finding.action == ev.BLOCKED
        and (tool is None or any(fnmatchcase(t, tool) for t in finding.tools))
    ]
    if blocked:
        example = blocked[0].examples[0] if blocked[0].examples else blocked[0].rule
        raise SuggestionError(f"the suggestion would block what it saw ({example}); please report")
