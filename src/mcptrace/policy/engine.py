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

import os
import re
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple
from urllib.parse import urlsplit

from mcptrace.policy import model as m
from mcptrace.policy.matchers import (
    AddressMatcher,
    HardLinkIndex,
    Identity,
    PathResolver,
    Target,
    compile_name_globs,
    compile_path_globs,
    dns_name,
    executable_matcher,
    identify,
    literal_prefix,
    looks_like_module_file,
    parse_address,
    path_pattern_variants,
    port_in,
)
from mcptrace.policy.violation import PolicyViolation
from mcptrace.record import vocabulary as ev
from mcptrace.record.decide import forget_allowed
from mcptrace.record.observation import Observation
from mcptrace.record.state import Attribution, SpanState

CACHE_LIMIT = 4096
TAMPER_RULE = "mcptrace.tamper"  # the rule a tool that flipped a switch violates from then on
# tamper observations (audit_event) that are a switch flipped, not merely someone watching
SWITCHES = frozenset({"sensor.active", "sensor.pause", "policy.slot", "set_decider"})
UNATTRIBUTED_LABEL = "unattributed"  # SpanRegistry.unattributed
# what a tool that flipped a switch may no longer do: reach outside the process.  Code and
# imports stay judged by the rules alone: the SDK formatting the tool's error compiles too.
TAINTED_CATEGORIES = frozenset({ev.FILE, ev.NETWORK, ev.PROCESS, ev.NATIVE})
# set by an enforcing parent for a child started inside a tool call: the child's actions are
# that tool's (policy/active.py, ActivePolicy.child_environment)
POLICY_TOOL_VARIABLE = "MCPTRACE_POLICY_TOOL"
CHILD_OPT_OUT_RULE = "mcptrace.child-opt-out"  # python -I/-E/-S would start uninstrumented
# a file or program named by a path-like object of the program's own (sensor/translate.py,
# own_path_object): what it told the check need not be what it told the opener
PATH_OBJECT_RULE = "mcptrace.path-object"
_PYTHON_NAME = re.compile(r"python[0-9.]*\Z")
_OWN_PYTHON = os.path.realpath(sys.executable)


def python_opts_out(executable: str, argv: list[str]) -> bool:
    """A Python interpreter started with -I, -E or -S: it would skip PYTHONPATH or site, so
    mcptrace's start-up hook (and the policy) would not run in it."""
    names = [executable, argv[0] if argv else ""]
    if not any(
        _PYTHON_NAME.match(os.path.basename(name)) or os.path.realpath(name) == _OWN_PYTHON
        for name in names
        if name
    ):
        return False
    arguments = iter(argv[1:])
    for argument in arguments:
        if not argument.startswith("-") or argument == "-" or argument.startswith("--"):
            return False  # the script, stdin, or a long option: no more flags to read
        for position, flag in enumerate(argument[1:], start=1):
            if flag in "IES":
                return True
            if flag in "cm":
                return False  # the program follows
            if flag in "WX":  # the rest, or else the next argument, is the flag's value
                if position == len(argument) - 1:
                    next(arguments, None)
                break
    return False


