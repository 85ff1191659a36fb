"""Drives redaction_server.py with a secret corpus and a benign corpus; prints one RESULT line.

python redaction_client.py SECRETS_JSON BENIGN_JSON

Every secret form goes through every channel: argv (a spawn), os.system, URL opens,
exception text, JSON-RPC error messages, tool arguments and results (structured and
text), resource URIs, and the client's own connect records (command and URL).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import sys
from typing import Any

from mcp.client.stdio import stdio_client

from mcp import ClientSession, StdioServerParameters

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "redaction_server.py")


def as_text(entry: dict[str, Any]) -> str:
    if "argv" in entry:
        return shlex.join(entry["argv"])
    if "data" in entry:
        return json.dumps(entry["data"])
    return str(entry.get("text", entry.get("url")))


def unreachable(url: str) -> str | None:
    """The URL with its host moved to a closed local port (credentials and query kept)."""
    match = re.match(r"(?:[a-z0-9+.-]+)://((?:[^/?#@]*@)?)[^/?#]*(.*)$", url, re.I)
    return f"http://{match.group(1)}127.0.0.1:9{match.group(2)}" if match else None


async def connect_attempts(argvs: list[list[str]], urls: list[str]) -> int:
    """Client sessions that fail at once: their connect records carry the command / URL."""
    from mcp.client.streamable_http import streamable_http_client

    count = 0
    for argv in argvs:
        params = StdioServerParameters(command="/bin/true", args=argv)
        try:
            with anyio_timeout(3):
                async with (
                    stdio_client(params) as (read, write),
                    ClientSession(read, write) as session,
                ):
                    count += 1
                    await session.initialize()
        except BaseException:
            pass
    for url in urls:
        try:
            with anyio_timeout(3):
                async with (
                    streamable_http_client(url) as (read, write, *_),
                    ClientSession(read, write) as session,
                ):
                    count += 1
                    await session.initialize()
        except BaseException:
            pass
    return count


def anyio_timeout(seconds: float) -> Any:
    import anyio

    return anyio.move_on_after(seconds)


async def run(secrets: list[dict[str, Any]], benign: dict[str, Any]) -> dict[str, Any]:
    texts = [as_text(entry) for entry in secrets]
    argvs = [entry["argv"] for entry in secrets if "argv" in entry]
    urls = [entry["url"] for entry in secrets if "url" in entry]
    # neutral keys: a form's id ("key-ssh-pass") would itself be a secret-like name
    data = {f"form{index}": e["data"] for index, e in enumerate(secrets) if "data" in e}
    out: dict[str, Any] = {}
    # the server's own command line carries secrets too (the connect record's command)
    server_args = [SERVER, *[arg for argv in argvs[:8] for arg in argv]]
    params = StdioServerParameters(command=sys.executable, args=server_args)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()

        async def call(tool: str, arguments: dict[str, Any]) -> Any:
            result = await session.call_tool(tool, arguments)
            return getattr(result, "is_error", getattr(result, "isError", None))

        spawned = argvs + [["/usr/bin/printf", "%s", text] for text in texts]
        out["spawn"] = await call("spawn", {"argvs": spawned + benign["argv"]})
        commands = [": " + shlex.join(argv) for argv in argvs]
        commands += [": " + shlex.quote(text) for text in texts]
        commands += [": " + shlex.join(argv) for argv in benign["argv"]]
        out["shell"] = await call("shell", {"commands": commands})
        out["fetch"] = await call("fetch", {"urls": urls + benign["urls"]})
        out["fail"] = await call("fail", {"message": "\n".join(texts)})
        try:
            out["refuse"] = await call("refuse", {"message": "\n".join(texts)})
        except Exception as error:  # a JSON-RPC error raises in the client
            out["refuse"] = type(error).__name__
        out["echo"] = await call("echo", {"data": data, "texts": texts})
        out["echo_benign"] = await call(
            "echo", {"data": {"items": benign["data"]}, "texts": benign["text"]}
        )
        read_errors = 0
        for url in urls:
            try:
                await session.read_resource(url)  # type: ignore[arg-type]
            except Exception:
                read_errors += 1
        out["resource_errors"] = read_errors
    http_urls = [u for u in (unreachable(url) for url in urls) if u]
    out["connects"] = await connect_attempts(argvs, http_urls)
    return out


def main() -> None:
    with open(sys.argv[1]) as secrets_file, open(sys.argv[2]) as benign_file:
        secrets = json.load(secrets_file)["entries"]
        benign = json.load(benign_file)
    print("RESULT " + json.dumps(asyncio.run(run(secrets, benign))), flush=True)


if __name__ == "__main__":
    main()
