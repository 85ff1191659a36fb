"""Library machinery working on a tool's behalf is marked ``mcptrace.origin = library``;
the tool's own code (an exec of a decoded string, directly or through timeit) is not.

Nothing is hidden: every event is still recorded, the mark only tells them apart.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from helpers import HERE, Recorded

from mcptrace.record import vocabulary as ev
from support import PYTHON, clean_env, run_under_mcptrace

pytestmark = pytest.mark.slow

SERVER = HERE / "library_server.py"
DRIVER = HERE / "drive_concurrent.py"
PAYLOAD = base64.b64encode(b"import os\nresult = os.getpid() > 0").decode()
EXPRESSION = base64.b64encode(b"6 * 7").decode()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, loopback: Any) -> Recorded:
    spool = tmp_path_factory.mktemp("origin") / "spool"
    calls: list[tuple[str, dict[str, Any]]] = [
        ("format_traceback", {}),  # first: linecache has not read this server's source yet
        ("fail", {"message": "boom"}),
        ("generate_classes", {"count": 3}),
        ("lazy_stdlib_import", {}),
        ("exec_decoded", {"payload": PAYLOAD}),
        ("eval_decoded", {"payload": EXPRESSION}),
        ("timeit_decoded", {"payload": PAYLOAD}),
        ("read_own_source", {}),
        ("first_httpx_call", {"url": f"http://127.0.0.1:{loopback.http_port}/"}),
    ]
    waves = [[call] for call in calls]
    run_under_mcptrace(
        [PYTHON, str(DRIVER), str(SERVER), json.dumps(waves)], spool, env=clean_env(), timeout=180
    )
    return Recorded(spool)


def marked(attributes: dict[str, Any]) -> bool:
    return attributes.get(ev.ORIGIN) == ev.LIBRARY


def sensor_events(recorded: Recorded, tool: str, name: str) -> list[dict[str, Any]]:
    span = recorded.tool_span(tool)
    return [e.attributes for e in span.events if e.name == name]


def test_a_failing_tools_traceback_formatting_is_library(recorded: Recorded) -> None:
    reads = [
        e
        for e in sensor_events(recorded, "fail", ev.FILE_OPEN)
        if str(e[ev.FILE_PATH]).endswith(".py")
    ]
    code = sensor_events(recorded, "fail", ev.CODE_EXEC)
    if not reads and not code:
        pytest.skip("this SDK version formats no traceback inside the call")
    for event in reads + code:
        assert marked(event), event
        assert event[ev.ORIGIN_MODULE]  # which module made the call, e.g. tokenize, ast


def test_the_tool_formatting_a_traceback_itself_is_library_too(recorded: Recorded) -> None:
    reads = sensor_events(recorded, "format_traceback", ev.FILE_OPEN)
    assert reads  # linecache read this server's own source for the frame lines
    assert all(marked(e) for e in reads)
    assert {e[ev.ORIGIN_MODULE] for e in reads} <= {"tokenize", "linecache", "ast", "traceback"}
    code = sensor_events(recorded, "format_traceback", ev.CODE_EXEC)
    assert all(marked(e) and e[ev.ORIGIN_MODULE] == "ast" for e in code)


def test_generated_classes_are_library_code(recorded: Recorded) -> None:
    code = sensor_events(recorded, "generate_classes", ev.CODE_EXEC)
    compiles = sum(1 + e.get(ev.EVENT_REPEATS, 0) for e in code)
    assert compiles >= 6  # 3 dataclasses (several methods each) and 3 namedtuples
    assert all(marked(e) for e in code), [e for e in code if not marked(e)][:2]
    modules = {e[ev.ORIGIN_MODULE] for e in code}
    assert {"dataclasses", "collections"} <= modules, modules


def test_a_lazy_import_by_the_standard_library_is_library(recorded: Recorded) -> None:
    imports = sensor_events(recorded, "lazy_stdlib_import", ev.MODULE_IMPORT)
    by_name = {e.get(ev.MODULE_NAME): e for e in imports}
    assert "xml.dom.expatbuilder" in by_name, list(by_name)
    assert marked(by_name["xml.dom.expatbuilder"])
    assert by_name["xml.dom.expatbuilder"][ev.ORIGIN_MODULE] == "xml.dom.minidom"


@pytest.mark.parametrize("tool", ["exec_decoded", "eval_decoded", "timeit_decoded"])
def test_the_tools_own_exec_is_never_library(recorded: Recorded, tool: str) -> None:
    code = sensor_events(recorded, tool, ev.CODE_EXEC)
    assert code, f"no code event on {tool}"
    assert not any(marked(e) for e in code), code
    logs = [
        r.attributes
        for r in recorded.logs_of(recorded.tool_span(tool), ev.CODE_EXEC)
        if not marked(r.attributes)
    ]
    assert logs  # and its log records say the same


def test_the_tool_reading_a_source_file_itself_is_its_own(recorded: Recorded) -> None:
    reads = sensor_events(recorded, "read_own_source", ev.FILE_OPEN)
    assert [e[ev.FILE_PATH] for e in reads] == [str(SERVER)]
    assert not marked(reads[0])


def test_the_first_httpx_call_its_machinery_is_library(recorded: Recorded) -> None:
    pytest.importorskip("httpx")  # mcp 1.x brings it; 2.x does not
    span = recorded.tool_span("first_httpx_call")
    code = [e.attributes for e in span.events if e.name == ev.CODE_EXEC]
    imports = [e.attributes for e in span.events if e.name == ev.MODULE_IMPORT]
    assert all(marked(e) for e in code), [e for e in code if not marked(e)][:3]
    own_import = [e for e in imports if e.get(ev.MODULE_NAME) == "httpx"]
    assert all(not marked(e) for e in own_import)  # `import httpx` is the tool's own line
    lazy = [e for e in imports if e.get(ev.MODULE_NAME) != "httpx"]
    assert all(marked(e) for e in lazy), [e for e in lazy if not marked(e)][:3]
    # its own connect to the server is the tool's, with no mark
    connects = [e.attributes for e in span.events if e.name == ev.NETWORK_CONNECT]
    assert connects and not any(marked(e) for e in connects)


INSTALLED_SERVER = """
import base64, os, sys
sys.path.insert(0, {examples!r})
from _compat import FastMCP
import codegen_helper

