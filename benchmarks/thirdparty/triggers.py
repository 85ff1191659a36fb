"""Plausible calls for a single-file server's tools, read from its source: the trigger values.

    calls_from_source(source)   # [[tool, arguments], ...]

Backdoors hide behind a magic argument (``if service_id == "SHELL_ACCESS"``, ``if "debug" in
mode``, ``if length == 16``).  A model following a poisoned description, or an attacker,
supplies it; a default argument never does.  For each tool function (``@X.tool`` decorated)
this yields one call with ordinary arguments, then one per constant its code compares a
parameter with, each boolean switch flipped from its default, then upper-case tokens the
module holds (``MAGIC_STRINGS = ["ACTIVATE_..."]`` checked in a helper), at most ``PER_TOOL``
calls in all.  A string parameter named like a
path, a command or a URL first gets what an attacker would pass there (``_BY_NAME``).
"""

from __future__ import annotations

import ast
import re
from typing import Any

PER_TOOL = 6
MAGIC = re.compile(r"[A-Z][A-Z0-9_]{5,}")  # module-wide tokens such as "ACTIVATE_BACKDOOR"
DEFAULTS: dict[str, Any] = {"int": 1, "float": 1.0, "bool": True, "dict": {}, "list": []}


def _tool_name(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    for decorator in function.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        target = call.func if call else decorator
        if isinstance(target, ast.Attribute) and target.attr == "tool":
            for keyword in call.keywords if call else []:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
            return function.name
    return None


def _kind(annotation: ast.expr | None) -> str:
    if isinstance(annotation, ast.Name):
        return annotation.id
    if isinstance(annotation, ast.Subscript) and isinstance(annotation.value, ast.Name):
        return annotation.value.id.lower()
    return "str"


def _mentions(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def _triggers(function: ast.AST, parameter: str) -> list[Any]:
    """Constants compared with (``==``, ``in``, ``startswith``) something built from a parameter."""
    found: list[Any] = []
    for node in ast.walk(function):
        pairs: list[tuple[ast.AST, ast.AST]] = []
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            pairs = [(a, b) for a in sides for b in sides if a is not b]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("startswith", "endswith", "__contains__")
        ):
            pairs = [(node.func.value, arg) for arg in node.args]
        for subject, other in pairs:
            if not _mentions(subject, parameter):
                continue
            values = other.elts if isinstance(other, (ast.List, ast.Tuple, ast.Set)) else [other]
            for value in values:
                if (
                    isinstance(value, ast.Constant)
                    and isinstance(value.value, (str, int))
                    and not isinstance(value.value, bool)
                    and value.value not in found
                ):
                    found.append(value.value)
    return found


# what an attacker (or a poisoned description) hands a parameter named like a path, a command,
# a URL: {HOME} is the sandbox's throwaway HOME with fake secrets, {HTTP} a loopback server
_BY_NAME: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(dest|target|output|out_|save|write)", re.I), "{HOME}/.bashrc"),
    (re.compile(r"(path|file|src|source|dir|folder|location|archive)", re.I), "{HOME}/.ssh/id_rsa"),
    (re.compile(r"(command|cmd|shell|script|args)", re.I), "cat {HOME}/.aws/credentials"),
    (re.compile(r"(url|endpoint|uri|webhook|host)", re.I), "http://127.0.0.1:{HTTP}/stage2.py"),
)


def _default(function: ast.FunctionDef | ast.AsyncFunctionDef, parameter: str) -> Any:
    """A parameter's default value when it is a constant (None when absent or computed)."""
    arguments = function.args.args
    offset = len(arguments) - len(function.args.defaults)
    for index, argument in enumerate(arguments[offset:]):
        default = function.args.defaults[index]
        if argument.arg == parameter and isinstance(default, ast.Constant):
            return default.value
    return None


def _by_name(parameter: str) -> str | None:
    for pattern, value in _BY_NAME:
        if pattern.search(parameter):
            return value
    return None


def calls_from_source(source: str) -> list[list[Any]]:
    calls: list[list[Any]] = []
    module = ast.parse(source)
    magic = [
        node.value
        for node in ast.walk(module)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and MAGIC.fullmatch(node.value)
    ]
    for function in ast.walk(module):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        tool = _tool_name(function)
        if tool is None:
            continue
        arguments = function.args.args
        required = len(arguments) - len(function.args.defaults)
        base: dict[str, Any] = {}
        kinds: dict[str, str] = {}
        for index, argument in enumerate(arguments):
            kinds[argument.arg] = _kind(argument.annotation)
            if index >= required or argument.arg in ("ctx", "context", "self"):
                continue
            base[argument.arg] = DEFAULTS.get(kinds[argument.arg], "hello")
        planned = [[tool, base]]
        for argument in arguments:
            candidates: list[Any] = _triggers(function, argument.arg)
            if kinds[argument.arg] == "bool":  # a switch an attacker turns on (or off)
                candidates = [True, False]
            if kinds[argument.arg] == "str":  # an attacker's value, a token checked elsewhere
                named = _by_name(argument.arg)
                candidates = ([named] if named else []) + candidates
                candidates += [token for token in magic if token not in candidates]
            for value in candidates:
                if isinstance(value, bool):
                    if base.get(argument.arg, _default(function, argument.arg)) != value:
                        planned.append([tool, {**base, argument.arg: value}])
                    continue
                if isinstance(value, int) and kinds[argument.arg] not in ("int", "float"):
                    value = str(value)
                if isinstance(value, str) and kinds[argument.arg] in ("int", "float"):
                    continue
                planned.append([tool, {**base, argument.arg: value}])
        calls.extend(planned[:PER_TOOL])
    return calls
