"""The layering ARCHITECTURE.md states, beyond what the import contracts (.importlinter) check.

- ``record/vocabulary.py`` imports nothing, and no other module spells a contract name as a
  string literal: every package (the view included) imports the vocabulary instead.
- ``import mcptrace`` and ``mcptrace.PolicyViolation`` load no OpenTelemetry SDK.
- The version is defined once (``mcptrace/_version.py``), without importlib.metadata.
- The import contracts themselves pass (what CI's lint stage runs).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mcptrace.record import vocabulary

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "mcptrace"
VOCABULARY = SRC / "record" / "vocabulary.py"


def _is_module(dotted: str) -> bool:
    path = SRC.parent.joinpath(*dotted.split("."))
    return path.is_dir() or path.with_suffix(".py").is_file()


def _dotted_names() -> dict[str, str]:
    """Contract names with a dot in them (short values such as "file" are ordinary words).

    Scope names that are also module names (``mcptrace.policy``) are left out: a module
    name in the code is not a copy of the scope name.
    """
    names: dict[str, str] = {}
    for name, value in vars(vocabulary).items():
        if name.isupper() and isinstance(value, str) and "." in value and not _is_module(value):
            names.setdefault(value, name)
    return names


def _string_literals(tree: ast.AST) -> list[ast.Constant]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_the_vocabulary_imports_nothing() -> None:
    tree = ast.parse(VOCABULARY.read_text(encoding="utf-8"))
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert imports == []


def test_no_module_copies_a_contract_name() -> None:
    names = _dotted_names()
    assert len(names) > 100  # the scan is looking for something real
    copies = []
    for path in sorted(SRC.rglob("*.py")):
        if path == VOCABULARY:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _string_literals(tree):
            if node.value in names:
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                copies.append(f'{where} "{node.value}" (vocabulary.{names[node.value]})')
    assert copies == []


def test_the_copy_scan_sees_a_copy() -> None:
    source = '"""A docstring naming mcptrace.file.open."""\nX = {"mcptrace.file.open": 1}\n'
    literals = [node.value for node in _string_literals(ast.parse(source))]
    assert literals == ["mcptrace.file.open"]
    assert literals[0] in _dotted_names()


PROBE = """
import sys
import mcptrace
mcptrace.PolicyViolation
from mcptrace.record import vocabulary, decide
loaded = sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk", "mcp.", "wrapt")))
print(loaded)
"""


def test_policy_violation_loads_no_sdk() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_import_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint_imports is None:
        pytest.fail("import-linter is not installed: pip install -e '.[test]'")
    result = subprocess.run(
        [lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:]


VERSION_PROBE = """
import sys
import mcptrace
print(mcptrace.__version__, "importlib.metadata" in sys.modules)
"""


def test_the_version_is_defined_once() -> None:
    import importlib.metadata

    from mcptrace.config import toml

    project = toml().loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project and "version" in project["dynamic"]
    result = subprocess.run(
        [sys.executable, "-c", VERSION_PROBE], capture_output=True, text=True, timeout=60
    )
    version, metadata_loaded = result.stdout.split()
    assert metadata_loaded == "False"  # read from mcptrace/_version.py, not the metadata
    assert version == importlib.metadata.version("mcptrace")
