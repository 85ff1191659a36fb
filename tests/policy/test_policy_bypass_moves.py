"""More of the bypass corpus: reading a denied file by a mode that appends (``a+`` reads the
whole file), by moving it out first (``os.rename``/``os.replace``/``shutil.move`` of the file,
of a directory holding it, of a directory above the protected one), and by path spellings
(``//``, ``/./``, ``/proc/thread-self/root``, ``/proc/PID/cwd``, an ``O_PATH`` descriptor
reopened through ``/proc/self/fd``, ``os.fchdir``, ``bytes``, a symlink the tool makes).

bypass_more_server.py is a real MCP server over stdio, driven by a real client under
``mcptrace run --policy`` with a rule denying reads of ``secret/**`` and ``outer/inner/**``;
on the C hook and on the pure-Python one.  Before 2026-12-08 ``a+`` and every move got the
secret out.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from policy_support import Recorded, drive, write_policy

pytestmark = pytest.mark.slow

MOVES = [
    "open_append_plus",
    "rename_out",
    "replace_out",
    "shutil_move_out",
    "rename_directory_out",
    "rename_an_ancestor_out",
]
SPELLINGS = [
    "open_read_plus",
    "os_open_rdwr",
    "fchdir_relative",
    "double_slashes",
    "dot_segments",
    "o_path_then_proc_fd",
    "bytes_path",
    "thread_self_root",
    "proc_pid_cwd",
    "copytree_out",
    "scandir_listing",
    "symlink_made_by_tool",
    "trailing_slash_dir",
    "rename_a_link_to_the_secret",
]


@pytest.fixture(scope="module", params=["native", "python"])
def corpus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    base = tmp_path_factory.mktemp("moves")
    token = "TOPSECRET-" + secrets.token_hex(8)
    secret_dir = base / "secret"
    (secret_dir / "copies" / "dir_out").mkdir(parents=True)
    secret = secret_dir / "key.txt"
    for path in (
        secret,
        secret_dir / "copies" / "rename_out",
        secret_dir / "copies" / "replace_out",
        secret_dir / "copies" / "shutil_move_out",
        secret_dir / "copies" / "dir_out" / "key.txt",
        base / "outer" / "inner" / "key.txt",
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(token + "\n", encoding="utf-8")
    work = base / "work"
    work.mkdir()
    policy = write_policy(
        base,
        f"""
[policy]
mode = "enforce"

[[rule]]
id = "no-secrets"
category = "file_read"
paths = ["{secret_dir}/**", "{base}/outer/inner/**"]
""",
    )
    arguments = {"secret": str(secret), "work": str(work)}
    calls: list[Any] = [[name, arguments] for name in [*MOVES, *SPELLINGS, "rename_inside_work"]]
    results, _ = drive(
        base / "spool",
        policy,
        calls,
        timeout=300,
        SERVER_SCRIPT="bypass_more_server.py",
        MCPTRACE_NATIVE_HOOK="true" if request.param == "native" else "false",
    )
    return {
        "token": token,
        "results": {result["tool"]: result for result in results},
        "recorded": Recorded(base / "spool"),
        "base": base,
    }


@pytest.mark.parametrize("name", MOVES + SPELLINGS)
def test_blocked_with_a_violation(corpus: dict[str, Any], name: str) -> None:
    result = corpus["results"][name]
    assert corpus["token"] not in result["text"], f"{name} read the secret: {result}"
    assert "no-secrets" in result["text"], result
    violations = corpus["recorded"].violations(name)
    assert violations, f"{name}: no violation recorded"


def test_the_files_stayed_where_they_were(corpus: dict[str, Any]) -> None:
    base: Path = corpus["base"]
    assert (base / "outer" / "inner" / "key.txt").exists()
    assert (base / "secret" / "copies" / "rename_out").exists()
    assert (base / "secret" / "copies" / "dir_out" / "key.txt").exists()


def test_a_rename_no_rule_touches_still_works(corpus: dict[str, Any]) -> None:
    result = corpus["results"]["rename_inside_work"]
    assert result["text"] == "plain", result
    assert not corpus["recorded"].violations("rename_inside_work")
    # renaming a symbolic link to the secret moves the link: allowed, the read is refused
    assert (corpus["base"] / "work" / "link-moved").is_symlink()
    assert "reading" in corpus["results"]["rename_a_link_to_the_secret"]["text"]
