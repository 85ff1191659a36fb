from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from spoolgen import write_recorded_spool


@pytest.fixture(scope="session")
def recorded_spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_recorded_spool(tmp_path_factory.mktemp("recorded") / "spool")
