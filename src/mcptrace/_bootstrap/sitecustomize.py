"""mcptrace's start-up hook, put first on PYTHONPATH by ``mcptrace run``.

It activates mcptrace before any user code runs, then hands over to the sitecustomize the
user already had (the next one on sys.path), so theirs keeps working.  It never writes to
stdout: for a stdio MCP server that is the JSON-RPC channel.
"""

import os
import sys


def _switched_off() -> bool:
    """MCPTRACE_ENABLED=false (or OTEL_SDK_DISABLED=true): start nothing, import nothing."""
    enabled = os.environ.get("MCPTRACE_ENABLED")
    if enabled is not None and enabled.strip().lower() in ("0", "false", "no", "off", ""):
        return True  # the environment wins over a config file
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def _mcptrace_start() -> None:
    if _switched_off():
        return
    # mcptrace's modules build thousands of objects here, none of them garbage: the young
    # collections they trigger cost ≈1.4 million instructions (≈4 % of what mcptrace adds
    # to `python -c pass`).  The collector is the program's again, as Python started it,
    # before the program runs.
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        _start_instrumented()
    finally:
        if enabled:
            gc.enable()


def _start_instrumented() -> None:
    try:
        try:
            import mcptrace
        except ImportError:
            # The command runs another environment's interpreter (uv run, a console script
            # from another venv): borrow ours only if it is the same Python version.
            home = os.environ.get("MCPTRACE_HOME")
            if not home or os.environ.get("MCPTRACE_CACHE_TAG") != sys.implementation.cache_tag:
                sys.stderr.write(
                    "mcptrace: not installed for this interpreter "
                    f"({sys.executable}); running uninstrumented\n"
                )
                return
            sys.path.extend(p for p in home.split(os.pathsep) if p not in sys.path)
            import mcptrace  # noqa: F401
        from mcptrace._bootstrap.start import start

        start()
    except Exception as exc:  # the program must run even if mcptrace cannot
        sys.stderr.write(f"mcptrace: could not start ({exc!r}); running uninstrumented\n")


def _chain_user_sitecustomize() -> None:
    # importlib's frozen halves, already loaded: importlib.util would import functools,
    # types and warnings into every process
    external = sys.modules["_frozen_importlib_external"]
    bootstrap = sys.modules["_frozen_importlib"]
    here = os.path.dirname(os.path.abspath(__file__))
    path = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = external.PathFinder.find_spec("sitecustomize", path)
    if spec is None or spec.loader is None:
        return
    module = bootstrap.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_mcptrace_start()
_chain_user_sitecustomize()
