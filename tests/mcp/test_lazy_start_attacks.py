"""A malicious server against the lazy MCP start: ``import mcp`` sets up no telemetry, so
what a program does around that import — before it, during it (a finder the program put on
``sys.meta_path``), in a thread a module started at import, in code compiled under a
``<dataclass>``-like name or from a ``site-packages`` directory — and an ``os._exit`` right
after (no ``atexit``, no flush by the interpreter) must still be recorded and judged.

Real processes under ``mcptrace run``, a throwaway HOME with a fake cloud credential, a
loopback listener.
"""

from __future__ import annotations

import socket
import subprocess
import sysconfig
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import mcptrace
from mcptrace.record import vocabulary as ev
from support import PYTHON, clean_env, logs, run_under_mcptrace

pytestmark = pytest.mark.slow  # one real process each: CI runs them, the fast loop does not

READ = "open(os.path.expanduser('~/.aws/credentials')).read()"
CREDENTIALS = "credential-access."

LIBRARY = {
    # a module that starts a thread at import: the thread reads while mcp imports
    "evil_thread.py": f"""
        import os, threading
        def steal():
            {READ}
        worker = threading.Thread(target=steal)
        worker.start()
        """,
    # library code (a site-packages path) reading at its import
    "evil_lib.py": f"""
        import os
        {READ}
        """,
    # a finder that acts in the middle of ``import mcp`` (when mcp asks for pydantic)
    "evil_finder.py": f"""
        import os, sys
        class Finder:
            done = False
            def find_spec(self, name, path=None, target=None):
                if name.startswith("pydantic") and not Finder.done:
                    Finder.done = True
                    {READ}
                return None
        sys.meta_path.insert(0, Finder())
        """,
}

CASES = {
    "before-import-mcp": f"import os\n{READ}\nimport mcp\nos._exit(0)\n",
    "after-import-mcp": f"import os, mcp\n{READ}\nos._exit(0)\n",
    "thread-started-at-import": (
        "import os, sys\nsys.path.insert(0, sys.argv[1])\nimport evil_thread\nimport mcp\n"
        "evil_thread.worker.join()\nos._exit(0)\n"
    ),
    "site-packages-library": (
        "import os, sys\nsys.path.insert(0, sys.argv[1])\nimport evil_lib\nimport mcp\n"
        "os._exit(0)\n"
    ),
    "during-import-mcp": (
        "import os, sys\nsys.path.insert(0, sys.argv[1])\nimport evil_finder\nimport mcp\n"
        "os._exit(0)\n"
    ),
    "dataclass-named-code": (
        f'import os, mcp\nexec(compile("import os\\n{READ}", "<dataclass>", "exec"))\nos._exit(0)\n'
    ),
}


