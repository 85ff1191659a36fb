"""uninstrument() undoes every patch of every mcptrace instrumentor (entry points
``mcptrace_*``), found by comparing every attribute of every library module and class before
and after, not by a list of the patches we know of."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
INSTRUMENTORS = [
    "mcptrace_mcp",
    "mcptrace_policy",
    "mcptrace_provenance",
    "mcptrace_sensor",
    "mcptrace_subprocess",
    "mcptrace_threads",
]
# patched by every mcp major (spot checks that the probe sees patches at all)
ALWAYS_PATCHED = {
    "subprocess:Popen.__init__",
    "threading:Thread.start",
    "concurrent.futures.thread:ThreadPoolExecutor.submit",
    "mcp.client.stdio:stdio_client",
}
# a policy, once locked in, stays for the life of the process (policy/instrumentor.py): its
# host-name resolution and the os.open wrapper that tells the hook an open's dir_fd
# (sensor/translate.py, track_open_dir_fd, installed when the policy is pinned)
LOCKED_IN = {"socket:getaddrinfo", "os:open", "posix:open"}


def probe(tmp_path: Path, **env: str) -> dict[str, Any]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MCPTRACE_", "OTEL_"))}
    environment |= {"MCPTRACE_SPOOL_DIR": str(tmp_path / "spool"), **env}
    result = subprocess.run(
        [sys.executable, str(HERE / "uninstrument_probe.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.slow
def test_uninstrument_undoes_every_patch(tmp_path: Path) -> None:
    report = probe(tmp_path)
    assert report["instrumentors"] == INSTRUMENTORS
    assert set(report["patched"]) >= ALWAYS_PATCHED
    assert report["left"] == []
    assert report["sensor_installed"] and not report["sensor_active_after"]
    middleware = report["middleware"]
    if middleware and middleware["fresh"]:  # mcp 2.x (1.x servers have no middleware list):
        # ours replaces the SDK's in a server's list, and goes again
        assert middleware["instrumented"] == ["TracingMiddleware"]
        assert middleware["after"] == middleware["fresh"]


@pytest.mark.slow
def test_a_locked_in_policy_is_the_only_patch_left(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[policy]\nmode = "observe"\n[defaults]\nnetwork = "deny"\n'
        '[[rule]]\nid = "by-name"\ncategory = "network"\naction = "allow"\nhosts = ["localhost"]\n'
    )
    report = probe(tmp_path, MCPTRACE_POLICY=str(policy))
    assert set(report["patched"]) >= LOCKED_IN
    # on mcp 2.x, the tool runner that turns a violation into a tool error stays too
    assert set(report["left"]) - {"mcp.server.mcpserver.tools.base:Tool.run"} == LOCKED_IN


@pytest.mark.slow
def test_the_probe_sees_a_patch_left_behind(tmp_path: Path) -> None:
    script = tmp_path / "leaky.py"
    script.write_text(
        "import runpy, sys, subprocess\n"
        f"sys.argv = [{str(HERE / 'uninstrument_probe.py')!r}]\n"
        "from mcptrace.children import ChildProcessInstrumentor\n"
        "ChildProcessInstrumentor._uninstrument = lambda self, **kw: None\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "subprocess:Popen.__init__" in report["left"]


@pytest.mark.parametrize("name", INSTRUMENTORS)
def test_each_instrumentor_is_an_entry_point(name: str) -> None:
    import importlib.metadata

    found = importlib.metadata.entry_points(group="opentelemetry_instrumentor", name=name)
    assert len(list(found)) == 1
