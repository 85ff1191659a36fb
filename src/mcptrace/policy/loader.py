"""Read a policy file (TOML) into a ``Policy``, or explain every mistake with its line.

Usage::

    policy = load_policy(Path("policy.toml"))     # raises PolicyFileError
    errors = check_policy(Path("policy.toml"))    # [] or ["policy.toml:7:1: ...", ...]

The format (see examples/policies/)::

    [policy]
    mode = "enforce"                 # observe (default) | enforce
    applies_to = "tool_calls"        # tool_calls (default) | everything

    [defaults]                       # per category: allow (default) | deny
    network = "deny"

    [[rule]]
    id = "egress-github"             # named in violations and errors
    category = "network"             # file_read file_write network process code native
    action = "allow"                 # allow | deny (default deny)
    hosts = ["api.github.com"]
    ports = [443]
    tools = ["fetch_*"]              # optional: only inside these tools
    mode = "observe"                 # optional: overrides [policy] mode

Syntax errors carry the TOML decoder's line and column; for semantic errors the line of the
offending key is found by a small scan of the text (tables and ``key =`` lines).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcptrace.config import toml
from mcptrace.policy import model as m
from mcptrace.policy.matchers import validate_address


class PolicyFileError(ValueError):
    """A policy the user must fix; ``str()`` is one line per problem, each ``file:line:col:``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


_COMMON_KEYS = ("id", "category", "action", "mode", "tools", "description")
_CATEGORY_KEYS: dict[str, tuple[str, ...]] = {
    m.FILE_READ: ("paths",),
    m.FILE_WRITE: ("paths",),
    m.NATIVE: ("paths",),
    m.NETWORK: ("hosts", "addresses", "ports", "operations"),
    m.PROCESS: ("executables", "arguments"),
    m.CODE: ("operations", "globals"),
}
_POLICY_KEYS = ("mode", "applies_to", "name", "description")
_TOP_KEYS = ("policy", "defaults", "rule", "detection")
_RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*\Z")
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))")
_HEADER = re.compile(r"\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]")
_KEY = re.compile(r"\s*([A-Za-z0-9_\-]+)\s*=")
_DECODER_POSITION = re.compile(r"line (\d+), column (\d+)")


@dataclass
class _Section:
    line: int
    name: str
    index: int  # position among [[name]] tables; 0 for plain tables
    end: int = 0


