"""An MCP server whose tools hand work to other threads (mcp 1.x and 2.x, stdio).

Every file a tool's work opens is named after the call's ``tag``; the attribution tests
check that each open lands on the span of the call with that tag (a span event, or a log
record linked to it once the call has returned) and never on another call's span.
``linger*`` tools return at once and leave work running; ``busy`` stays in flight while it
opens its own files, so there is always another call a guess could pick.
"""

from __future__ import annotations

import _thread
import asyncio
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import anyio.to_thread

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples"))
from _compat import FastMCP  # noqa: E402

server = FastMCP("threads")
POOL = ThreadPoolExecutor(max_workers=2)  # shared by every call: workers are reused
LINGERING: list[threading.Thread] = []


def open_files(directory: str, tag: str, count: int, interval: float = 0.0) -> None:
    for index in range(count):
        with open(os.path.join(directory, f"{tag}-{index}"), encoding="utf-8") as handle:
            handle.read()
        if interval:
            time.sleep(interval)


class Opener(threading.Thread):
    """A subclass that overrides run() without calling Thread.run()."""

    def __init__(self, directory: str, tag: str, count: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.arguments = (directory, tag, count, interval)

    def run(self) -> None:
        open_files(*self.arguments)


@server.tool()
def linger(directory: str, tag: str, count: int, interval: float) -> str:
    """A plain thread that outlives the call."""
    worker = threading.Thread(target=open_files, args=(directory, tag, count, interval))
    worker.start()
    LINGERING.append(worker)
    return "started"


@server.tool()
def linger_subclass(directory: str, tag: str, count: int, interval: float) -> str:
    worker = Opener(directory, tag, count, interval)
    worker.start()
    LINGERING.append(worker)
    return "started"


@server.tool()
def linger_pool(directory: str, tag: str, count: int, interval: float) -> str:
    """Work left on a shared pool, still running after the call returns."""
    POOL.submit(open_files, directory, tag, count, interval)
    return "submitted"


@server.tool()
async def busy(directory: str, tag: str, count: int, interval: float) -> str:
    """In flight for a while, opening its own files on the event loop."""
    for index in range(count):
        with open(os.path.join(directory, f"{tag}-{index}"), encoding="utf-8") as handle:
            handle.read()
        await asyncio.sleep(interval)
    return "done"


@server.tool()
def plain_threads(directory: str, tag: str, count: int) -> str:
    workers = [
        threading.Thread(target=open_files, args=(directory, f"{tag}", count)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return "done"


@server.tool()
def executor_map(directory: str, tag: str, count: int) -> str:
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: open_files(directory, tag, count), range(4)))
    return "done"


@server.tool()
async def run_in_executor(directory: str, tag: str, count: int) -> str:
    loop = asyncio.get_running_loop()
    for _ in range(4):
        await loop.run_in_executor(None, open_files, directory, tag, count)
    return "done"


@server.tool()
async def anyio_to_thread(directory: str, tag: str, count: int) -> str:
    for _ in range(4):
        await anyio.to_thread.run_sync(open_files, directory, tag, count)
    return "done"


MP_POOL: list[object] = []  # a multiprocessing ThreadPool, created by the first call


@server.tool()
def mp_thread_pool(directory: str, tag: str, count: int) -> str:
    """Work fed to a ThreadPool whose workers an earlier call started."""
    from multiprocessing.pool import ThreadPool

    if not MP_POOL:
        MP_POOL.append(ThreadPool(2))
    pool = MP_POOL[0]
    assert isinstance(pool, ThreadPool)
    pool.map(lambda _: open_files(directory, tag, count), range(4))
    return "done"


@server.tool()
def low_level_thread(directory: str, tag: str, count: int) -> str:
    done = threading.Event()

    def work() -> None:
        try:
            open_files(directory, tag, count)
        finally:
            done.set()

    _thread.start_new_thread(work, ())
    done.wait(30)
    return "done"


BACKGROUND: list[tuple[str, str, int]] = []
BACKGROUND_GO, BACKGROUND_DONE = threading.Event(), threading.Event()


def background() -> None:
    BACKGROUND_GO.wait()
    try:
        open_files(*BACKGROUND[0])
    finally:
        BACKGROUND_DONE.set()


threading.Thread(target=background, daemon=True).start()  # outside any tool call


@server.tool()
def poke_background(directory: str, tag: str, count: int) -> str:
    """Sets a thread started outside any call to work while this call is the only one."""
    BACKGROUND.append((directory, tag, count))
    BACKGROUND_GO.set()
    BACKGROUND_DONE.wait(30)
    return "done"


@server.tool()
async def drain(seconds: float) -> str:
    """Waits (in flight: the only call, while lingering work goes on) until it is all done."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (
        any(worker.is_alive() for worker in LINGERING) or POOL._work_queue.qsize()
    ):
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)  # the pool's last job, if any, between dequeue and done
    return "drained"


if __name__ == "__main__":
    server.run()
