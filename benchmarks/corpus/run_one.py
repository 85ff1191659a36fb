"""Inside the sandbox: start the loopback listeners, run one server under mcptrace, drive it.

    python run_one.py SPOOL COMMAND_JSON PLAN

Called by run.py inside bubblewrap (no network but loopback, a throwaway HOME).  The TCP
sink (``CORPUS_SINK_PORT``), the HTTP server (``CORPUS_HTTP_PORT``: uploads accepted, small
payloads served) and the reverse-shell listener on 4444 stand in for an attacker's hosts.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGES = {
    "/stage2.py": b"stage = 2\n",
    "/install.sh": b"true\n",
    "/robots.txt": b"User-agent: *\nAllow: /\n",
    "/page.html": b"<html><head><title>Release notes</title></head><body><h1>Release 2.1</h1>"
    b"<p>Faster start-up and fewer bugs.</p><ul><li>one</li><li>two</li></ul></body></html>",
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGES.get(self.path.split("?", 1)[0], b"ok\n")
        kind = "text/html" if self.path.endswith(".html") else "text/plain"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def swallow(listener: socket.socket) -> None:
    while True:
        connection, _ = listener.accept()
        connection.settimeout(1)
        try:
            while connection.recv(4096):
                pass
        except OSError:
            pass
        connection.close()


def listen(port: int) -> socket.socket:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen()
    threading.Thread(target=swallow, args=(listener,), daemon=True).start()
    return listener


def main(spool: str, command: str, plan: str) -> int:
    sink = listen(0)
    listen(4444)
    web = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update(
        CORPUS_SINK_PORT=str(sink.getsockname()[1]),
        CORPUS_HTTP_PORT=str(web.server_address[1]),
        PYTHONDONTWRITEBYTECODE="1",
    )
    plan = plan.replace("{HTTP}", str(web.server_address[1]))
    # only the server runs under mcptrace: the client is the harness, not what is measured
    server = json.loads(command)
    traced = [sys.executable, "-m", "mcptrace.cli", "run", "--spool", spool, "--", *server]
    driver = [sys.executable, str(HERE / "drive.py"), json.dumps(traced), plan]
    result = subprocess.run(driver, env=env, capture_output=True, text=True, timeout=300)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr[-20000:])
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
