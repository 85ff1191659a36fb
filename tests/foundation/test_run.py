"""``mcptrace run``: any command, instrumented from start-up, transparent to its I/O and exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from support import (
    PYTHON,
    SPAN_KIND_CLIENT,
    SPAN_KIND_SERVER,
    clean_env,
    example_client,
    mcptrace_cmd,
    run_under_mcptrace,
    spans,
)

TRACED = (
    "import sys\n"
    "from opentelemetry import trace\n"
    "with trace.get_tracer('test').start_as_current_span('work'):\n"
    "    sys.stdout.write('exact stdout\\n')\n"
)


def test_exit_code_and_stdout_pass_through(spool: Path) -> None:
    result = run_under_mcptrace([PYTHON, "-c", TRACED + "sys.exit(3)"], spool, check=False)
    assert result.returncode == 3
    assert result.stdout == "exact stdout\n"
    assert result.stderr == ""
    assert [span.name for span in spans(spool)] == ["work"]


@pytest.mark.slow
def test_script_module_and_console_script(spool: Path, tmp_path: Path) -> None:
    script = tmp_path / "tool.py"
    script.write_text(TRACED)
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(TRACED)
    console = tmp_path / "console-tool"
    console.write_text(f"#!{PYTHON}\n{TRACED}")
    console.chmod(0o755)
    env = clean_env(PATH=f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    run_under_mcptrace([PYTHON, str(script)], spool, env=env)
    run_under_mcptrace([PYTHON, "-m", "pkg"], spool, env={**env, "PYTHONPATH": str(tmp_path)})
    run_under_mcptrace(["console-tool"], spool, env=env)
    found = spans(spool)
    assert [span.name for span in found] == ["work"] * 3
    assert {span.resource["service.name"] for span in found} == {"tool", "pkg", "console-tool"}


def test_command_not_found(spool: Path) -> None:
    result = run_under_mcptrace(["no-such-command-xyz"], spool, check=False)
    assert result.returncode == 127
    assert "command not found: no-such-command-xyz" in result.stderr


def test_user_sitecustomize_keeps_working(spool: Path, tmp_path: Path) -> None:
    user_dir = tmp_path / "user"
    user_dir.mkdir()
    (user_dir / "sitecustomize.py").write_text(
        "import os, sys\nsys.stderr.write(f'user sitecustomize ran in {os.getpid()}\\n')\n"
        "USER_MARK = 42\n"
    )
    result = run_under_mcptrace(
        [
            PYTHON,
            "-c",
            TRACED + "import os, sitecustomize; print(sitecustomize.USER_MARK, os.getpid())",
        ],
        spool,
        env=clean_env(PYTHONPATH=str(user_dir)),
    )
    mark, pid = result.stdout.split()[-2:]
    assert result.stdout.startswith("exact stdout\n") and mark == "42"
    # (the mcptrace CLI is itself Python, so with this PYTHONPATH it runs it too)
    assert f"user sitecustomize ran in {pid}\n" in result.stderr
    assert [span.name for span in spans(spool)] == ["work"]


def test_sigterm_reaches_the_program_and_telemetry_is_flushed(spool: Path) -> None:
    process = subprocess.Popen(
        mcptrace_cmd(
            "run",
            "--spool",
            str(spool),
            "--",
            PYTHON,
            "-c",
            "import sys, time\n"
            "from opentelemetry import trace\n"
            "with trace.get_tracer('t').start_as_current_span('before-term'): pass\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n",
        ),
        env=clean_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == -signal.SIGTERM
    assert [span.name for span in spans(spool)] == ["before-term"]


def test_sigint_reaches_the_program(spool: Path) -> None:
    process = subprocess.Popen(
        mcptrace_cmd(
            "run",
            "--spool",
            str(spool),
            "--",
            PYTHON,
            "-c",
            "import time\n"
            "from opentelemetry import trace\n"
            "try:\n"
            "    print('ready', flush=True); time.sleep(60)\n"
            "except KeyboardInterrupt:\n"
            "    with trace.get_tracer('t').start_as_current_span('interrupted'): pass\n"
            "    raise SystemExit(130)\n",
        ),
        env=clean_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130
    assert [span.name for span in spans(spool)] == ["interrupted"]


@pytest.mark.slow
def test_stdio_server_spawned_with_plain_parameters_is_instrumented(spool: Path) -> None:
    """mcp's stdio_client passes only HOME/PATH/...; the server is instrumented anyway."""
    result = run_under_mcptrace(example_client(), spool)
    assert "ping ok" in result.stdout
    found = spans(spool)
    server = [span for span in found if span.resource.get("service.name") == "server"]
    client = [span for span in found if span.resource.get("service.name") == "client"]
    assert server and client
    server_calls = [s for s in server if s.kind == SPAN_KIND_SERVER and s.name == "tools/call add"]
    client_calls = [
        s for s in client if s.kind == SPAN_KIND_CLIENT and s.name.endswith("tools/call add")
    ]
    assert len(server_calls) == 1 and len(client_calls) == 1
    # one trace across the process boundary: the server span is the client span's child
    assert server_calls[0].trace_id == client_calls[0].trace_id
    assert server_calls[0].parent_span_id == client_calls[0].span_id


