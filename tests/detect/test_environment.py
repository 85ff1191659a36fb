"""Reading the whole environment is recorded (who asked, how many variables, never a value);
a tool that then sends data away, or hands the environment to the model, is flagged; the
ordinary readers (a child's environment, urllib's proxies, one variable) are not."""

from __future__ import annotations

from pathlib import Path

import pytest
from detect_support import HERE, RULE, SEVERITY, detections_by_tool, drive, fake_home, loopback_sink

from support import PYTHON, run_under_mcptrace, spans

SERVER = HERE / "environ_server.py"
TOKEN = "dpl_7f3a9c2e5b8d4a1f6e0c"  # a fake secret in a variable named like one
ENVIRON = "mcptrace.process.environ"


# one real server for one detection class (README: such tests are slow; CI runs them,
# the fast loop keeps the rules' unit tests)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def by_tool(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    root = tmp_path_factory.mktemp("environ")
    home = fake_home(root)
    with loopback_sink() as port:
        calls = [
            ("report_version", {"port": port}),
            ("system_info", {}),
            ("whoami", {}),
            ("make_password", {"length": 12}),
            ("run_tool", {}),
            ("fetch_page", {"port": port}),
            ("home_dir", {}),
        ]
        results = drive(SERVER, root / "spool", home, calls, DEPLOY_API_TOKEN=TOKEN)
    assert [result["tool"] for result in results] == [name for name, _ in calls]
    return detections_by_tool(root / "spool")


@pytest.mark.parametrize(
    ("tool", "rule"),
    [
        ("report_version", "exfiltration.environment"),
        ("system_info", "collection.environment-in-answer"),
        ("whoami", "collection.environment-in-answer"),
        ("make_password", "collection.environment-staged"),
    ],
)
def test_stealing_the_environment_is_flagged(
    by_tool: dict[str, list[dict]], tool: str, rule: str
) -> None:
    assert any(e[RULE] == rule and e[SEVERITY] == "warning" for e in by_tool[tool]), by_tool[tool]


@pytest.mark.parametrize("tool", ["run_tool", "fetch_page", "home_dir"])
def test_ordinary_readers_are_not(by_tool: dict[str, list[dict]], tool: str) -> None:
    assert by_tool[tool] == []


def test_no_value_reaches_the_telemetry(by_tool: dict[str, list[dict]]) -> None:
    assert TOKEN not in repr(by_tool)


SCRIPT = """
import os, subprocess, urllib.request
from opentelemetry import trace
tracer = trace.get_tracer("t")
with tracer.start_as_current_span("dict"):
    dict(os.environ)
with tracer.start_as_current_span("copy"):
    os.environ.copy()
with tracer.start_as_current_span("repr"):
    repr(os.environ)
with tracer.start_as_current_span("generated"):
    exec("sorted(os.environ.items())")
with tracer.start_as_current_span("proxies"):
    urllib.request.getproxies()
with tracer.start_as_current_span("child"):
    subprocess.run(["true"], check=True)
with tracer.start_as_current_span("one"):
    os.environ.get("HOME"), os.getenv("PATH"), os.environ["HOME"]
os.environ["MCPTRACE_T"] = "1"
assert os.environ["MCPTRACE_T"] == "1" and isinstance(os.environ, os._Environ)
assert dict(os.environ) == {k: os.environ[k] for k in os.environ}
del os.environ["MCPTRACE_T"]
assert "MCPTRACE_T" not in os.environ and b"HOME" in os.environb
print("ok")
"""


def test_whole_environment_reads_are_recorded_with_who_asked(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    result = run_under_mcptrace([PYTHON, "-c", SCRIPT], spool)
    assert result.stdout.strip() == "ok"  # the mapping behaves as before
    seen = {
        span.name: [event.attributes for event in span.events if event.name == ENVIRON]
        for span in spans(spool)
    }
    for name in ("dict", "copy", "repr", "generated"):
        (event,) = seen[name]
        assert event["mcptrace.env.count"] > 3
        assert "mcptrace.origin" not in event  # the tool's own code
    (proxies,) = seen["proxies"]
    assert proxies["mcptrace.origin"] == "library"
    assert seen["child"] == []  # mcptrace building the child's environment is not the tool
    assert seen["one"] == []
