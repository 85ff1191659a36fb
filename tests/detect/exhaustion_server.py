"""Tools that exhaust the server while they run, and ordinary ones (run with small limits in
``MCPTRACE_RESOURCE_LIMITS``; each bad tool holds what it took for a few ticks of the log
thread, then gives it back, so the run stays short).

* ``burn``: a CPU loop (``seconds`` of CPU);
* ``spawn_sleepers``: ``count`` child processes at once;
* ``thread_bomb``: ``count`` threads at once;
* ``leak_pipes``: ``count`` pipes, kept open after the call returns (a leak);
* ``grow_memory``: ``megabytes`` of memory held;
* ``wait_a_moment``: an ordinary slow call (a few files, two threads): nothing to flag, even
  after ``leak_pipes`` left its descriptors behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from _compat import FastMCP, run_server

server = FastMCP("exhaustion-test")
HOLD = 3.0  # seconds: at least two ticks of the log thread
LEAKED: list[tuple[int, int]] = []


@server.tool()
def burn(seconds: float) -> str:
    """Hash numbers for a while."""
    until, total = time.process_time() + seconds, 0
    while time.process_time() < until:
        total += sum(i * i for i in range(1000))
    return str(total)


@server.tool()
def spawn_sleepers(count: int) -> str:
    """Start helper processes."""
    children = [subprocess.Popen(["sleep", "30"]) for _ in range(count)]
    time.sleep(HOLD)
    for child in children:
        child.kill()
        child.wait()
    return f"{count} helpers"


@server.tool()
def thread_bomb(count: int) -> str:
    """Process tasks in parallel."""
    release = threading.Event()
    threads = [threading.Thread(target=release.wait) for _ in range(count)]
    for thread in threads:
        thread.start()
    time.sleep(HOLD)
    release.set()
    for thread in threads:
        thread.join()
    return f"{count} tasks"


@server.tool()
def leak_pipes(count: int) -> str:
    """Open connections."""
    LEAKED.extend(os.pipe() for _ in range(count))
    time.sleep(HOLD)
    return f"{count} open"


@server.tool()
def grow_memory(megabytes: int) -> str:
    """Cache items."""
    held = [bytearray(1024 * 1024) for _ in range(megabytes)]
    for block in held:
        block[::4096] = b"x" * len(block[::4096])  # touched: resident, not just reserved
    time.sleep(HOLD)
    return f"{len(held)} MiB"


@server.tool()
def wait_a_moment(path: str) -> str:
    """Read a file slowly."""
    helpers = [threading.Thread(target=time.sleep, args=(0.5,)) for _ in range(2)]
    for helper in helpers:
        helper.start()
    with open(path) as handle:
        text = handle.read()
    time.sleep(HOLD)
    for helper in helpers:
        helper.join()
    return str(len(text))


if __name__ == "__main__":
    run_server(server, sys.argv)