@pytest.mark.slow
def test_children_get_traceparent_and_continue_the_trace(spool: Path) -> None:
    script = (
        "import subprocess, sys\n"
        "from opentelemetry import trace\n"
        "with trace.get_tracer('t').start_as_current_span('parent-work') as span:\n"
        "    child = 'from opentelemetry import trace\\n'"
        '            \'with trace.get_tracer("t").start_as_current_span("child-work"): pass\\n\'\n'
        "    subprocess.run([sys.executable, '-c', child], env={'PATH': '/usr/bin'}, check=True)\n"
    )
    run_under_mcptrace([PYTHON, "-c", script], spool, env=clean_env())
    found = spans(spool)
    by_name = {span.name: span for span in found}
    assert {"parent-work", "child-work"} <= set(by_name)
    assert by_name["child-work"].trace_id == by_name["parent-work"].trace_id
    # the child's span descends from the span that spawned it (possibly through the
    # child's own process span)
    parents = {span.span_id: span.parent_span_id for span in found}
    ancestor, chain = by_name["child-work"].parent_span_id, []
    while ancestor and ancestor != by_name["parent-work"].span_id:
        chain.append(ancestor)
        ancestor = parents.get(ancestor, "")
    assert ancestor == by_name["parent-work"].span_id, chain


def test_interpreter_without_mcptrace_borrows_it(spool: Path) -> None:
    """A command running another environment's Python of the same version is instrumented."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = sorted(Path("/root/.pyenv/versions").glob(f"{version}.*/bin/python{version}"))
    foreign = next(
        (
            str(path)
            for path in candidates
            if subprocess.run(
                [str(path), "-c", "import mcptrace"], capture_output=True, env=clean_env()
            ).returncode
            != 0
        ),
        None,
    )
    if foreign is None:
        pytest.skip(f"no Python {version} without mcptrace installed on this machine")
    result = run_under_mcptrace([foreign, "-c", TRACED], spool)
    assert result.stdout == "exact stdout\n"
    assert [span.name for span in spans(spool)] == ["work"]


def _foreign_instrumentor(root: Path) -> None:
    """A distribution on PYTHONPATH whose instrumentor entry point writes a marker file."""
    (root / "foreign_instr.py").write_text(
        "import os\n"
        "class ForeignInstrumentor:\n"
        "    def instrument(self, **kwargs):\n"
        "        open(os.environ['FOREIGN_MARKER'], 'w').write(repr(sorted(kwargs)))\n"
    )
    dist_info = root / "foreign_instr-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: foreign-instr\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[opentelemetry_instrumentor]\nforeign = foreign_instr:ForeignInstrumentor\n"
    )


LOADER_PROBE = (
    "import sys\n"
    "from opentelemetry import trace\n"
    "with trace.get_tracer('test').start_as_current_span('work'):\n"
    "    pass\n"
    "loader = 'opentelemetry.instrumentation.auto_instrumentation' in sys.modules\n"
    "sys.stderr.write(f'otel-loader={loader} packaging={\"packaging\" in sys.modules}\\n')\n"
)


def test_only_mcptrace_instrumentors_start_without_the_otel_loader(spool: Path) -> None:
    result = run_under_mcptrace([PYTHON, "-c", LOADER_PROBE], spool)
    assert "otel-loader=False packaging=False" in result.stderr
    assert [span.name for span in spans(spool)] == ["work"]


@pytest.mark.slow
def test_another_instrumentor_goes_through_opentelemetry_loader(
    spool: Path, tmp_path: Path
) -> None:
    _foreign_instrumentor(tmp_path)
    marker = tmp_path / "instrumented"
    env = clean_env(PYTHONPATH=str(tmp_path), FOREIGN_MARKER=str(marker))
    result = run_under_mcptrace([PYTHON, "-c", LOADER_PROBE], spool, env=env)
    assert "otel-loader=True" in result.stderr
    assert marker.read_text() == "['skip_dep_check']"  # loaded the way OTel loads it
    assert [span.name for span in spans(spool)] == ["work"]
    # ... and disabling it brings back the lean start
    marker.unlink()
    env["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] = "foreign"
    result = run_under_mcptrace([PYTHON, "-c", LOADER_PROBE], spool, env=env)
    assert "otel-loader=False" in result.stderr
    assert not marker.exists()
