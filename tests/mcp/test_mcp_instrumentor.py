"""McpInstrumentor: exact mirror of instrument/uninstrument, clean decline."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap

import pytest

from mcptrace.instrumentor import WRAPPER_ATTRIBUTE
from mcptrace.mcp import instrumentor as instrumentor_module
from mcptrace.mcp.instrumentor import McpInstrumentor, mcp_major


@pytest.mark.slow
def test_instrument_and_uninstrument_are_mirrors() -> None:
    import mcp.client.session as client_session

    original = client_session.ClientSession.__dict__["__init__"]
    instrumentor = McpInstrumentor()
    instrumentor.instrument()
    try:
        wrapped = client_session.ClientSession.__dict__["__init__"]
        assert hasattr(wrapped, WRAPPER_ATTRIBUTE) and wrapped.__wrapped__ is original
        instrumentor.instrument()  # twice: still one layer
        assert client_session.ClientSession.__dict__["__init__"] is wrapped
    finally:
        instrumentor.uninstrument()
    assert client_session.ClientSession.__dict__["__init__"] is original


def test_entry_point_is_registered() -> None:
    found = importlib.metadata.entry_points(group="opentelemetry_instrumentor", name="mcptrace_mcp")
    assert [entry.value for entry in found] == ["mcptrace.mcp.instrumentor:McpInstrumentor"]


def test_declines_unsupported_major(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a future mcp 3 cannot be installed here; this is the one fault simulated
    monkeypatch.setattr(instrumentor_module, "mcp_major", lambda: 3)
    instrumentor = McpInstrumentor()
    instrumentor._instrument()
    assert not instrumentor._active and not instrumentor._applied
    assert "not supported" in capsys.readouterr().err


@pytest.mark.slow
def test_mcp_is_patched_lazily_on_import() -> None:
    assert mcp_major() in (1, 2)
    code = textwrap.dedent(
        """
        import sys
        from mcptrace.mcp.instrumentor import McpInstrumentor
        McpInstrumentor().instrument()
        assert "mcp" not in sys.modules, "instrument() must not import mcp"
        import mcp.client.session as s
        assert hasattr(s.ClientSession.__dict__["__init__"], "_mcptrace_wrapper")
        assert "wrapt" not in sys.modules, sorted(m for m in sys.modules if "wrapt" in m)
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr
