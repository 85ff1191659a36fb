"""``mcptrace inventory``: text, JSON and CycloneDX 1.5 from a real spool."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from provenance_support import DIST, VERSION, install_wheel, run_python, sha256_of

from support import clean_env, mcptrace_cmd


@pytest.fixture(scope="module")
def spool(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("inventory")
    site = install_wheel(work)
    edited = site / "provtest" / "core.py"
    edited.write_text(edited.read_text() + "# drift\n")
    run_python("import provtest.core", work / "spool", work / "cache.sqlite3", site)
    return work / "spool", site


def inventory(spool: Path, *options: str) -> str:
    result = subprocess.run(
        mcptrace_cmd("inventory", str(spool), *options),
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_text_lists_distributions_and_mismatches(spool: tuple[Path, Path]) -> None:
    text = inventory(spool[0])
    assert any(line.split()[:3] == [DIST, VERSION, "2"] for line in text.splitlines()), text
    mismatch_lines = [line for line in text.splitlines() if line.startswith("mismatch")]
    assert len(mismatch_lines) == 1 and mismatch_lines[0].endswith("provtest/core.py")
    assert "1 mismatching RECORD" in text


def test_json(spool: tuple[Path, Path]) -> None:
    data = json.loads(inventory(spool[0], "--json"))
    core = spool[1] / "provtest" / "core.py"
    (entry,) = [m for m in data["modules"] if m["path"] == str(core)]
    assert entry["sha256"] == sha256_of(core)
    assert entry["distribution"] == DIST and entry["version"] == VERSION
    assert entry["verification"] == "mismatch"
    assert entry["modules"] == ["provtest.core"]
    assert data["mismatches"] == [str(core)]
    (dist,) = [d for d in data["distributions"] if d["name"] == DIST]
    assert dist["verification"] == {"verified": 1, "mismatch": 1, "unrecorded": 0}


def test_cyclonedx(spool: tuple[Path, Path]) -> None:
    bom = json.loads(inventory(spool[0], "--cyclonedx"))
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.5"
    assert bom["serialNumber"].startswith("urn:uuid:")
    (library,) = [c for c in bom["components"] if c.get("purl") == f"pkg:pypi/{DIST}@{VERSION}"]
    assert library["type"] == "library" and library["version"] == VERSION
    init = spool[1] / "provtest" / "__init__.py"
    (file,) = [f for f in library["components"] if f["name"] == str(init)]
    assert file["type"] == "file"
    assert file["hashes"] == [{"alg": "SHA-256", "content": sha256_of(init)}]
    assert {"name": "mcptrace:verification", "value": "verified"} in file["properties"]
    refs = [c["bom-ref"] for c in bom["components"]]
    assert len(refs) == len(set(refs))


def test_empty_spool_says_so(tmp_path: Path) -> None:
    tmp_path.joinpath("spool").mkdir()
    assert "no module provenance" in inventory(tmp_path / "spool")