class _LineIndex:
    """Where tables and keys are in the text, for messages about a parsed value."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.sections = [_Section(1, "", 0)]
        counts: dict[str, int] = {}
        for number, line in enumerate(self.lines, start=1):
            header = _HEADER.match(line)
            if header is None:
                continue
            name = header.group(2)
            index = counts.get(name, 0) if header.group(1) == "[[" else 0
            counts[name] = index + 1
            self.sections[-1].end = number - 1
            self.sections.append(_Section(number, name, index))
        self.sections[-1].end = len(self.lines)

    def section(self, table: str, index: int = 0) -> _Section | None:
        return next((s for s in self.sections if s.name == table and s.index == index), None)

    def line_of(self, table: str, index: int = 0, key: str | None = None, value: str = "") -> int:
        section = self.section(table, index)
        if section is None:
            return 1
        if key is None:
            return section.line
        start = next(
            (
                number
                for number in range(section.line, section.end + 1)
                if (found := _KEY.match(self.lines[number - 1] if number else ""))
                and found.group(1) == key
            ),
            None,
        )
        if start is None:
            return section.line
        if value:
            for number in range(start, section.end + 1):
                if value in self.lines[number - 1]:
                    return number
        return start


class _Problems:
    def __init__(self, source: str, index: _LineIndex) -> None:
        self.source = source
        self.index = index
        self.items: list[str] = []

    def add(
        self,
        message: str,
        table: str = "",
        number: int = 0,
        key: str | None = None,
        value: str = "",
    ) -> None:
        line = self.index.line_of(table, number, key, value)
        self.items.append(f"{self.source}:{line}:1: {message}")


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def expand_path(pattern: str) -> tuple[str, str | None]:
    """``~``, ``$VAR``, ``${VAR}`` and ``${VAR:-default}`` expanded; (result, error or None)."""
    missing: list[str] = []

    def value(found: re.Match[str]) -> str:
        name, default = found.group(1) or found.group(3), found.group(2)
        if name in os.environ and (os.environ[name] or default is None):
            return os.environ[name]
        if default is not None:
            return default
        missing.append(name)
        return found.group(0)

    expanded = os.path.expanduser(_VARIABLE.sub(value, pattern))
    if missing:
        return pattern, f"environment variable {missing[0]} is not set (or use ${{VAR:-default}})"
    if expanded.startswith("/"):
        expanded = os.path.normpath(expanded) + ("/**" if expanded.endswith("/**") else "")
        expanded = expanded.replace("/**/**", "/**")
        return expanded, None
    if "/" in expanded and not expanded.startswith("**/"):
        return pattern, (
            f"path pattern {pattern!r} is relative; use an absolute path, ~, $VAR, "
            "a leading **/ or a bare file name pattern"
        )
    return expanded, None


class _RuleReader:
    """Validates one [[rule]] table into a ``Rule``, reporting into ``problems``."""

    def __init__(self, table: dict[str, Any], number: int, problems: _Problems) -> None:
        self.table = table
        self.number = number
        self.problems = problems
        self.ok = True

    def error(self, message: str, key: str | None = None, value: str = "") -> None:
        self.ok = False
        label = self.table.get("id")
        where = f"rule {label!r}" if isinstance(label, str) else f"rule #{self.number + 1}"
        self.problems.add(f"{where}: {message}", "rule", self.number, key, value)

    def string(self, key: str, choices: tuple[str, ...] = (), default: str = "") -> str:
        if key not in self.table:
            return default
        value = self.table[key]
        if not isinstance(value, str):
            self.error(f"{key} must be a string", key)
            return default
        if choices and value not in choices:
            self.error(f"{key} = {value!r}: use one of {', '.join(choices)}", key)
            return default
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.error(f"{key} must be a list of non-empty strings", key)
            return ()
        return tuple(value)

    def read(self) -> m.Rule | None:
        rule_id = self.string("id")
        if not rule_id:
            self.error('every rule needs an id (a name used in violations), e.g. id = "no-ssh"')
        elif not _RULE_ID.match(rule_id) or rule_id.startswith("default."):
            self.error(f"id {rule_id!r}: use letters, digits, _ . : - (not default.*)", "id")
        category = self.string("category", m.CATEGORIES)
        if "category" not in self.table:
            self.error(f"category is missing: one of {', '.join(m.CATEGORIES)}")
        allowed = _COMMON_KEYS + _CATEGORY_KEYS.get(category, ())
        for key in self.table:
            if key not in allowed:
                every = _COMMON_KEYS + tuple(k for ks in _CATEGORY_KEYS.values() for k in ks)
                hint = _suggest(key, allowed) if key not in every else ""
                self.error(f"unknown key {key!r} for a {category or '?'} rule{hint}", key)
        action = self.string("action", m.ACTIONS, m.DENY)
        mode = self.string("mode", m.MODES) or None
        tools = self.strings("tools")
        if not category:
            return None
        fields: dict[str, Any] = {}
        if category in (m.FILE_READ, m.FILE_WRITE, m.NATIVE):
            fields["paths"] = self._paths()
        elif category == m.NETWORK:
            fields.update(self._network())
        elif category == m.PROCESS:
            fields.update(self._process())
        else:
            fields.update(self._code())
        if self.ok and not any(fields.values()):
            keys = " or ".join(_CATEGORY_KEYS[category])
            self.error(f"a {category} rule needs {keys}")
        if not self.ok:
            return None
        line = self.problems.index.line_of("rule", self.number)
        return m.Rule(
            id=rule_id,
            category=category,
            action=action,
            mode=mode,
            tools=tools,
            description=str(self.table.get("description", "")),
            line=line,
            **fields,
        )

    def _paths(self) -> tuple[str, ...]:
        if "paths" not in self.table:
            return ()
        result = []
        for pattern in self.strings("paths"):
            expanded, problem = expand_path(pattern)
            if problem:
                self.error(problem, "paths", pattern)
            result.append(expanded)
        return tuple(result)

    def _network(self) -> dict[str, Any]:
        hosts = tuple(host.lower().rstrip(".") for host in self.strings("hosts"))
        addresses = self.strings("addresses")
        for entry in addresses:
            problem = validate_address(entry)
            if problem:
                self.error(f"addresses: {problem}", "addresses", entry)
        ports: list[tuple[int, int]] = []
        raw_ports = self.table.get("ports", [])
        if not isinstance(raw_ports, list):
            raw_ports = [raw_ports]
        for entry in raw_ports:
            span = _port_range(entry)
            if span is None:
                self.error(
                    f'ports: {entry!r} is not a port (0-65535) or a range like "8000-8100"',
                    "ports",
                    str(entry),
                )
            else:
                ports.append(span)
        operations = self.strings("operations")
        for operation in operations:
            if operation not in m.NETWORK_OPERATIONS:
                choices = ", ".join(m.NETWORK_OPERATIONS)
                self.error(f"operations: {operation!r}: use {choices}", "operations", operation)
        return {"hosts": hosts, "addresses": addresses, "ports": tuple(ports)} | (
            {"operations": operations} if operations else {}
        )

    def _process(self) -> dict[str, Any]:
        executables = []
        for pattern in self.strings("executables"):
            expanded, problem = expand_path(pattern)
            if problem:
                self.error(problem, "executables", pattern)
            executables.append(expanded)
        arguments = self.strings("arguments")
        for pattern in arguments:
            try:
                re.compile(pattern)
            except (re.error, OverflowError, RecursionError) as exc:  # x{99999999999}, ((((…
                self.error(f"arguments: {pattern!r} is not a valid regex ({exc})", "arguments")
        return {"executables": tuple(executables), "arguments": arguments}

    def _code(self) -> dict[str, Any]:
        operations = self.strings("operations")
        for operation in operations:
            if operation not in m.CODE_OPERATIONS:
                choices = ", ".join(m.CODE_OPERATIONS)
                self.error(f"operations: {operation!r}: use {choices}", "operations", operation)
        return {"operations": operations, "globals": self.strings("globals")}


def _port_range(entry: object) -> tuple[int, int] | None:
    if isinstance(entry, bool):
        return None
    if isinstance(entry, int):
        return (entry, entry) if 0 <= entry <= 65535 else None
    if isinstance(entry, str):
        low, _, high = entry.partition("-")
        if low.strip().isdigit() and (high.strip().isdigit() or not high):
            span = (int(low), int(high or low))
            if 0 <= span[0] <= span[1] <= 65535:
                return span
    return None


def _decode(text: str, source: str) -> dict[str, Any]:
    tomllib = toml()
    try:
        document: dict[str, Any] = tomllib.loads(text)
        return document
    except tomllib.TOMLDecodeError as exc:
        line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
        message = str(getattr(exc, "msg", "") or exc)
        if line is None:
            found = _DECODER_POSITION.search(str(exc))
            line, column = (int(found.group(1)), int(found.group(2))) if found else (1, 1)
        message = _DECODER_POSITION.sub("", message).replace("(at )", "").strip(" ()")
        raise PolicyFileError([f"{source}:{line}:{column}: TOML syntax error: {message}"]) from None


def _line_number(problem: str) -> int:
    found = re.search(r":(\d+):\d+: ", problem)
    return int(found.group(1)) if found else 0


def parse_policy(text: str, source: str = "<policy>") -> m.Policy:
    """The policy in ``text``; raises PolicyFileError listing every problem."""
    document = _decode(text, source)
    problems = _Problems(source, _LineIndex(text))
    for key in document:
        if key not in _TOP_KEYS:
            problems.add(f"unknown table or key {key!r}{_suggest(key, _TOP_KEYS)}", key)

    settings = document.get("policy", {})
    mode, applies_to = m.OBSERVE, m.TOOL_CALLS
    if not isinstance(settings, dict):
        problems.add("policy must be a table: [policy]", "policy")
        settings = {}
    for key, value in settings.items():
        if key not in _POLICY_KEYS:
            problems.add(
                f"[policy]: unknown key {key!r}{_suggest(key, _POLICY_KEYS)}", "policy", key=key
            )
        elif key == "mode" and value not in m.MODES:
            problems.add(f"[policy]: mode = {value!r}: use observe or enforce", "policy", key=key)
        elif key == "applies_to" and value not in m.SCOPES:
            choices = " or ".join(m.SCOPES)
            problems.add(f"[policy]: applies_to = {value!r}: use {choices}", "policy", key=key)
    if settings.get("mode") in m.MODES:
        mode = settings["mode"]
    if settings.get("applies_to") in m.SCOPES:
        applies_to = settings["applies_to"]

    defaults = dict.fromkeys(m.CATEGORIES, m.ALLOW)
    raw_defaults = document.get("defaults", {})
    if not isinstance(raw_defaults, dict):
        problems.add("defaults must be a table: [defaults]", "defaults")
        raw_defaults = {}
    for key, value in raw_defaults.items():
        if key not in m.CATEGORIES:
            hint = _suggest(key, m.CATEGORIES)
            problems.add(f"[defaults]: unknown category {key!r}{hint}", "defaults", key=key)
        elif value not in m.ACTIONS:
            problems.add(f"[defaults]: {key} = {value!r}: use allow or deny", "defaults", key=key)
        else:
            defaults[key] = value

    rules: list[m.Rule] = []
    raw_rules = document.get("rule", [])
    if isinstance(raw_rules, dict):
        problems.add("write each rule as [[rule]] (an array of tables), not [rule]", "rule")
        raw_rules = []
    seen: dict[str, int] = {}
    for number, table in enumerate(raw_rules):
        if not isinstance(table, dict):
            problems.add("each rule must be a table: [[rule]]", "rule", number)
            continue
        rule = _RuleReader(table, number, problems).read()
        rule_id = table.get("id")
        if isinstance(rule_id, str) and rule_id in seen:
            problems.add(
                f"rule id {rule_id!r} is used twice (first at line {seen[rule_id]})",
                "rule",
                number,
                "id",
            )
            continue
        if isinstance(rule_id, str):
            seen[rule_id] = problems.index.line_of("rule", number)
        if rule is not None:
            rules.append(rule)
    if "detection" in document:  # detection rules (policy/detect.py): validated, kept there
        from mcptrace.policy.detect import DetectionRuleError, builtin_rules, parse_detection_tables

        try:
            parse_detection_tables(document["detection"], source, builtin_rules())
        except DetectionRuleError as exc:
            for problem in exc.problems:
                problems.add(problem.removeprefix(f"{source}: "), "detection")
    if problems.items:
        raise PolicyFileError(sorted(problems.items, key=_line_number))
    return m.Policy(mode, applies_to, defaults, tuple(rules), source)


def load_policy(path: Path) -> m.Policy:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise PolicyFileError([f"{path}: cannot read the policy file ({exc.strerror})"]) from None
    except UnicodeDecodeError as exc:
        raise PolicyFileError([f"{path}:1:1: not UTF-8 text ({exc.reason})"]) from None
    return parse_policy(text, str(path))


def check_policy(path: Path) -> list[str]:
    """Every problem of the policy at ``path`` (empty if it is valid)."""
    try:
        load_policy(path)
    except PolicyFileError as exc:
        return exc.problems
    return []


_ENFORCE_LINE = re.compile(r"^\s*mode\s*=\s*[\"']enforce[\"']", re.MULTILINE)


def looks_enforcing(path: Path, reader: Callable[[Path], bytes] = Path.read_bytes) -> bool:
    """Whether a (possibly broken) policy file asks for enforcement anywhere."""
    try:
        return bool(_ENFORCE_LINE.search(reader(path).decode("utf-8", "replace")))
    except OSError:
        return False
