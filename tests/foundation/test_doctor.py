"""``mcptrace doctor`` says where telemetry goes and whether that works."""

from __future__ import annotations

import subprocess
from importlib.util import find_spec
from pathlib import Path

import pytest

from receivers import OtelTap, closed_port
from support import clean_env, mcptrace_cmd


def doctor(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        mcptrace_cmd("doctor", *args),
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_default_destination_is_the_spool(spool: Path) -> None:
    result = doctor("--spool", str(spool))
    assert result.returncode == 0, result.stdout
    assert f"traces: spool {spool}" in result.stdout
    assert f"spool {spool}: writable" in result.stdout
    assert "  mcp " in result.stdout and "opentelemetry-sdk" in result.stdout


def test_reachable_endpoint(spool: Path, tmp_path: Path) -> None:
    with OtelTap(tmp_path) as tap:
        result = doctor("--spool", str(spool), "--endpoint", tap.endpoint)
    assert result.returncode == 0, result.stdout
    assert f"endpoint {tap.endpoint}: OK" in result.stdout
    assert f"traces: OTLP http/protobuf {tap.endpoint}" in result.stdout


def test_unreachable_endpoint_and_unwritable_spool(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    dead = f"http://127.0.0.1:{closed_port()}"
    result = doctor("--spool", str(blocker / "spool"), "--endpoint", dead)
    assert result.returncode == 1
    assert f"endpoint {dead}: PROBLEM unreachable" in result.stdout
    assert "spool: PROBLEM MCPTRACE_SPOOL_DIR: " in result.stdout  # no second "mcptrace:"


def test_bad_setting_is_reported(spool: Path) -> None:
    result = doctor("--spool", str(spool), MCPTRACE_SENSOR="nonsense")
    assert result.returncode == 1
    assert "settings: ERROR mcptrace: MCPTRACE_SENSOR" in result.stdout


def test_doctor_says_which_audit_hook_runs(spool: Path) -> None:
    built = find_spec("mcptrace.sensor._fasthook") is not None
    default = doctor("--spool", str(spool)).stdout
    python_only = doctor("--spool", str(spool), MCPTRACE_NATIVE_HOOK="false").stdout
    if built:
        assert "sensor audit hook: C accelerator in front of the Python hook" in default
        assert "sensor audit hook: Python (MCPTRACE_NATIVE_HOOK=false)" in python_only
    else:
        assert "sensor audit hook: Python (the C accelerator was not built" in default


def test_a_spool_others_can_write_and_a_symlinked_hash_cache_are_problems(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    victim = tmp_path / "someone-elses.sqlite3"
    victim.write_text("")
    cache = tmp_path / "state" / "cache.sqlite3"
    cache.parent.mkdir(mode=0o700)
    cache.symlink_to(victim)
    result = doctor("--spool", str(shared), MCPTRACE_HASH_CACHE=str(cache))
    assert result.returncode == 1
    assert f"spool directory {shared} is writable by other users (mode 0777)" in result.stdout
    assert f"hash cache: PROBLEM hash cache {cache} is a symbolic link" in result.stdout


@pytest.mark.slow
def test_doctor_tells_what_the_collector_has_not_acknowledged(spool: Path) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    from support import PYTHON, run_under_mcptrace

    one_span = "from opentelemetry import trace; trace.get_tracer('t').start_span('s').end()"
    run_under_mcptrace(
        [PYTHON, "-c", one_span],
        spool,
        "--endpoint",
        dead,
    )
    result = doctor("--spool", str(spool), "--endpoint", dead)
    line = next(t for t in result.stdout.splitlines() if t.startswith("  unsent traces: "))
    assert "byte(s) not yet acknowledged" in line and not line.startswith("  unsent traces: 0 ")
