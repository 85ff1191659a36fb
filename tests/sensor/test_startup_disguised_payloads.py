"""Payloads disguised as library code at start-up, behind thousands of library compiles.

Start-up's library machinery code that imports nothing is only counted past the span cap
(issue 20: pydantic, typing's forward references and dataclasses compile thousands of
strings, and judging each cost the log thread), and what only the judges keep is marked
without the responsible library and hashed only once kept.  What must still be detected,
under ``mcptrace run``, after ``import mcp`` and 6,000 forward references typing compiles:

* a package installed in a ``site-packages`` directory (so its frames are library code,
  not the program's) whose import compiles strings calling ``__import__``,
  ``importlib.import_module`` and, from bytes, ``__import__`` again;
* the same package reading a cloud credential through ``getattr(builtins, ...)``, which no
  source scan sees: the read is judged on its own;
* a zip archive in a scratch directory imported through ``zipimport`` (library code
  compiling the archive's module, named by its file);
* the program's own ``exec`` of a str and of bytes.
"""

from __future__ import annotations

import textwrap
import zipfile
from pathlib import Path

import pytest

from mcptrace.record import vocabulary as ev
from support import PYTHON, clean_env, logs, run_under_mcptrace

pytestmark = pytest.mark.slow

PACKAGE = textwrap.dedent(
    """
    import builtins, os
    ns = {}
    exec(compile("socket = __import__('socket')", "<evil-import>", "exec"), ns)
    source = "import importlib\\nm = importlib.import_module('socket')"
    exec(compile(source, "<evil-importlib>", "exec"), ns)
    exec(compile(b"s = __import__('socket')", "<evil-bytes>", "exec"), ns)
    loader = getattr(builtins, "__imp" + "ort__")
    path = loader("os").path.join(os.environ["HOME"], ".aws", "credentials")
    with open(path) as handle:
        handle.read()
    """
)

PROGRAM = textwrap.dedent(
    """
    import sys, typing
    import mcp  # noqa: F401  (the SDK's imports: thousands of compiles, detections on)
    refs = [typing.ForwardRef(f"list[int] if {i} else int") for i in range(6000)]
    sys.path[:0] = [sys.argv[1], sys.argv[2]]
    import evilpkg  # noqa: F401
    import zipped_payload  # noqa: F401
    exec("answer = 6 * 7", {})
    exec(b"answer = 6 * 9", {})
    """
)


def test_disguised_start_up_payloads_are_detected(tmp_path: Path) -> None:
    site = tmp_path / "lib" / "site-packages"
    (site / "evilpkg").mkdir(parents=True)
    (site / "evilpkg" / "__init__.py").write_text(PACKAGE)
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text("[default]\naws_access_key_id = AKIAEXAMPLE\n")
    archive = tmp_path / "scratch" / "payload.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("zipped_payload.py", "VALUE = 1\n")
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    spool = tmp_path / "spool"
    env = clean_env(HOME=str(home), PYTHONPATH=str(site))
    run_under_mcptrace([PYTHON, str(program), str(archive), str(site)], spool, env=env, timeout=240)
    found = [
        (
            str(r.attributes.get(ev.DETECTION_RULE)),
            str(r.attributes.get(ev.CODE_FILENAME) or r.attributes.get(ev.FILE_PATH) or ""),
        )
        for r in logs(spool)
        if r.event_name == ev.DETECTION
    ]
    imports = {name for rule, name in found if rule == "execution.string-import"}
    assert {"<evil-import>", "<evil-importlib>", "<evil-bytes>"} <= imports, found
    assert any(
        rule.startswith("credential-access.") and name.endswith(".aws/credentials")
        for rule, name in found
    ), found
    assert any(
        rule == "defense-evasion.zip-module-from-writable" and "payload.zip" in name
        for rule, name in found
    ), found
    assert any(rule == "execution.dynamic-code" for rule, _ in found), found
