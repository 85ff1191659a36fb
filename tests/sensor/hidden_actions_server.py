"""An MCP server whose tools each do one hidden thing (mcp 1.x and 2.x, stdio).

Each tool's name says what it does behind the caller's back; the sensor tests assert that
the right event lands on the right ``tools/call`` span.  Nothing here writes to stdout: that
is the JSON-RPC channel (children get DEVNULL).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime
import importlib
import os
import pickle
import socket
import subprocess
import sys
import threading
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples"))
sys.path.insert(0, HERE)
from _compat import FastMCP  # noqa: E402

server = FastMCP("hidden-actions")


@server.tool()
def stderr_onto_stdout_then_break_spool(spool: str) -> str:
    """Tool code rebinding sys.stderr to the JSON-RPC channel, then making the spool
    unwritable (a file where the directory was): mcptrace's warning must not follow it."""
    import logging
    import shutil

    # mcp 1.x logs every request at INFO through a handler that writes to whatever
    # sys.stderr is: that would follow the rebind too, and it is the SDK's, not mcptrace's
    logging.getLogger("mcp").setLevel(logging.WARNING)
    sys.stderr = sys.stdout
    shutil.rmtree(spool)
    with open(spool, "w"):
        pass
    return "broken"


@server.tool()
def echo(text: str) -> str:
    return text


@server.tool()
def read_secret(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        handle.read()
    return "done"


@server.tool()
def write_file(path: str, text: str) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return "done"


@server.tool()
def append_file(path: str, text: str) -> str:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
    return "done"


@server.tool()
def delete_file(path: str) -> str:
    os.remove(path)
    return "done"


@server.tool()
def rename_file(source: str, target: str) -> str:
    os.replace(source, target)
    return "done"


@server.tool()
def truncate_file(path: str, size: int) -> str:
    os.truncate(path, size)
    with open(path, "r+b") as handle:  # and through a descriptor: os.ftruncate
        os.ftruncate(handle.fileno(), 1)
    return "done"


@server.tool()
def backdate_file(path: str, timestamp: int) -> str:
    os.utime(path, (timestamp, timestamp))
    return "done"


@server.tool()
def tcp_connect(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    return "done"


@server.tool()
def udp_send(port: int) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"ping", ("127.0.0.1", port))
    return "done"


@server.tool()
def resolve(host: str, port: int) -> str:
    socket.getaddrinfo(host, port)
    return "done"


@server.tool()
def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.status)


@server.tool()
def run_subprocess(token: str) -> str:
    completed = subprocess.run(
        ["/bin/echo", "--token", token, "visible"], stdout=subprocess.DEVNULL, check=True
    )
    return str(completed.returncode)


@server.tool()
def run_shell(command: str) -> str:
    return str(os.system(command + " >/dev/null"))


@server.tool()
def run_true(close_fds: bool) -> str:
    """Popen through fork_exec (close_fds, before 3.13) or through os.posix_spawn."""
    return str(subprocess.run(["/bin/true"], close_fds=close_fds, check=True).returncode)


@server.tool()
def run_posix_spawn() -> str:
    pid = os.posix_spawn("/bin/true", ["/bin/true", "spawned"], dict(os.environ))
    os.waitpid(pid, 0)
    return "done"


@server.tool()
def eval_code(expression: str) -> str:
    return str(eval(expression))


@server.tool()
def exec_code(source: str) -> str:
    namespace: dict[str, object] = {}
    exec(source, namespace)
    return "done"


@server.tool()
def unpickle() -> str:
    return str(pickle.loads(pickle.dumps(datetime.date(2020, 1, 2))))


@server.tool()
def load_native() -> str:
    name = ctypes.util.find_library("m") or "libm.so.6"
    ctypes.CDLL(name)
    return name


def _libm() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")


@server.tool()
def resolve_symbols(repeat: int) -> str:
    """``cos`` looked up ``repeat`` times (each ``lib[name]`` is a dlsym), ``sin`` by
    attribute, ``getpid`` in the process's own namespace (how libc is reached directly)."""
    libm = _libm()
    functions = [libm["cos"] for _ in range(repeat)]
    functions.append(libm.sin)
    return str(ctypes.CDLL(None).getpid())


@server.tool()
def resolve_cos_again() -> str:
    libm = _libm()
    return str(len([libm["cos"] for _ in range(3)]))


@server.tool()
def dynamic_import(name: str) -> str:
    module = importlib.import_module(name)
    return str(module.__name__)


@server.tool()
def thread_open(path: str) -> str:
    def read() -> None:
        with open(path, encoding="utf-8") as handle:
            handle.read()

    worker = threading.Thread(target=read)
    worker.start()
    worker.join()
    return "done"


@server.tool()
def child_read(path: str) -> str:
    code = f"open({path!r}).read()"
    subprocess.run([sys.executable, "-c", code], stdout=subprocess.DEVNULL, check=True)
    return "done"


@server.tool()
def add_audit_hook() -> str:
    sys.addaudithook(lambda event, args: None)
    return "done"


@server.tool()
def many_opens(count: int) -> str:
    """Open /dev/null ``count`` times; returns this process's own peak RSS (KiB, VmHWM:
    ru_maxrss would carry the spawning client's peak) before and after."""
    before = _own_peak_rss_kib()
    for _ in range(count):
        open("/dev/null", "rb").close()
    after = _own_peak_rss_kib()
    return f"{before} {after}"


def _own_peak_rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    server.run()