server = FastMCP("installed")


@server.tool()
def exec_payload(payload: str) -> str:
    namespace = {{}}
    exec(base64.b64decode(payload).decode(), namespace)
    return str(namespace.get("result"))


@server.tool()
def generated_by_a_helper() -> str:
    return str(codegen_helper.make_function()())
"""

CODEGEN_HELPER = """
def make_function():
    namespace = {}
    exec(compile("def generated():\\n    return 42\\n", "<generated>", "exec"), namespace)
    return namespace["generated"]
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """A server installed as a package in a site-packages directory, with a helper package."""
    work = tmp_path_factory.mktemp("installed")
    site = work / "lib" / "site-packages"
    (site / "evilsrv").mkdir(parents=True)
    (site / "codegen_helper").mkdir()
    examples = str(HERE.parent.parent / "examples")
    (site / "evilsrv" / "__init__.py").write_text(INSTALLED_SERVER.format(examples=examples))
    (site / "codegen_helper" / "__init__.py").write_text(CODEGEN_HELPER)
    launcher = work / "launch.py"
    launcher.write_text(
        f"import sys\nsys.path.insert(0, {str(site)!r})\nimport evilsrv\nevilsrv.server.run()\n"
    )
    waves = [[("exec_payload", {"payload": PAYLOAD})], [("generated_by_a_helper", {})]]
    run_under_mcptrace(
        [PYTHON, str(DRIVER), str(launcher), json.dumps(waves)],
        work / "spool",
        env=clean_env(),
        timeout=180,
    )
    return Recorded(work / "spool")


def test_an_installed_servers_own_exec_is_not_library(installed: Recorded) -> None:
    code = sensor_events(installed, "exec_payload", ev.CODE_EXEC)
    assert code and not any(marked(e) for e in code), code


def test_another_package_generating_code_for_the_tool_is_library(installed: Recorded) -> None:
    code = sensor_events(installed, "generated_by_a_helper", ev.CODE_EXEC)
    assert code and all(marked(e) for e in code), code
    assert {e[ev.ORIGIN_MODULE] for e in code} == {"codegen_helper"}
