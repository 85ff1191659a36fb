"""Instrument with every mcptrace instrumentor, uninstrument, and report what stayed patched.

Run in a fresh interpreter by tests/mcp/test_mcp_uninstrument.py; prints one JSON object.
Every module an instrumentor patches is imported first (so each patch is applied at once),
then the attributes of every module outside mcptrace, and of the classes they define, are
compared by identity before ``instrument()`` and after ``uninstrument()``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import sys
from types import ModuleType
from typing import Any

SCALARS = (int, float, complex, str, bytes, bool, type(None))
OURS = ("mcptrace", "tests", "__main__")
# wrapt's own bookkeeping: its post-import hook finder, set up on first use, stays for good
NOT_PATCHES = frozenset({"wrapt.importer:_post_import_hooks_init"})


def patch_targets() -> list[str]:
    """The modules the instrumentors' patch tables and wrappers name."""
    from mcptrace.mcp.instrumentor import mcp_major
    from mcptrace.mcp.transports import CLIENT_TRANSPORT_PATCHES

    tables: list[Any] = list(CLIENT_TRANSPORT_PATCHES)
    if mcp_major() == 1:
        from mcptrace.mcp.v1 import V1_PATCHES

        tables += V1_PATCHES
    else:
        from mcptrace.mcp.v2 import V2_PATCHES

        tables += V2_PATCHES
    names = [patch[0] for patch in tables]
    try:
        import fastmcp  # noqa: F401

        from mcptrace.mcp.fastmcp import FASTMCP_PATCHES

        names += [patch[0] for patch in FASTMCP_PATCHES]
    except ImportError:
        pass
    from mcptrace.policy import tool_errors

    names.append(tool_errors._MODULE)
    return [
        *names, "socket", "subprocess", "os", "threading", "_thread", "concurrent.futures",
        "concurrent.futures.thread",  # ThreadPoolExecutor loads on first use: import it here
    ]  # fmt: skip


def fingerprint(value: Any) -> Any:
    return ("=", value) if isinstance(value, SCALARS) else ("is", value)


def same(before: Any, after: Any) -> bool:
    if before[0] == "=":
        old, new = before[1], after[1]
        return after[0] == "=" and (old == new or (old != old and new != new))  # NaN
    return after[0] == "is" and before[1] is after[1]


def snapshot() -> dict[str, Any]:
    state: dict[str, Any] = {}
    for name, module in list(sys.modules.items()):
        if not isinstance(module, ModuleType) or name.startswith(OURS):
            continue
        for key, value in list(vars(module).items()):
            state[f"{name}:{key}"] = fingerprint(value)
            if isinstance(value, type) and value.__module__ == name:
                for attribute, member in list(vars(value).items()):
                    state[f"{name}:{key}.{attribute}"] = fingerprint(member)
    return state


def changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(
        key
        for key, value in before.items()
        if key in after and key not in NOT_PATCHES and not same(value, after[key])
    )


def main() -> None:
    imported = []
    for name in patch_targets():
        try:
            importlib.import_module(name)
            imported.append(name)
        except ImportError:
            pass
    instrumentors = {
        entry.name: entry.load()()
        for entry in importlib.metadata.entry_points(group="opentelemetry_instrumentor")
        if entry.name.startswith("mcptrace_")
    }
    before = snapshot()
    for instrumentor in instrumentors.values():
        instrumentor.instrument()
    patched = changed(before, snapshot())
    server_middleware: dict[str, list[str]] = {}
    if "mcp.server.lowlevel.server" in sys.modules:
        from mcp.server.lowlevel.server import Server

        server = Server("probe")
        server_middleware["instrumented"] = [
            type(m).__name__ for m in getattr(server, "middleware", [])
        ]
    for instrumentor in reversed(list(instrumentors.values())):
        instrumentor.uninstrument()
    left = changed(before, snapshot())
    from mcptrace.sensor.instrumentor import current_lifecycle

    lifecycle = current_lifecycle()  # audit hooks cannot be removed: the sensor goes quiet
    sensor_active = lifecycle is not None and lifecycle.sensor.active
    if "mcp.server.lowlevel.server" in sys.modules:
        server_middleware["after"] = [type(m).__name__ for m in getattr(server, "middleware", [])]
        server_middleware["fresh"] = [
            type(m).__name__ for m in getattr(Server("fresh"), "middleware", [])
        ]
    print(
        json.dumps(
            {
                "instrumentors": sorted(instrumentors),
                "imported": imported,
                "patched": patched,
                "left": left,
                "middleware": server_middleware,
                "sensor_installed": lifecycle is not None,
                "sensor_active_after": sensor_active,
            }
        )
    )


if __name__ == "__main__":
    main()
