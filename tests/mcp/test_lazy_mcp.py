"""``import mcp`` under ``mcptrace run`` installs thin wrappers only; the first MCP call sets
everything up, and the session is traced exactly as when everything was set up at start.

Runs in every CI stage that runs tests/mcp: mcp 2.x (main), mcp 1.x (mcp1).  Real processes,
the example client and server over stdio and streamable HTTP.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from mcptrace.mcp import lazy
from mcptrace.record import vocabulary as ev
from support import EXAMPLES, PYTHON, clean_env, logs, run_under_mcptrace, spans

STACK = ", ".join(
    name
    for name in ("mcp", "pydantic", "anyio", "starlette", "fastmcp")
    if importlib.util.find_spec(name) is not None
)
# what setting up telemetry loads: the SDK, mcptrace's providers and exporters, the MCP
# instrumentation's span, enrichment and redaction modules
_PROBE = f"""
import sys
def heavy():
    return sorted(
        name for name in sys.modules
        if name.startswith(("opentelemetry.sdk", "mcptrace.export", "mcptrace.record.span_"))
        or (
            name.startswith("mcptrace.mcp.")
            and name not in ("mcptrace.mcp.lazy", "mcptrace.mcp.patch_tables")
        )
    )
import {STACK}
print("after import:", *heavy())
if sys.argv[1:] == ["activate"]:
    from mcptrace import activation
    activation.activate()  # as a record to write would, or the program's use of the API
    print("sdk:", "opentelemetry.sdk.trace" in sys.modules)
    print("mcp instrumentation:", *[n for n in heavy() if n.startswith("mcptrace.mcp.")])
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_env(
        XDG_STATE_HOME=str(tmp_path / "state"),
        MCPTRACE_HASH_CACHE=str(tmp_path / "cache.sqlite3"),
        **extra,
    )


def test_importing_the_mcp_stack_sets_up_no_telemetry(spool: Path, tmp_path: Path) -> None:
    # the sensor off: nothing recorded, so nothing but the import itself could activate
    env = _env(tmp_path, MCPTRACE_SENSOR="none")
    result = run_under_mcptrace([PYTHON, "-c", _PROBE], spool, env=env)
    assert result.stdout.splitlines() == ["after import:"], result.stderr


@pytest.mark.slow  # a program run of 1.5-3 s: CI runs it, the fast loop keeps the cheaper ones
def test_an_activation_for_another_reason_leaves_the_mcp_instrumentation_for_its_first_call(
    spool: Path, tmp_path: Path
) -> None:
    result = run_under_mcptrace([PYTHON, "-c", _PROBE, "activate"], spool, env=_env(tmp_path))
    lines = result.stdout.splitlines()
    assert lines[1:] == ["sdk: True", "mcp instrumentation:"], result.stdout + result.stderr


@pytest.mark.slow  # a program run of 1.5-3 s: CI runs it, the fast loop keeps the cheaper ones
def test_the_program_s_own_use_of_opentelemetry_activates_first(
    spool: Path, tmp_path: Path
) -> None:
    script = (
        f"import {STACK}\n"
        "import sys\n"
        "assert 'opentelemetry.sdk.trace' not in sys.modules\n"
        "from opentelemetry import trace\n"
        "print(type(trace.get_tracer_provider()).__module__)\n"
        "with trace.get_tracer('mine').start_as_current_span('own work'):\n"
        "    pass\n"
    )
    env = _env(tmp_path, MCPTRACE_SENSOR="none")
    result = run_under_mcptrace([PYTHON, "-c", script], spool, env=env)
    assert result.stdout.strip() == "opentelemetry.sdk.trace", result.stderr
    assert [s.name for s in spans(spool) if s.scope == "mine"] == ["own work"]


@pytest.mark.slow  # a program run of 1.5-3 s: CI runs it, the fast loop keeps the cheaper ones
def test_a_provider_the_program_sets_first_gets_mcp_s_spans(spool: Path, tmp_path: Path) -> None:
    """mcp 2.x takes a ProxyTracer at import: it must follow the program's own provider,
    set before anything activated (and not be replaced by mcptrace's).  mcp 1.x does not
    load OpenTelemetry: the program's import of it activates first, as before."""
    script = (
        f"import {STACK}\n"
        "import sys\n"
        "if 'opentelemetry' not in sys.modules:\n"
        "    print('mcp did not load opentelemetry'); raise SystemExit\n"
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import (\n"
        "    InMemorySpanExporter)\n"
        "mine, memory = TracerProvider(), InMemorySpanExporter()\n"
        "mine.add_span_processor(SimpleSpanProcessor(memory))\n"
        "trace.set_tracer_provider(mine)\n"
        "from mcp.shared import _otel\n"
        "with _otel._tracer.start_as_current_span('through mcp'):\n"
        "    pass\n"
        "names = [s.name for s in memory.get_finished_spans()]\n"
        "print(trace.get_tracer_provider() is mine, names)\n"
    )
    env = _env(tmp_path, MCPTRACE_SENSOR="none")
    result = run_under_mcptrace([PYTHON, "-c", script], spool, env=env)
    if lazy.mcp_major() == 1:
        assert result.stdout.strip() == "mcp did not load opentelemetry", result.stderr
    else:
        assert result.stdout.strip() == "True ['through mcp']", result.stderr


def _shape(spool: Path) -> Counter[tuple[str, int, str]]:
    """Every span as (name, kind, attribute names)."""
    return Counter((s.name, s.kind, ",".join(sorted(s.attributes))) for s in spans(spool))


def _session(tmp_path: Path, name: str, command: list[str], eager: bool) -> Path:
    spool = tmp_path / f"spool-{name}-{'eager' if eager else 'lazy'}"
    extra = {}
    if eager:  # a config file: everything is set up at start, as before
        config = tmp_path / "mcptrace.toml"
        config.write_text("")
        extra["MCPTRACE_CONFIG"] = str(config)
    run_under_mcptrace(command, spool, env=_env(tmp_path, **extra), timeout=180)
    return spool


def _client_server_pairs(spool: Path) -> list[tuple[str, int, int]]:
    """(name, client spans, server spans) for each tools/call span name, all in one trace."""
    records = [s for s in spans(spool) if s.name.startswith("tools/call")]
    pairs = []
    for name in sorted({s.name for s in records}):
        same = [s for s in records if s.name == name]
        for trace_id in {s.trace_id for s in same}:
            in_trace = [s for s in same if s.trace_id == trace_id]
            pairs.append(
                (
                    name,
                    sum(s.kind == 3 for s in in_trace),
                    sum(s.kind == 2 for s in in_trace),
                )
            )
    return sorted(pairs)


def _assert_traced_as_when_eager(tmp_path: Path, name: str, command: list[str]) -> None:
    lazy = _session(tmp_path, name, command, eager=False)
    eager = _session(tmp_path, name, command, eager=True)
    lazy_shape, eager_shape = _shape(lazy), _shape(eager)
    assert lazy_shape == eager_shape, (
        f"only lazy: {lazy_shape - eager_shape}\nonly eager: {eager_shape - lazy_shape}"
    )
    pairs = _client_server_pairs(lazy)
    assert pairs and all(client == 1 and server == 1 for _, client, server in pairs), pairs
    assert pairs == _client_server_pairs(eager)


@pytest.mark.slow  # real sessions: CI runs them, the fast loop does not
def test_a_stdio_session_after_the_import_is_traced_as_when_set_up_at_start(
    tmp_path: Path,
) -> None:
    _assert_traced_as_when_eager(tmp_path, "stdio", [PYTHON, str(EXAMPLES / "client.py")])


@pytest.mark.slow  # real sessions: CI runs them, the fast loop does not
def test_an_http_session_after_the_import_is_traced_as_when_set_up_at_start(
    tmp_path: Path,
) -> None:
    _assert_traced_as_when_eager(tmp_path, "http", [PYTHON, str(EXAMPLES / "http_client.py")])


def test_the_thin_and_the_real_wrappers_come_from_one_table() -> None:
    """lazy's thin wrappers and the instrumentor's real ones read the same table: each
    name there is a wrapper of that name in its home, entry for entry."""
    import importlib

    from mcptrace.mcp import patch_tables

    assert lazy.TABLES is patch_tables.TABLES
    bound = {
        "mcptrace.mcp.transports": "CLIENT_TRANSPORT_PATCHES",
        "mcptrace.mcp.v1": "V1_PATCHES",
        "mcptrace.mcp.v2": "V2_PATCHES",
        "mcptrace.mcp.fastmcp": "FASTMCP_PATCHES",
    }
    assert {home for home, _ in patch_tables.TABLES} == set(bound)
    for home, table in patch_tables.TABLES:
        module = importlib.import_module(home)
        patches = getattr(module, bound[home])
        assert [(m, dotted) for m, dotted, _ in patches] == [(m, d) for m, d, _ in table]
        for (_, dotted, wrapper), (_, _, name) in zip(patches, table, strict=True):
            assert callable(wrapper) and wrapper is vars(module)[name], (home, dotted)


@pytest.mark.slow  # real sessions: CI runs them, the fast loop does not
def test_servers_made_in_several_threads_at_once_all_get_the_tracing_middleware(
    spool: Path, tmp_path: Path
) -> None:
    """The first calls race: one thread activates and instruments while the others wait;
    none may settle on the plain, uninstrumented call."""
    if lazy.mcp_major() != 2:
        pytest.skip("mcp 1.x has no middleware list: its servers are traced per message")
    script = (
        "import threading\n"
        "import mcp\n"
        "from mcp.server.lowlevel import Server\n"
        "barrier, servers = threading.Barrier(6), []\n"
        "def make(number):\n"
        "    barrier.wait()\n"
        "    servers.append(Server(f'server {number}'))\n"
        "threads = [threading.Thread(target=make, args=(n,)) for n in range(6)]\n"
        "for thread in threads: thread.start()\n"
        "for thread in threads: thread.join()\n"
        "kinds = [type(m).__name__ for s in servers for m in s.middleware]\n"
        "print(kinds.count('TracingMiddleware'))\n"
    )
    for _ in range(3):
        result = run_under_mcptrace([PYTHON, "-c", script], spool, env=_env(tmp_path))
        assert result.stdout.strip() == "6", result.stderr


def test_importing_fastmcp_sets_up_no_telemetry_until_its_first_server(
    spool: Path, tmp_path: Path
) -> None:
    if importlib.util.find_spec("fastmcp") is None:
        pytest.skip("fastmcp is not installed here (its CI stage runs this)")
    script = (
        "import sys\n"
        "import fastmcp\n"
        "print(any(m.startswith('opentelemetry.sdk') for m in sys.modules))\n"
        "server = fastmcp.FastMCP('probe')\n"
        "print(any(m.startswith('opentelemetry.sdk') for m in sys.modules))\n"
        "print('mcptrace.mcp.fastmcp' in sys.modules)\n"
    )
    env = _env(tmp_path, MCPTRACE_SENSOR="none")
    result = run_under_mcptrace([PYTHON, "-c", script], spool, env=env)
    assert result.stdout.split() == ["False", "True", "True"], result.stderr


@pytest.mark.slow  # a program run of 1.5-3 s: CI runs it, the fast loop keeps the cheaper ones
def test_a_program_that_imports_mcp_and_ends_at_once_is_still_judged(tmp_path: Path) -> None:
    """Importing mcp used to set everything up, detections included; a program that imports
    it and ends before anything activated is judged at exit all the same."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text("[default]\naws_access_key_id = AKIAEXAMPLE\n")
    script = "import os, mcp\nopen(os.path.expanduser('~/.aws/credentials')).read()\n"
    spool = tmp_path / "spool"
    run_under_mcptrace([PYTHON, "-c", script], spool, env=_env(tmp_path, HOME=str(home)))
    rules = {
        str(r.attributes.get(ev.DETECTION_RULE))
        for r in logs(spool)
        if r.event_name == ev.DETECTION
    }
    assert any(rule.startswith("credential-access.") for rule in rules), rules
