"""The README's set-up command on a fresh virtual environment: a regular (not editable)
install of this checkout, then the example client run under ``mcptrace run`` on the
embedded default, the spool."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, clean_env, spans


@pytest.mark.slow
def test_fresh_install_runs_the_example_into_the_spool(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    if shutil.which("cc") or shutil.which("gcc"):  # the sensor's C hook was built and loads
        native = subprocess.run(
            [str(python), "-c", "import mcptrace.sensor._fasthook"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert native.returncode == 0, native.stderr
    state = tmp_path / "state"
    result = subprocess.run(
        [str(venv / "bin" / "mcptrace"), "run", "--", str(python), "examples/client.py"],
        cwd=ROOT,
        env=clean_env(XDG_STATE_HOME=str(state), HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ping ok" in result.stdout
    spool = state / "mcptrace" / "spool"  # the documented default location
    found = spans(spool)
    services = {span.resource.get("service.name") for span in found}
    assert {"client", "server"} <= services
    assert any(
        event.name == "mcptrace.file.open"
        for span in found
        if span.name == "tools/call word_count" and span.kind == 2
        for event in span.events
    )
