"""The public contracts (docs/CONTRACTS.md) against the code that writes them.

docs/CONTRACTS.md is the repository's copy of DESIGN.md's "Contracts" section, so these
tests run on every checkout; where DESIGN.md sits beside the repository, the copy must
still say what it says.
"""

from __future__ import annotations

import re
from pathlib import Path

from mcptrace.record import vocabulary

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "docs" / "CONTRACTS.md"
DESIGN = ROOT.parent / "shared" / "DESIGN.md"
SECTION = "## Contracts users and tests rely on"
OTEL_FIELDS = {"event.name"}  # the log record field the event names go in, not an attribute


def section(text: str) -> str:
    return text.split(SECTION, 1)[1].split("\n## ", 1)[0].strip()


def event_bullet(text: str) -> str:
    return section(text).split("- Event names", 1)[1].split("\n- ", 1)[0]


def dotted_names(text: str) -> set[str]:
    """Every backticked name with a dot: event names and attribute names."""
    return set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", text))


def backticked_words(text: str) -> set[str]:
    return set(re.findall(r"`([a-z_]+)`", text))


def test_every_contract_name_is_in_the_vocabulary() -> None:
    names = dotted_names(event_bullet(CONTRACTS.read_text(encoding="utf-8")))
    assert len(names) > 30  # the parse found the list
    values = {value for value in vars(vocabulary).values() if isinstance(value, str)}
    assert sorted(names - values - OTEL_FIELDS) == []


def test_every_contract_value_is_in_the_vocabulary() -> None:
    """Attribute values the contract fixes: access modes, verification, action, attribution."""
    words = backticked_words(event_bullet(CONTRACTS.read_text(encoding="utf-8")))
    assert {"read", "verified", "blocked", "inferred"} <= words
    values = {value for value in vars(vocabulary).values() if isinstance(value, str)}
    assert sorted(words - values) == []


def test_the_vocabulary_check_sees_a_missing_name() -> None:
    text = f"{SECTION}\n\n- Event names: `mcptrace.file.open` (`mcptrace.file.nosuch`).\n"
    values = {value for value in vars(vocabulary).values() if isinstance(value, str)}
    assert dotted_names(event_bullet(text)) - values == {"mcptrace.file.nosuch"}


def test_the_copy_says_what_the_design_says() -> None:
    copy = section(CONTRACTS.read_text(encoding="utf-8"))
    assert "These names are public interface" in copy
    if DESIGN.is_file():  # beside the repository on a maintainer's machine
        assert copy == section(DESIGN.read_text(encoding="utf-8"))
