"""detections.json is the parse of detections.toml, used only while it is that.

Reading the built-in rules from the JSON copy spares every judging process the TOML parser
(≈15 ms); the TOML stays the only source: an edited TOML whose JSON was not made again, a
broken or missing JSON, are read from the TOML.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mcptrace.config import toml
from mcptrace.policy import detect
from mcptrace.policy.detect import builtin_rules, builtin_table_text, builtin_tables

REGENERATE = (
    "detections.json is stale: run "
    "python -c 'from mcptrace.policy.detect import write_builtin_table; write_builtin_table()'"
)


def toml_tables(directory: Path) -> object:
    return toml().loads((directory / "detections.toml").read_text("utf-8"))["detection"]


def test_the_shipped_json_is_the_parse_of_the_shipped_toml() -> None:
    shipped = Path(detect.__file__).with_name("detections.json").read_text("utf-8")
    assert shipped == builtin_table_text(), REGENERATE
    assert builtin_tables() == toml_tables(Path(detect.__file__).parent)


@pytest.fixture
def rules_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    source = Path(detect.__file__).parent
    for name in ("detections.toml", "detections.json"):
        shutil.copy(source / name, tmp_path / name)
    monkeypatch.setattr(detect, "_BUILTIN_DIR", tmp_path)
    return tmp_path


def test_an_edited_toml_wins_over_the_json_made_before(rules_dir: Path) -> None:
    path = rules_dir / "detections.toml"
    text = path.read_text("utf-8")
    rule = 'id = "credential-access.ssh-private-key"\nseverity = '
    edited = text.replace(rule + '"critical"', rule + '"notice"')
    assert edited != text
    path.write_text(edited + '\n[[detection]]\nid = "x.new"\nseverity = "info"\n'
                    'reason = "r"\nevents = ["file.open"]\n', "utf-8")  # fmt: skip
    rules = builtin_rules()
    assert rules["credential-access.ssh-private-key"].severity == "notice"
    assert "x.new" in rules
    assert builtin_tables() == toml_tables(rules_dir)


@pytest.mark.parametrize(
    "json_text",
    ["", "{not json", "[]", '{"sha256": 1}', '{"detection": []}', None],
    ids=["empty", "broken", "a list", "no tables", "no digest", "missing"],
)
def test_a_json_that_is_not_the_toml_parse_is_not_used(
    rules_dir: Path, json_text: str | None
) -> None:
    table = rules_dir / "detections.json"
    if json_text is None:
        table.unlink()
    else:
        table.write_text(json_text, "utf-8")
    assert builtin_tables() == toml_tables(rules_dir)
    assert len(builtin_rules()) > 80


def test_a_json_made_for_another_toml_is_not_used(rules_dir: Path) -> None:
    table = json.loads((rules_dir / "detections.json").read_text("utf-8"))
    table["detection"] = table["detection"][:3]  # the tables of some other version
    table["sha256"] = "0" * 64
    (rules_dir / "detections.json").write_text(json.dumps(table), "utf-8")
    assert len(builtin_rules()) == len(toml_tables(rules_dir))  # type: ignore[arg-type]