@pytest.fixture(scope="module")
def listener() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(30)

    def accept() -> None:
        try:
            while True:
                server.accept()[0].close()
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def _run(tmp_path: Path, script: str) -> set[str]:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text("[default]\naws_access_key_id = AKIAEXAMPLE\n")
    library = tmp_path / "lib" / "python3" / "site-packages"
    library.mkdir(parents=True)
    for name, source in LIBRARY.items():
        (library / name).write_text(textwrap.dedent(source))
    spool = tmp_path / "spool"
    env = clean_env(
        HOME=str(home),
        XDG_STATE_HOME=str(tmp_path / "state"),
        MCPTRACE_HASH_CACHE=str(tmp_path / "cache.sqlite3"),
    )
    run_under_mcptrace([PYTHON, "-c", script, str(library)], spool, env=env)
    return {
        str(record.attributes.get(ev.DETECTION_RULE))
        for record in logs(spool)
        if record.event_name == ev.DETECTION
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_credential_read_around_the_lazy_start_is_judged(case: str, tmp_path: Path) -> None:
    rules = _run(tmp_path, CASES[case])
    assert any(rule.startswith(CREDENTIALS) for rule in rules), rules


def test_code_named_like_generated_code_that_connects_is_judged(
    tmp_path: Path, listener: int
) -> None:
    """``<string>``-named code compiled after ``import mcp`` that connects out, then
    ``os._exit``: the dynamic code is judged (it is the program's, not a library's)."""
    source = f"import socket\\nsocket.create_connection(('127.0.0.1', {listener})).close()"
    script = f'import os, mcp\nexec(compile("{source}", "<string>", "exec"))\nos._exit(0)\n'
    rules = _run(tmp_path, script)
    assert "execution.dynamic-code" in rules, rules


EVIL_PTH = (
    "import os, threading; open(os.path.expanduser('~/.aws/credentials')).read(); "
    "threading.Thread(target=lambda: (__import__('time').sleep(0.3), "
    "open(__import__('os').path.expanduser('~/.ssh/id_rsa')).read())).start()\n"
)


def test_a_pth_file_acts_before_the_start_up_hook_and_its_thread_after(tmp_path: Path) -> None:
    """A ``.pth`` file in site-packages runs its code while Python's ``site`` starts, before
    ``mcptrace run``'s start-up hook (a ``sitecustomize``): what it does then is not seen
    (README: what it cannot stop). A thread it starts acts after the hook: recorded and
    judged. A throwaway venv whose site-packages hold the ``.pth`` and this venv's paths."""
    venv = tmp_path / "venv"
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    (site_packages,) = (venv / "lib").glob("python3*/site-packages")
    ours = [sysconfig.get_paths()["purelib"], str(Path(mcptrace.__file__).resolve().parents[1])]
    (site_packages / "aaa_paths.pth").write_text("\n".join(ours) + "\n")
    (site_packages / "zzz_evil.pth").write_text(EVIL_PTH)
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text("[default]\naws_access_key_id = AKIAEXAMPLE\n")
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n")
    spool = tmp_path / "spool"
    env = clean_env(
        HOME=str(home),
        XDG_STATE_HOME=str(tmp_path / "state"),
        MCPTRACE_HASH_CACHE=str(tmp_path / "cache.sqlite3"),
    )
    run_under_mcptrace([python, "-c", "import time, mcp; time.sleep(1)"], spool, env=env)
    records = logs(spool)
    opened = {str(r.attributes.get(ev.FILE_PATH)) for r in records if r.event_name == ev.FILE_OPEN}
    assert str(home / ".aws" / "credentials") not in opened  # before the hook: unseen
    # the thread's read: judged, named by its detection (the read's own record is emitted
    # only while start-up's file records are within their log cap: `import mcp` opens
    # about 30 files, so whether the read comes before the cap depends on timing)
    detections = {
        str(r.attributes.get(ev.DETECTION_RULE)): str(r.attributes.get(ev.DETECTION_REASON))
        for r in records
        if r.event_name == ev.DETECTION
    }
    reason = detections.get("credential-access.ssh-private-key", "")
    assert str(home / ".ssh" / "id_rsa") in reason, detections
    assert not any(".aws" in why for why in detections.values()), detections


DISGUISED_LIBRARY = """
import os, subprocess
cred = os.path.join(os.environ["HOME"], ".aws", "credentials")
# code importing nothing, named as generated code, handed what it needs by library code
exec(compile("data = opener(path).read()", "<dataclass>", "exec"), {"opener": open, "path": cred})
exec(compile("run(['/bin/sh', '-c', 'true'])", "<string>", "exec"), {"run": subprocess.run})
"""
PAST_THE_BUDGET = """
import os, sys, typing
import mcp
refs = [typing.ForwardRef(f"list[int] if {i} else int") for i in range(6000)]
sys.path.insert(0, sys.argv[1])
import libpkg
os._exit(0)
"""


def test_library_code_importing_nothing_past_the_budget_still_has_its_actions_judged(
    tmp_path: Path,
) -> None:
    """Past start-up's judges' budget (6,000 compiles after ``import mcp``), a site-packages
    module compiles code that imports nothing under ``<dataclass>``/``<string>`` names (only
    counted, as library machinery's is) and hands it ``open`` and ``subprocess.run``, then
    ``os._exit``: the credential read is judged on its own and the spawn is recorded."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text("[default]\naws_access_key_id = AKIAEXAMPLE\n")
    library = tmp_path / "lib" / "python3" / "site-packages"
    library.mkdir(parents=True)
    (library / "libpkg.py").write_text(DISGUISED_LIBRARY)
    spool = tmp_path / "spool"
    env = clean_env(
        HOME=str(home),
        XDG_STATE_HOME=str(tmp_path / "state"),
        MCPTRACE_HASH_CACHE=str(tmp_path / "cache.sqlite3"),
    )
    run_under_mcptrace([PYTHON, "-c", PAST_THE_BUDGET, str(library)], spool, env=env)
    records = logs(spool)
    rules = {
        str(r.attributes.get(ev.DETECTION_RULE)) for r in records if r.event_name == ev.DETECTION
    }
    assert "credential-access.cloud-credentials" in rules, rules
    spawned = [r for r in records if r.event_name == ev.PROCESS_SPAWN]
    assert any("/bin/sh" in str(r.attributes.get("process.executable.path")) for r in spawned)
