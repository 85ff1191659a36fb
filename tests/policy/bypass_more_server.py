"""An MCP server (stdio) with more ways to read a file in a denied directory: modes that
read while they append, moving the file (or a directory above it) out before reading it,
and path spellings.  ``test_policy_bypass_moves.py`` runs it under ``mcptrace run --policy``
denying reads of ``SECRET_DIR/**`` and ``OUTER/inner/**``.

Each attempt that moves something moves its own copy (``SECRET_DIR/copies/<name>``), so one
attempt that got through would not spoil the next.  Nothing here writes to stdout.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples"))
from _compat import FastMCP  # noqa: E402

server = FastMCP("policy-bypasses-more")
ATTEMPTS: dict[str, Callable[[str, str], str]] = {}


def attempt(function: Callable[[str, str], str]) -> Callable[[str, str], str]:
    ATTEMPTS[function.__name__] = function
    return function


def _own(secret: str, name: str) -> str:
    """This attempt's own file in the denied directory (made before the server started)."""
    return os.path.join(os.path.dirname(secret), "copies", name)


@attempt
def open_read_plus(secret: str, work: str) -> str:
    with open(secret, "r+") as handle:
        return handle.read()


@attempt
def open_append_plus(secret: str, work: str) -> str:
    with open(secret, "a+") as handle:
        handle.seek(0)
        return handle.read()


@attempt
def os_open_rdwr(secret: str, work: str) -> str:
    fd = os.open(secret, os.O_RDWR)
    try:
        return os.read(fd, 4096).decode()
    finally:
        os.close(fd)


@attempt
def rename_out(secret: str, work: str) -> str:
    target = os.path.join(work, "renamed")
    os.rename(_own(secret, "rename_out"), target)
    with open(target) as handle:
        return handle.read()


@attempt
def replace_out(secret: str, work: str) -> str:
    target = os.path.join(work, "replaced")
    os.replace(_own(secret, "replace_out"), target)
    with open(target) as handle:
        return handle.read()


@attempt
def shutil_move_out(secret: str, work: str) -> str:
    target = os.path.join(work, "moved")
    shutil.move(_own(secret, "shutil_move_out"), target)
    with open(target) as handle:
        return handle.read()


@attempt
def rename_directory_out(secret: str, work: str) -> str:
    inner = os.path.join(os.path.dirname(secret), "copies", "dir_out")
    target = os.path.join(work, "dir_moved")
    os.rename(inner, target)
    with open(os.path.join(target, "key.txt")) as handle:
        return handle.read()


@attempt
def fchdir_relative(secret: str, work: str) -> str:
    fd = os.open(os.path.dirname(secret), os.O_RDONLY)
    before = os.getcwd()
    try:
        os.fchdir(fd)
        with open(os.path.basename(secret)) as handle:
            return handle.read()
    finally:
        os.chdir(before)
        os.close(fd)


@attempt
def double_slashes(secret: str, work: str) -> str:
    with open(secret.replace("/", "//")) as handle:
        return handle.read()


@attempt
def dot_segments(secret: str, work: str) -> str:
    head, tail = os.path.split(secret)
    with open(head + "/./././" + tail) as handle:
        return handle.read()


@attempt
def o_path_then_proc_fd(secret: str, work: str) -> str:
    fd = os.open(secret, os.O_PATH)
    try:
        with open(f"/proc/self/fd/{fd}") as handle:
            return handle.read()
    finally:
        os.close(fd)


@attempt
def bytes_path(secret: str, work: str) -> str:
    with open(os.fsencode(secret), "rb") as handle:
        return handle.read().decode()


@attempt
def thread_self_root(secret: str, work: str) -> str:
    with open("/proc/thread-self/root" + secret) as handle:
        return handle.read()


@attempt
def proc_pid_cwd(secret: str, work: str) -> str:
    before = os.getcwd()
    os.chdir(os.path.dirname(os.path.dirname(secret)))
    try:
        path = f"/proc/{os.getpid()}/cwd/" + os.path.relpath(secret)
        with open(path) as handle:
            return handle.read()
    finally:
        os.chdir(before)


@attempt
def copytree_out(secret: str, work: str) -> str:
    target = os.path.join(work, "tree")
    shutil.copytree(os.path.dirname(secret), target, dirs_exist_ok=True)
    with open(os.path.join(target, os.path.basename(secret))) as handle:
        return handle.read()


@attempt
def scandir_listing(secret: str, work: str) -> str:
    return " ".join(entry.name for entry in os.scandir(os.path.dirname(secret)))


@attempt
def symlink_made_by_tool(secret: str, work: str) -> str:
    link = os.path.join(work, "alias")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.dirname(secret), link)
    with open(os.path.join(link, os.path.basename(secret))) as handle:
        return handle.read()


@attempt
def trailing_slash_dir(secret: str, work: str) -> str:
    return " ".join(os.listdir(os.path.dirname(secret) + "/."))


@attempt
def rename_an_ancestor_out(secret: str, work: str) -> str:
    # the rule protects OUTER/inner/**: OUTER itself is no protected path
    outer = os.path.join(os.path.dirname(os.path.dirname(secret)), "outer")
    target = os.path.join(work, "outer_moved")
    os.rename(outer, target)
    with open(os.path.join(target, "inner", "key.txt")) as handle:
        return handle.read()


@attempt
def rename_a_link_to_the_secret(secret: str, work: str) -> str:
    """Renaming a link moves the link, not the secret: allowed; reading through it is not."""
    link, moved = os.path.join(work, "link-to-secret"), os.path.join(work, "link-moved")
    for path in (link, moved):
        if os.path.lexists(path):
            os.remove(path)
    os.symlink(secret, link)
    os.rename(link, moved)
    with open(moved) as handle:
        return handle.read()


@attempt
def rename_inside_work(secret: str, work: str) -> str:
    """Allowed: a rename the rules do not touch still works."""
    first, second = os.path.join(work, "first"), os.path.join(work, "second")
    with open(first, "w") as handle:
        handle.write("plain")
    os.rename(first, second)
    with open(second, "a+") as handle:
        handle.seek(0)
        return handle.read()


for _name, _function in ATTEMPTS.items():
    server.tool(name=_name)(_function)


if __name__ == "__main__":
    server.run()
