"""The decider: a compiled policy judging each sensor observation (record/decide.py seam).

Usage::

    engine = PolicyEngine(load_policy(path), on_violation=recorder.record)
    lock_decider(engine, on_refused)          # the hook now calls engine(observation, attribution)
    engine.evaluate(observation, tool="read_file")   # pure judgement, for `policy test`

Speed: observations of event names no rule (and no deny default) can touch are dismissed by
one dict lookup; file paths and network destinations are judged once per distinct value
(bounded caches), so a tool opening the same files repeatedly pays a dict hit per open.  No
I/O, except ``os.path.realpath`` once per distinct path (``matchers.PathResolver``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from typing import NamedTuple
from urllib.parse import urlsplit

from mcptrace.policy import model as m
from mcptrace.policy.matchers import (
    AddressMatcher,
    PathResolver,
    compile_name_globs,
    compile_path_globs,
    executable_matcher,
    parse_address,
    port_in,
)
from mcptrace.policy.violation import PolicyViolation
from mcptrace.record import vocabulary as ev
from mcptrace.record.observation import Observation
from mcptrace.record.state import Attribution, SpanState

CACHE_LIMIT = 4096
_NO_VERDICTS: list[Verdict] = []  # shared, never appended to


class Verdict(NamedTuple):
    """A rule (or a default) that denies an action."""

    rule: str
    category: str
    subject: str
    enforce: bool

    def describe(self) -> str:
        verb = _VERBS.get(self.category, "doing")
        return f"mcptrace policy rule {self.rule!r} blocked {verb} {self.subject}"


_VERBS = {
    m.FILE_READ: "reading",
    m.FILE_WRITE: "writing",
    m.NETWORK: "network access to",
    m.PROCESS: "running",
    m.CODE: "dynamic code:",
    m.NATIVE: "loading native library",
}

Checker = Callable[[str], bool]  # does a rule select this subject?
OnViolation = Callable[[Observation, Verdict, bool, SpanState, str], None]


class CompiledRule:
    __slots__ = ("allow", "enforce", "id", "index", "rule", "test", "tools")

    def __init__(self, rule: m.Rule, index: int, enforce: bool) -> None:
        self.rule = rule
        self.id = rule.id
        self.index = index
        self.allow = rule.action == m.ALLOW
        self.enforce = enforce
        self.tools = compile_name_globs(rule.tools) if rule.tools else None

    def applies_in(self, tool: str | None) -> bool:
        return self.tools is None or (tool is not None and self.tools.match(tool) is not None)


class NetworkRule(CompiledRule):
    __slots__ = ("addresses", "hosts", "operations", "ports")

    def __init__(self, rule: m.Rule, index: int, enforce: bool) -> None:
        super().__init__(rule, index, enforce)
        self.operations = frozenset(rule.operations or m.DEFAULT_NETWORK_OPERATIONS)
        self.hosts = compile_name_globs(rule.hosts, ignore_case=True) if rule.hosts else None
        self.addresses = AddressMatcher(rule.addresses) if rule.addresses else None
        self.ports = rule.ports

    def selects(self, operation: str, address: str, port: int | None, names: Iterable[str]) -> bool:
        if operation not in self.operations:
            return False
        if self.ports and not (
            (port is None and operation == "resolve")  # a name lookup without a port
            or (port is not None and port_in(port, self.ports))
        ):
            return False
        if self.hosts is None and self.addresses is None:
            return True
        if self.addresses is not None and self.addresses(address):
            return True
        hosts = self.hosts
        return hosts is not None and any(hosts.match(name) for name in (address, *names))


class ProcessRule(CompiledRule):
    __slots__ = ("arguments", "executables")

    def __init__(self, rule: m.Rule, index: int, enforce: bool) -> None:
        super().__init__(rule, index, enforce)
        self.executables = executable_matcher(rule.executables) if rule.executables else None
        self.arguments = (
            re.compile("|".join(f"(?:{a})" for a in rule.arguments)) if rule.arguments else None
        )

    def selects(self, executable: str, command_line: str) -> bool:
        if self.executables is not None and not self.executables.match(executable):
            return False
        return self.arguments is None or self.arguments.search(command_line) is not None


class CodeRule(CompiledRule):
    __slots__ = ("globals", "operations")

    def __init__(self, rule: m.Rule, index: int, enforce: bool) -> None:
        super().__init__(rule, index, enforce)
        self.operations = frozenset(rule.operations or m.CODE_OPERATIONS)
        self.globals = compile_name_globs(rule.globals) if rule.globals else None

    def selects(self, operation: str, pickled_global: str) -> bool:
        if operation not in self.operations:
            return False
        return self.globals is None or (
            operation == "pickle" and self.globals.match(pickled_global) is not None
        )


class PathRule(CompiledRule):
    __slots__ = ("paths",)

    def __init__(self, rule: m.Rule, index: int, enforce: bool) -> None:
        super().__init__(rule, index, enforce)
        self.paths = compile_path_globs(rule.paths)


_RULE_TYPES: dict[str, type[CompiledRule]] = {
    m.FILE_READ: PathRule,
    m.FILE_WRITE: PathRule,
    m.NATIVE: PathRule,
    m.NETWORK: NetworkRule,
    m.PROCESS: ProcessRule,
    m.CODE: CodeRule,
}

_FILE_WRITES = frozenset(
    {
        ev.FILE_DELETE,
        ev.FILE_CHMOD,
        ev.FILE_CHOWN,
        ev.FILE_MKDIR,
        ev.FILE_LINK,
        ev.FILE_TRUNCATE,
        ev.FILE_UTIME,
    }
)
_NETWORK_EVENTS = {
    ev.NETWORK_CONNECT: "connect",
    ev.NETWORK_SEND: "send",
    ev.NETWORK_RESOLVE: "resolve",
    ev.NETWORK_BIND: "bind",
}
_EVENTS_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    m.FILE_READ: (ev.FILE_OPEN, ev.FILE_LISTDIR, ev.FILE_COPY),
    m.FILE_WRITE: (ev.FILE_OPEN, ev.FILE_RENAME, ev.FILE_COPY, *_FILE_WRITES),
    m.NETWORK: (*_NETWORK_EVENTS, ev.NETWORK_REQUEST),
    m.PROCESS: (ev.PROCESS_SPAWN, ev.PROCESS_EXEC),
    m.CODE: (ev.CODE_EXEC, ev.CODE_DESERIALIZE),
    m.NATIVE: (ev.NATIVE_LOAD,),
}
_READ_ACCESS = frozenset({ev.READ, ev.READ_WRITE})
_WRITE_ACCESS = frozenset({ev.WRITE, ev.READ_WRITE, ev.CREATE, ev.APPEND})


def tool_name_of(state: SpanState) -> str | None:
    """``gen_ai.tool.name`` of the live MCP server span the state belongs to."""
    root = state.root
    span = root.key
    if not root.is_mcp or span is None:
        return None
    attributes = getattr(span, "attributes", None)
    name = attributes.get(ev.GEN_AI_TOOL_NAME) if attributes else None
    return name if isinstance(name, str) else None


class KnownTool(NamedTuple):
    """Where an observation was made, when judged outside the hook (``policy test``)."""

    tool: str | None


Where = SpanState | KnownTool  # the live span state (hook) or a known tool name (replay)


def tool_in(where: Where) -> str | None:
    return where.tool if type(where) is KnownTool else tool_name_of(where)  # type: ignore[arg-type]


class PolicyEngine:
    """Compiled rules per category; ``__call__`` is the sensor's decider."""

    def __init__(
        self,
        policy: m.Policy,
        on_violation: OnViolation | None = None,
        default_rule_prefix: str = "default",
    ) -> None:
        self.policy = policy
        self.on_violation = on_violation
        self.tool_calls_only = policy.applies_to == m.TOOL_CALLS
        self.rules: dict[str, list[CompiledRule]] = {category: [] for category in m.CATEGORIES}
        for index, rule in enumerate(policy.rules):
            enforce = policy.mode_of(rule) == m.ENFORCE
            self.rules[rule.category].append(_RULE_TYPES[rule.category](rule, index, enforce))
        enforce_defaults = policy.mode == m.ENFORCE
        self.defaults: dict[str, CompiledRule | None] = {}
        for category in m.CATEGORIES:
            if policy.defaults.get(category, m.ALLOW) == m.DENY:
                stand_in = m.Rule(f"{default_rule_prefix}.{category}", category)
                self.defaults[category] = CompiledRule(stand_in, -1, enforce_defaults)
            else:
                self.defaults[category] = None
        # only categories with a rule or a deny default are looked at at all
        self.active = frozenset(
            category
            for category in m.CATEGORIES
            if self.rules[category] or self.defaults[category] is not None
        )
        self.judges: dict[str, Callable[[Observation, Where], list[Verdict]]] = {}
        handlers = {
            ev.FILE_OPEN: self._file_open,
            ev.FILE_LISTDIR: self._file_read,
            ev.FILE_COPY: self._file_copy,
            ev.FILE_RENAME: self._file_rename,
            **dict.fromkeys(_FILE_WRITES, self._file_write),
            **dict.fromkeys(_NETWORK_EVENTS, self._network),
            ev.NETWORK_REQUEST: self._request,
            ev.PROCESS_SPAWN: self._process,
            ev.PROCESS_EXEC: self._process,
            ev.CODE_EXEC: self._code,
            ev.CODE_DESERIALIZE: self._code,
            ev.NATIVE_LOAD: self._native,
        }
        for category in self.active:
            for name in _EVENTS_BY_CATEGORY[category]:
                self.judges[name] = handlers[name]
        self.resolve = PathResolver(CACHE_LIMIT)
        self._path_candidates: dict[tuple[str, str], tuple[str, tuple[CompiledRule, ...]]] = {}
        self._network_candidates: dict[tuple[str, str, int | None], tuple[CompiledRule, ...]] = {}
        self.resolved_names: dict[str, str] = {}  # IP -> the host name it was resolved from
        self._opens_nobody_judges: set[tuple[object, object]] = set()

    # --- the decider (hot path)

    def decider(self) -> Callable[[Observation, Attribution], None]:
        """The function to install with ``lock_decider``: a closure over the compiled tables,
        so an observation no rule touches costs one dict lookup and no attribute access."""
        judges_get = self.judges.get
        tool_calls_only = self.tool_calls_only
        act = self._act

        def policy_decider(observation: Observation, attribution: Attribution) -> None:
            judge = judges_get(observation[0])
            if judge is None:
                return
            state = attribution[0]
            if tool_calls_only and not state.root.is_mcp:
                return
            verdicts = judge(observation, state)
            if verdicts:
                act(observation, verdicts, state, attribution[1])

        return policy_decider

    def __call__(self, observation: Observation, attribution: Attribution) -> None:
        judge = self.judges.get(observation.name)
        if judge is None:
            return
        state = attribution[0]
        if self.tool_calls_only and not state.root.is_mcp:
            return
        verdicts = judge(observation, state)
        if verdicts:
            self._act(observation, verdicts, state, attribution[1])

    def _act(
        self, observation: Observation, verdicts: list[Verdict], state: SpanState, how: str
    ) -> None:
        """Record every verdict; raise if any of them is enforced."""
        blocked = any(verdict.enforce for verdict in verdicts)
        if self.on_violation is not None:
            for verdict in verdicts:
                self.on_violation(observation, verdict, blocked, state, how)
        if blocked:
            first = next(verdict for verdict in verdicts if verdict.enforce)
            raise PolicyViolation(first.describe(), first.rule, first.category, first.subject)

    def evaluate(self, observation: Observation, tool: str | None) -> list[Verdict]:
        """The verdicts for one observation made inside ``tool`` (no recording, no raising)."""
        judge = self.judges.get(observation.name)
        return judge(observation, KnownTool(tool)) if judge is not None else []

    def remember_resolution(self, host: str, addresses: Iterable[str]) -> None:
        """Host-name rules also hold for the IPs a name resolved to (getaddrinfo results)."""
        name = host.lower().rstrip(".")
        changed = False
        for address in addresses:
            if self.resolved_names.get(address) != name:
                if len(self.resolved_names) >= CACHE_LIMIT:
                    self.resolved_names.clear()
                self.resolved_names[address] = name
                changed = True
        if changed:
            self._network_candidates.clear()

    # --- judging one category

    def _decide(
        self,
        category: str,
        candidates: Iterable[CompiledRule],
        where: Where,
        subject: str,
    ) -> Verdict | None:
        name: str | None = None
        looked_up = False
        for rule in candidates:
            if rule.tools is not None:
                if not looked_up:
                    name, looked_up = tool_in(where), True
                if not rule.applies_in(name):
                    continue
            return None if rule.allow else Verdict(rule.id, category, subject, rule.enforce)
        default = self.defaults[category]
        return None if default is None else Verdict(default.id, category, subject, default.enforce)

    def _path_verdict(self, category: str, path: str, where: Where) -> Verdict | None:
        if category not in self.active:
            return None
        key = (category, path)
        cached = self._path_candidates.get(key)
        if cached is None:
            resolved = self.resolve(path)
            rules = tuple(
                rule
                for rule in self.rules[category]
                if isinstance(rule, PathRule) and rule.paths.match(resolved)
            )
            if len(self._path_candidates) >= CACHE_LIMIT:
                self._path_candidates.clear()
            cached = self._path_candidates[key] = (resolved, rules)
        if not cached[1] and self.defaults[category] is None:
            return None  # the common case: no rule selects this path
        return self._decide(category, cached[1], where, cached[0])

    def _file_open(self, observation: Observation, where: Where) -> list[Verdict]:
        attributes = observation[2]
        path = attributes.get(ev.FILE_PATH, "")
        access = attributes.get(ev.FILE_ACCESS, ev.READ)
        key = (path, access)
        if key in self._opens_nobody_judges:  # the hot case: a path no rule selects
            return _NO_VERDICTS
        path = str(path)
        verdicts = []
        if access in _READ_ACCESS:
            verdict = self._path_verdict(m.FILE_READ, path, where)
            if verdict is not None:
                verdicts.append(verdict)
        if access in _WRITE_ACCESS:
            verdict = self._path_verdict(m.FILE_WRITE, path, where)
            if verdict is not None:
                verdicts.append(verdict)
        if not verdicts and self._selects_nothing(path, access):
            if len(self._opens_nobody_judges) >= CACHE_LIMIT:
                self._opens_nobody_judges.clear()
            self._opens_nobody_judges.add(key)
        return verdicts

    def _selects_nothing(self, path: str, access: object) -> bool:
        """No rule selects ``path`` and no default denies: the answer holds for every tool."""
        categories = []
        if access in _READ_ACCESS:
            categories.append(m.FILE_READ)
        if access in _WRITE_ACCESS:
            categories.append(m.FILE_WRITE)
        for category in categories:
            if category not in self.active:
                continue
            cached = self._path_candidates.get((category, path))
            if cached is None or cached[1] or self.defaults[category] is not None:
                return False
        return True

    def _file_read(self, observation: Observation, where: Where) -> list[Verdict]:
        verdict = self._path_verdict(
            m.FILE_READ, str(observation.attributes.get(ev.FILE_PATH, "")), where
        )
        return [verdict] if verdict is not None else []

    def _file_write(self, observation: Observation, where: Where) -> list[Verdict]:
        verdict = self._path_verdict(
            m.FILE_WRITE, str(observation.attributes.get(ev.FILE_PATH, "")), where
        )
        return [verdict] if verdict is not None else []

    def _file_rename(self, observation: Observation, where: Where) -> list[Verdict]:
        attributes = observation.attributes
        verdicts = [
            self._path_verdict(m.FILE_WRITE, str(attributes.get(key, "")), where)
            for key in (ev.FILE_PATH, ev.FILE_TARGET_PATH)
        ]
        return [verdict for verdict in verdicts if verdict is not None]

    def _file_copy(self, observation: Observation, where: Where) -> list[Verdict]:
        attributes = observation.attributes
        verdicts = [
            self._path_verdict(m.FILE_READ, str(attributes.get(ev.FILE_PATH, "")), where),
            self._path_verdict(m.FILE_WRITE, str(attributes.get(ev.FILE_TARGET_PATH, "")), where),
        ]
        return [verdict for verdict in verdicts if verdict is not None]

    def _network_verdict(
        self, operation: str, address: str, port: int | None, where: Where
    ) -> list[Verdict]:
        key = (operation, address, port)
        candidates = self._network_candidates.get(key)
        if candidates is None:
            resolved = self.resolved_names.get(address)
            names = (resolved,) if resolved else ()
            candidates = tuple(
                rule
                for rule in self.rules[m.NETWORK]
                if isinstance(rule, NetworkRule) and rule.selects(operation, address, port, names)
            )
            if len(self._network_candidates) >= CACHE_LIMIT:
                self._network_candidates.clear()
            self._network_candidates[key] = candidates
        if not candidates and operation == "bind":
            return []  # bind is judged only by rules that name it, never by the default
        subject = f"{address}:{port}" if port is not None else address
        verdict = self._decide(m.NETWORK, candidates, where, f"{operation} {subject}")
        return [verdict] if verdict is not None else []

    def _network(self, observation: Observation, where: Where) -> list[Verdict]:
        attributes = observation.attributes
        operation = _NETWORK_EVENTS[observation.name]
        address = str(attributes.get(ev.SERVER_ADDRESS, ""))
        if operation == "resolve" and parse_address(address) is not None:
            return []  # "resolving" an IP literal asks nobody anything; the connect is judged
        port = attributes.get(ev.SERVER_PORT)
        return self._network_verdict(
            operation, address, port if isinstance(port, int) else None, where
        )

    def _request(self, observation: Observation, where: Where) -> list[Verdict]:
        url = urlsplit(str(observation.attributes.get(ev.URL_FULL, "")))
        try:
            port = url.port or {"http": 80, "https": 443}.get(url.scheme)
        except ValueError:
            port = None
        return self._network_verdict("request", url.hostname or "", port, where)

    def _process(self, observation: Observation, where: Where) -> list[Verdict]:
        attributes = observation.attributes
        executable = str(attributes.get(ev.PROCESS_EXECUTABLE_PATH, ""))
        arguments = attributes.get(ev.PROCESS_COMMAND_ARGS, ())
        argv = (
            [str(a) for a in arguments]
            if isinstance(arguments, (list, tuple))
            else [str(arguments)]
        )
        command_line = shlex.join(argv)
        normalized = self.resolve(executable) if executable.startswith("/") else executable
        candidates = [
            rule
            for rule in self.rules[m.PROCESS]
            if isinstance(rule, ProcessRule)
            and (rule.selects(executable, command_line) or rule.selects(normalized, command_line))
        ]
        verdict = self._decide(m.PROCESS, candidates, where, command_line or executable)
        return [verdict] if verdict is not None else []

    def _code(self, observation: Observation, where: Where) -> list[Verdict]:
        attributes = observation.attributes
        if observation.name == ev.CODE_DESERIALIZE:
            operation = str(attributes.get(ev.DESERIALIZE_FORMAT, "pickle"))
            pickled = str(attributes.get(ev.DESERIALIZE_GLOBAL, ""))
            subject = f"{operation} {pickled}".strip()
        else:
            operation = str(attributes.get(ev.CODE_OPERATION, "compile"))
            pickled = ""
            subject = f"{operation} {attributes.get(ev.CODE_FILENAME, '')}".strip()
        candidates = [
            rule
            for rule in self.rules[m.CODE]
            if isinstance(rule, CodeRule) and rule.selects(operation, pickled)
        ]
        verdict = self._decide(m.CODE, candidates, where, subject)
        return [verdict] if verdict is not None else []

    def _native(self, observation: Observation, where: Where) -> list[Verdict]:
        library = str(observation.attributes.get(ev.FILE_PATH, ""))
        resolved = self.resolve(library) if library.startswith("/") else library
        candidates = [
            rule
            for rule in self.rules[m.NATIVE]
            if isinstance(rule, PathRule)
            and (rule.paths.match(library) or rule.paths.match(resolved))
        ]
        verdict = self._decide(m.NATIVE, candidates, where, library)
        return [verdict] if verdict is not None else []
