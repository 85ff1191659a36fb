"""An MCP server (stdio) whose tools first make an allowed open a repeat, then change one thing.

The C hook answers an open the policy already allowed in the same span, with the same path
string, mode and flags, without calling Python (sensor/_fasthook.c, step 3).  Each tool here
opens an allowed file often enough to be past its span's cap (the test sets
MCPTRACE_MAX_EVENTS_PER_SPAN=4: 32 file records), so the next identical open is a remembered
repeat, then changes what that same open means: where the path leads (a symlink swapped, a
directory link swapped, a hard link put in its place), the working directory, the directory
descriptor, the access, the tool's standing (a switch flipped), the process (a fork), or
the tool (another call on another thread).  Each returns JSON: what every attempt got, and
how many opens the C hook answered during the call (``fast``).

Arguments: ``secret`` (a file in the directory the policy denies reads of), ``work`` (a
scratch directory with ``benign/key.txt``, ``readonly/data.txt`` and ``shared/data.txt``).
Nothing here writes to stdout: that is the JSON-RPC channel.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples"))
from _compat import FastMCP  # noqa: E402

server = FastMCP("policy-repeats")
WARM = 100  # opens before the change: past a cap of 32 file records


def fast_answers() -> int:
    """Opens the C hook answered as allowed repeats so far (0 on the pure-Python hook)."""
    from mcptrace.sensor.hook import native_allowed

    return native_allowed()


def read(path: str, mode: str = "rb", dir_fd: int | None = None) -> str:
    """One attempt: what it read, or how it failed."""
    try:
        if dir_fd is not None:
            fd = os.open(path, os.O_RDONLY, dir_fd=dir_fd)
            with os.fdopen(fd, "rb") as handle:
                return handle.read().decode(errors="replace")
        with open(path, mode) as handle:
            return handle.read().decode(errors="replace") if "r" in mode else "opened"
    except OSError as exc:
        return refusal(exc)


def refusal(exc: OSError) -> str:
    kind = "PermissionError" if isinstance(exc, PermissionError) else type(exc).__name__
    return f"refused: {kind}: {exc}"  # mcptrace's PolicyViolation is a PermissionError


def warm(path: str, mode: str = "rb", dir_fd: int | None = None) -> str:
    for _ in range(WARM):
        answer = read(path, mode, dir_fd)
    return answer


def report(function: Callable[[str, str], list[str]]) -> Callable[[str, str], str]:
    def tool(secret: str, work: str) -> str:
        before = fast_answers()
        attempts = function(secret, work)
        return json.dumps({"attempts": attempts, "fast": fast_answers() - before})

    tool.__name__ = function.__name__
    server.tool(name=function.__name__)(tool)
    return tool


def _swap_symlink(link: str, target: str) -> None:
    temporary = link + ".new"
    os.symlink(target, temporary)
    os.replace(temporary, link)  # atomic: the path never leads nowhere


@report
def repeat_symlink_swapped(secret: str, work: str) -> list[str]:
    link = os.path.join(work, "swap-link")
    _swap_symlink(link, os.path.join(work, "benign", "key.txt"))
    warmed = warm(link)
    _swap_symlink(link, secret)
    return [warmed, read(link), read(link)]


@report
def repeat_directory_link_swapped(secret: str, work: str) -> list[str]:
    link = os.path.join(work, "dir-link")
    _swap_symlink(link, os.path.join(work, "benign"))
    path = os.path.join(link, os.path.basename(secret))
    warmed = warm(path)
    _swap_symlink(link, os.path.dirname(secret))
    return [warmed, read(path), read(path)]


@report
def repeat_hard_link_put_in_place(secret: str, work: str) -> list[str]:
    path = os.path.join(work, "plain.txt")
    with open(path, "w") as handle:
        handle.write("harmless-benign-text")
    warmed = warm(path)
    # work/secret-alias: a second name of a secret the test made before the server started
    # (making one needs a read of the secret, which is refused)
    os.replace(os.path.join(work, "secret-alias"), path)  # the same name, now the secret
    return [warmed, read(path), read(path)]


@report
def repeat_after_a_protected_name_is_added(secret: str, work: str) -> list[str]:
    path = os.path.join(work, "named-twice.txt")
    with open(path, "w") as handle:
        handle.write("harmless-benign-text")
    warmed = warm(path)
    # the same file, now with a second name (in the denied directory): the policy's hard-link
    # index decides what that means, so the C hook no longer answers for it
    os.link(path, os.path.join(os.path.dirname(secret), "named-twice.txt"))
    before = fast_answers()
    attempts = [warmed, read(path), read(path)]
    return [*attempts, f"answered in C after the link: {fast_answers() - before}"]


@report
def repeat_after_chdir(secret: str, work: str) -> list[str]:
    name = os.path.basename(secret)
    before = os.getcwd()
    try:
        os.chdir(os.path.join(work, "benign"))
        warmed = warm(name)
        os.chdir(os.path.dirname(secret))
        return [warmed, read(name), read(name)]
    finally:
        os.chdir(before)


@report
def repeat_with_another_dir_fd(secret: str, work: str) -> list[str]:
    name = os.path.basename(secret)
    benign = os.open(os.path.join(work, "benign"), os.O_RDONLY | os.O_DIRECTORY)
    secret_dir = os.open(os.path.dirname(secret), os.O_RDONLY | os.O_DIRECTORY)
    try:
        warmed = warm(name, dir_fd=benign)
        return [warmed, read(name, dir_fd=secret_dir), read(name, dir_fd=secret_dir)]
    finally:
        os.close(benign)
        os.close(secret_dir)


@report
def repeat_with_write_access(secret: str, work: str) -> list[str]:
    path = os.path.join(work, "readonly", "data.txt")
    attempts = [warm(path)]
    for mode in ("r+b", "ab", "wb", "xb", "rb+"):
        attempts.append(read(path, mode))
    for flags in (os.O_WRONLY, os.O_RDWR, os.O_RDONLY | os.O_TRUNC | os.O_WRONLY):
        try:
            os.close(os.open(path, flags))
            attempts.append("opened")
        except OSError as exc:
            attempts.append(refusal(exc))
    attempts.append(read(path))  # reading it is still allowed, and it is unchanged
    return attempts


def _tamper_then_repeat(
    work: str, switch: Callable[[], None], undo: Callable[[], None]
) -> list[str]:
    path = os.path.join(work, "benign", "key.txt")
    warmed = warm(path)
    switch()
    try:
        first = read(path)
    finally:
        undo()
    return [warmed, first, read(path), read(path)]


def _sensor_off() -> None:
    from mcptrace.sensor.hook import installed

    sensor = installed()
    assert sensor is not None
    sensor.active = False


def _pause() -> None:
    from mcptrace import _guard

    set.add(_guard.PAUSED, threading.get_ident())


def _unpause() -> None:
    from mcptrace import _guard

    set.discard(_guard.PAUSED, threading.get_ident())


def _clear_slot() -> None:
    from mcptrace.record import decide

    decide.POLICY[0] = None


@report
def repeat_after_sensor_off(secret: str, work: str) -> list[str]:
    return _tamper_then_repeat(work, _sensor_off, lambda: None)


@report
def repeat_after_pause(secret: str, work: str) -> list[str]:
    return _tamper_then_repeat(work, _pause, _unpause)


@report
def repeat_after_slot_cleared(secret: str, work: str) -> list[str]:
    return _tamper_then_repeat(work, _clear_slot, lambda: None)


@report
def repeat_in_forked_child(secret: str, work: str) -> list[str]:
    """The parent's allowed repeat, then in a forked child: a switch flipped, the same open."""
    path = os.path.join(work, "benign", "key.txt")
    warmed = warm(path)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            answers = [read(path)]
            _sensor_off()
            answers += [read(path), read(path)]
            os.write(write_end, json.dumps(answers).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    return [warmed, *json.loads(child or '["(no answer)"]'), read(path)]


# --- another tool's call on another thread, at the same time

_trusted_running = threading.Event()


@report
def trusted_reader(secret: str, work: str) -> list[str]:
    """Reads shared/data.txt over and over (the sandbox rule does not name this tool)."""
    path = os.path.join(work, "shared", "data.txt")
    answer = warm(path)
    _trusted_running.set()
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        answer = read(path)
    return [answer]


@report
def sandbox_reader(secret: str, work: str) -> list[str]:
    """The same open while trusted_reader's is remembered: denied for this tool."""
    _trusted_running.wait(20)
    benign = warm(os.path.join(work, "benign", "key.txt"))  # this span past its cap too
    path = os.path.join(work, "shared", "data.txt")
    return [benign] + [read(path) for _ in range(5)]


# --- the same, as two asyncio tasks on the server's one event-loop thread

_trusted_task_running: list[bool] = []


@server.tool(name="trusted_task")
async def trusted_task(secret: str, work: str) -> str:
    import asyncio

    before = fast_answers()
    path = os.path.join(work, "shared", "data.txt")
    answer = warm(path)
    _trusted_task_running.append(True)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        answer = read(path)
        await asyncio.sleep(0)  # the other task runs between two of this task's opens
    return json.dumps({"attempts": [answer], "fast": fast_answers() - before})


@server.tool(name="sandbox_task")
async def sandbox_task(secret: str, work: str) -> str:
    import asyncio

    before = fast_answers()
    for _ in range(400):
        if _trusted_task_running:
            break
        await asyncio.sleep(0.05)
    benign = warm(os.path.join(work, "benign", "key.txt"))
    path = os.path.join(work, "shared", "data.txt")
    attempts = [benign]
    for _ in range(5):
        attempts.append(read(path))
        await asyncio.sleep(0)
    return json.dumps({"attempts": attempts, "fast": fast_answers() - before})


if __name__ == "__main__":
    server.run()