def argument_paths(argv: list[str], cwd: str) -> list[str]:
    """The paths a command line names (absolute ones, relative ones that exist), a shell's
    ``-c`` script split into words: what a child is about to read."""
    words: list[str] = []
    for index, argument in enumerate(argv[1:], start=1):
        if argv[index - 1] == "-c" and " " in argument:
            try:
                lexer = shlex.shlex(argument, posix=True, punctuation_chars=True)
                lexer.whitespace_split = True
                words.extend(lexer)
            except ValueError:
                words.extend(argument.split())
        else:
            words.append(argument.partition("=")[2] if argument.startswith("-") else argument)
    paths = []
    for word in words:
        if not word or word.startswith("-"):
            continue
        if word.startswith(("/", "~")):
            paths.append(os.path.expanduser(word))
        elif os.path.lexists(os.path.join(cwd, word)):
            paths.append(os.path.join(cwd, word))
    return paths[:64]


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
        if hosts is None:
            return False
        return any(hosts.match(name) for name in (address, dns_name(address), *names))


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
        ev.FILE_XATTR,
    }
)
_NETWORK_EVENTS = {
    ev.NETWORK_CONNECT: "connect",
    ev.NETWORK_SEND: "send",
    ev.NETWORK_RESOLVE: "resolve",
    ev.NETWORK_BIND: "bind",
}
_EVENTS_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    m.FILE_READ: (
        ev.FILE_OPEN,
        ev.FILE_LISTDIR,
        ev.FILE_COPY,
        ev.FILE_LINK,
        ev.FILE_RENAME,  # moving a file away exposes it
        ev.PROCESS_SPAWN,  # a child reading the files its arguments name
        ev.PROCESS_EXEC,
    ),
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
        self.enforcing = policy.mode == m.ENFORCE or any(
            rule.mode == m.ENFORCE for rule in policy.rules
        )  # anything in it can block
        self.inherited_tool = os.environ.get(POLICY_TOOL_VARIABLE) or None
        self.tainted: set[SpanState] = set()  # roots whose tool flipped a switch
        self._decide_one: Callable[[Observation, Attribution], Identity | None] | None = None
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
            ev.FILE_LINK: self._file_link,
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
        if self.enforcing:  # a Python child told to skip mcptrace's start-up is refused
            self.judges[ev.PROCESS_SPAWN] = self.judges[ev.PROCESS_EXEC] = self._process
        self.resolve = PathResolver(CACHE_LIMIT)
        self.hard_links = HardLinkIndex(self._protected_directories())
        self._deny_roots = {
            category: self._protected_directories((category,)) for category in self.active
            if category in (m.FILE_READ, m.FILE_WRITE)
        }  # fmt: skip
        self._path_candidates: dict[tuple[str, str], tuple[CompiledRule, ...]] = {}
        # per path category, one regex of every rule's paths: a path none of them selects
        # (most of them) is dismissed by one match instead of one per rule
        self._any_path: dict[str, re.Pattern[str] | None] = {
            category: compile_path_globs(
                [pattern for rule in self.rules[category] for pattern in rule.rule.paths]
            )
            if any(isinstance(rule, PathRule) for rule in self.rules[category])
            else None
            for category in (m.FILE_READ, m.FILE_WRITE)
        }
        # a plain open's verdicts per (path, access[, tool]), kept with the identity of the
        # file the path led to: reused while a stat finds the same file (see _file_open)
        self._open_verdicts: dict[tuple[str, ...], tuple[Identity, list[Verdict]]] = {}
        self._open_tool_scoped = any(
            rule.tools is not None for category in (m.FILE_READ, m.FILE_WRITE)
            for rule in self.rules[category]
        )  # fmt: skip
        self._network_candidates: dict[tuple[str, str, int | None], tuple[CompiledRule, ...]] = {}
        self.resolved_names: dict[str, str] = {}  # IP -> the host name it was resolved from
        self.name_addresses: dict[str, tuple[float, tuple[str, ...]]] = {}  # the engine's own
        self.denies_by_address = any(
            isinstance(rule, NetworkRule) and rule.addresses is not None and not rule.allow
            for rule in self.rules[m.NETWORK]
        )

    def _protected_directories(
        self, categories: tuple[str, ...] = (m.FILE_READ, m.FILE_WRITE)
    ) -> list[str]:
        """The literal part of every path a deny rule names (a directory or a file)."""
        roots: list[str] = []
        for category in categories:
            for rule in self.rules[category]:
                if isinstance(rule, PathRule) and not rule.allow:
                    for pattern in rule.rule.paths:
                        roots.extend(literal_prefix(v) for v in path_pattern_variants(pattern))
        return roots

    # --- the decider (hot path)

    def decider(self) -> Callable[[Observation, Attribution], Identity | None]:
        """The function to install with ``lock_decider``: a closure over the compiled tables,
        so an observation no rule touches costs one dict lookup and no attribute access."""
        judges_get = self.judges.get
        tool_calls_only = self.tool_calls_only
        act = self._act
        tainted = self.tainted
        tamper_event = ev.SENSOR_TAMPER
        taint = self._taint
        outside_requests = self._outside_requests
        tainted_categories = TAINTED_CATEGORIES
        importer_open = ev.IMPORTER_OPEN
        inherited = self.inherited_tool is not None  # a child judged as its parent's tool
        file_open = ev.FILE_OPEN
        file_open_kept = self._file_open_kept

        def policy_decider(
            observation: Observation, attribution: Attribution
        ) -> tuple[int, int] | None:
            state = attribution[0]
            if observation[0] == tamper_event:
                taint(observation, state)
                return None
            judge = judges_get(observation[0])
            again: Identity | None = None  # "allowed, and again while it is this file"
            if judge is None or not (
                not tool_calls_only or state.root.is_mcp or inherited or outside_requests(state)
            ):
                verdicts = None
            elif observation[0] == file_open:
                verdicts, again = file_open_kept(observation, state)
            else:
                verdicts = judge(observation, state)
            if (  # after tampering, the tool's reach outside the process is denied
                tainted
                and observation[1] in tainted_categories
                and state.root in tainted
                and observation[3] != importer_open
            ):
                verdicts = [*(verdicts or ()), self._tainted_verdict(observation)]
            if verdicts:
                act(observation, verdicts, state, attribution[1])
                return None
            return again

        return policy_decider

    def __call__(self, observation: Observation, attribution: Attribution) -> Identity | None:
        if self._decide_one is None:
            self._decide_one = self.decider()
        return self._decide_one(observation, attribution)

    # --- tamper: a tool that flipped one of mcptrace's switches loses its permissions

    def _taint(self, observation: Observation, state: SpanState) -> None:
        """A switch flipped by tool code (sensor/hook.py): every later action of that tool
        call (its span's root) is a violation, blocked under enforce."""
        if observation[3] in SWITCHES:
            if len(self.tainted) >= CACHE_LIMIT:
                self.tainted.clear()
            self.tainted.add(state.root)
            forget_allowed()  # what this tool was allowed before no longer holds

    def _tainted_verdict(self, observation: Observation) -> Verdict:
        subject = str(observation[2].get(ev.FILE_PATH, observation[3]))
        return Verdict(
            TAMPER_RULE, "tamper", f"{observation[0]} {subject} after tampering", self.enforcing
        )

    @staticmethod
    def _outside_requests(state: SpanState) -> bool:
        """An event no request can be named for although requests are being served (a
        thread whose tool is unknown): judged as if in a tool nobody named, so the rules and
        defaults that hold for every tool hold for it too — it fails closed."""
        return state.label == UNATTRIBUTED_LABEL

    def _act(
        self, observation: Observation, verdicts: list[Verdict], state: SpanState, how: str
    ) -> None:
        """Record every verdict; raise if any of them is enforced."""
        forget_allowed()  # rare, and then nothing allowed before is taken on trust
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
        use_default: bool = True,
    ) -> Verdict | None:
        name: str | None = None
        looked_up = False
        for rule in candidates:
            if rule.tools is not None:
                if not looked_up:
                    name, looked_up = tool_in(where) or self.inherited_tool, True
                if not rule.applies_in(name):
                    continue
            return None if rule.allow else Verdict(rule.id, category, subject, rule.enforce)
        default = self.defaults[category] if use_default else None
        return None if default is None else Verdict(default.id, category, subject, default.enforce)

    def _rules_for(self, category: str, resolved: str) -> tuple[CompiledRule, ...]:
        key = (category, resolved)
        rules = self._path_candidates.get(key)
        if rules is None:
            any_path = self._any_path.get(category)
            rules = (
                ()
                if any_path is not None and any_path.match(resolved) is None
                else tuple(
                    rule
                    for rule in self.rules[category]
                    if isinstance(rule, PathRule) and rule.paths.match(resolved)
                )
            )
            if len(self._path_candidates) >= CACHE_LIMIT:
                self._path_candidates.clear()
            self._path_candidates[key] = rules
        return rules

    def _path_verdict(
        self, category: str, path: str | Target, where: Where, use_default: bool = True
    ) -> Verdict | None:
        """Judged by where the path leads now (``PathResolver``), and for a file with several
        names by the protected name it also has (``HardLinkIndex``)."""
        if category not in self.active:
            return None
        target = self.resolve.lookup(path) if isinstance(path, str) else path
        resolved, identity, links = target
        rules = self._rules_for(category, resolved)
        verdict = None
        if rules or (use_default and self.defaults[category] is not None):
            verdict = self._decide(category, rules, where, resolved, use_default)
        if verdict is None and links > 1 and identity is not None:
            alias = self.hard_links(identity)
            if alias is not None and alias != resolved:
                rules = self._rules_for(category, alias)
                if rules:
                    verdict = self._decide(
                        category, rules, where, f"{resolved} (a hard link to {alias})", False
                    )
        return verdict

    def _file_open(self, observation: Observation, where: Where) -> list[Verdict]:
        return self._file_open_kept(observation, where)[0]

    def _file_open_kept(
        self, observation: Observation, where: Where
    ) -> tuple[list[Verdict], Identity | None]:
        """A plain open (a path and an access mode, by the program, not the importer: no
        origin mark, no path object) reuses its verdicts while the path leads to the same
        file (one ``stat``, as ``PathResolver`` checks anyway): the verdict depends on the
        resolved path, the access and (for tool-scoped rules) the tool, nothing else.  Not
        for a file with several names (the hard-link index changes as links are made).

        Also returns, for such an open allowed outright (no verdict), the identity of the
        file it was allowed for, else None: the C hook answers the same open in the same
        span again while the path leads to that file (sensor/_fasthook.c, step 3).  Not when
        rules name tools and this one has no name yet."""
        attributes = observation[2]
        access = attributes.get(ev.FILE_ACCESS, ev.READ)
        path = str(attributes.get(ev.FILE_PATH, ""))
        identity, links = identify(path)
        key: tuple[str, ...] | None = None
        named = True  # the verdict does not hang on a tool name still unknown
        if len(attributes) == 2 and observation[3] == "open" and type(access) is str:
            key = (path, access)
            if self._open_tool_scoped:
                tool = tool_in(where) or self.inherited_tool or ""
                key += (tool,)
                named = tool != ""
            held = self._open_verdicts.get(key)
            if held is not None and identity is not None and held[0] == identity:
                return list(held[1]), None if held[1] or not named else identity
        verdicts = self._judge_open(observation, access, (path, identity, links), where)
        if key is not None and identity is not None and links <= 1:
            if len(self._open_verdicts) >= CACHE_LIMIT:
                self._open_verdicts.clear()
            self._open_verdicts[key] = (identity, verdicts)
            return verdicts, None if verdicts or not named else identity
        return verdicts, None

    def _judge_open(
        self,
        observation: Observation,
        access: object,
        identified: tuple[str, Identity | None, int],
        where: Where,
    ) -> list[Verdict]:
        attributes = observation[2]
        target = self.resolve.lookup_identified(*identified)
        # The importer reading a real module file (not a link to something else), and library
        # machinery reading Python sources (sensor/origin.py: linecache formatting the tool's
        # error), are judged by the rules that name them, not by a deny default: lazy imports
        # and the SDK's error handling keep working.
        use_default = not (
            (observation[3] == ev.IMPORTER_OPEN and looks_like_module_file(target[0]))
            or attributes.get(ev.ORIGIN) == ev.LIBRARY  # linecache formatting a traceback
        )
        verdicts = []
        if self.enforcing and ev.PATH_OBJECT in attributes:
            category = m.FILE_READ if access in _READ_ACCESS else m.FILE_WRITE
            verdicts.append(Verdict(PATH_OBJECT_RULE, category, target[0], True))
        if access in _READ_ACCESS:
            verdict = self._path_verdict(m.FILE_READ, target, where, use_default)
            if verdict is not None:
                verdicts.append(verdict)
        if access in _WRITE_ACCESS:
            verdict = self._path_verdict(m.FILE_WRITE, target, where, use_default)
            if verdict is not None:
                verdicts.append(verdict)
        return verdicts

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

    def _file_link(self, observation: Observation, where: Where) -> list[Verdict]:
        """A new name is a write; a hard link also exposes its source: a read of it."""
        attributes = observation.attributes
        verdicts = [self._path_verdict(m.FILE_WRITE, str(attributes.get(ev.FILE_PATH, "")), where)]
        source = attributes.get(ev.FILE_TARGET_PATH)
        if attributes.get(ev.FILE_LINK_TYPE) == "hard" and source is not None:
            verdicts.append(self._path_verdict(m.FILE_READ, str(source), where))
        return [verdict for verdict in verdicts if verdict is not None]

    def _file_rename(self, observation: Observation, where: Where) -> list[Verdict]:
        """Both names are written; moving a file (or a directory) away also exposes what it
        holds, as a hard link does: a read of the source (``os.rename(secret, "/tmp/x")``
        then an open of ``/tmp/x`` read what a read rule protects)."""
        attributes = observation.attributes
        verdicts = [
            self._path_verdict(m.FILE_WRITE, str(attributes.get(key, "")), where)
            for key in (ev.FILE_PATH, ev.FILE_TARGET_PATH)
        ]
        moved = self._moved(str(attributes.get(ev.FILE_PATH, "")))
        verdicts.append(self._path_verdict(m.FILE_READ, moved, where))
        if moved[0] and not any(verdicts):
            # moving an ancestor moves what a rule protects under it (``outer`` when a rule
            # names ``outer/inner/**``): judged as that protected path
            below = moved[0].rstrip("/") + "/"
            for category, roots in self._deny_roots.items():
                root = next((root for root in roots if root.startswith(below)), None)
                if root is not None:
                    verdicts.append(self._path_verdict(category, root, where))
        return [verdict for verdict in verdicts if verdict is not None]

    def _moved(self, source: str) -> Target:
        """What a rename moves: the name itself, not where a symbolic link leads (renaming a
        link to a secret moves the link), in its directory as the links there resolve.  Its
        other names do not count: a hard link to a protected file, moved, is still judged by
        the protected name when it is opened."""
        head, tail = os.path.split(source)
        if not head or not tail or tail in (".", ".."):
            return (self.resolve.lookup(source)[0], None, 0) if source else ("", None, 0)
        return os.path.join(self.resolve.lookup(head)[0], tail), None, 0

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
        parsed = parse_address(address)
        if operation == "resolve" and parsed is not None:
            return []  # "resolving" an IP literal asks nobody anything; the connect is judged
        if parsed is not None and operation != "bind":
            if parsed.is_unspecified:  # Linux connects 0.0.0.0 and :: to this very host
                address = "127.0.0.1" if parsed.version == 4 else "::1"
            elif str(parsed) != address and ":" not in address:  # 127.1, 2130706433, 0x7f.1
                address = str(parsed)
        port = attributes.get(ev.SERVER_PORT)
        port = port if isinstance(port, int) else None
        verdicts = self._network_verdict(operation, address, port, where)
        if verdicts or parsed is not None or operation == "resolve" or operation == "bind":
            return verdicts
        if not self.denies_by_address or not address or address.startswith(("/", "\0")):
            return verdicts
        # socket.connect/sendto given a host name: the C library resolves it with no audited
        # getaddrinfo, so an address rule (169.254.169.254, loopback) would never see where
        # it leads.  Judged by each address the name resolves to as well.
        for resolved in self._addresses_of(address):
            verdicts = self._network_verdict(operation, resolved, port, where)
            if verdicts:
                return verdicts
        return []

    def _addresses_of(self, host: str) -> tuple[str, ...]:
        """What ``host`` resolves to now (cached for a few seconds; the hook's own look-up
        is not audited: the thread is inside the hook)."""
        now = time.monotonic()
        cached = self.name_addresses.get(host)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            found = tuple({str(item[4][0]) for item in socket.getaddrinfo(host, None)})
        except (OSError, UnicodeError, ValueError):
            found = ()
        if len(self.name_addresses) >= CACHE_LIMIT:
            self.name_addresses.clear()
        self.name_addresses[host] = (now + 10.0, found)
        if found:
            self.remember_resolution(host, found)
        return found

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
        verdicts: list[Verdict] = []
        if self.enforcing and ev.PATH_OBJECT in attributes:
            verdicts.append(Verdict(PATH_OBJECT_RULE, m.PROCESS, command_line or executable, True))
        if self.enforcing and python_opts_out(executable, argv):
            verdicts.append(
                Verdict(CHILD_OPT_OUT_RULE, m.PROCESS, command_line or executable, True)
            )
        if m.FILE_READ in self.active:  # the child reads what its arguments name
            cwd = str(attributes.get(ev.PROCESS_WORKING_DIRECTORY, "") or os.getcwd())
            for path in argument_paths(argv, cwd):
                verdict = self._path_verdict(m.FILE_READ, path, where, use_default=False)
                if verdict is not None:
                    verdicts.append(verdict._replace(subject=f"{verdict.subject} ({executable})"))
                    break
        if m.PROCESS not in self.active:
            return verdicts
        normalized = self.resolve(executable) if executable.startswith("/") else executable
        candidates = [
            rule
            for rule in self.rules[m.PROCESS]
            if isinstance(rule, ProcessRule)
            and (rule.selects(executable, command_line) or rule.selects(normalized, command_line))
        ]
        verdict = self._decide(m.PROCESS, candidates, where, command_line or executable)
        if verdict is not None:
            verdicts.append(verdict)
        return verdicts

    def _code(self, observation: Observation, where: Where) -> list[Verdict]:
        attributes = observation.attributes
        # Code that library machinery generates (dataclasses, namedtuple, typing, ast for a
        # traceback: marked by sensor/origin.py) is not the tool's: the SDK formatting a
        # blocked tool's error compiles too, and must not be refused in turn.  The tool's own
        # compile/exec, code it hands to timeit, runpy, code, ..., and unpickling are judged.
        if observation.name == ev.CODE_EXEC and attributes.get(ev.ORIGIN) == ev.LIBRARY:
            return []
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
