"""mcptrace's one-line messages to the user at runtime, never onto a stdio server's channel.

Usage::

    from mcptrace._stderr import say
    say("mcptrace: cannot write the spool in /x (...); telemetry is being dropped")

A stdio MCP server speaks JSON-RPC on its stdout.  Tool code may rebind ``sys.stderr`` to
``sys.stdout`` (or to a stream on the same pipe); a line mcptrace wrote there would be a
message the client cannot parse.  ``say`` writes to ``sys.stderr``, else to the stderr the
process started with, and to neither when it leads where stdout does over a pipe or socket:
the line is then dropped.  Imported at interpreter start: ``stat``, ``sys`` and ``_pristine`` only.
"""

from __future__ import annotations

import stat
import sys

from mcptrace import _pristine

TYPE_CHECKING = False  # not typing's: imported at interpreter start
if TYPE_CHECKING:
    from typing import Any


def _reaches_stdout(stream: Any) -> bool:
    """Whether writing to ``stream`` lands on stdout's pipe or socket (a terminal shared by
    both is fine: that is an interactive run, not a JSON-RPC channel)."""
    if stream is sys.stdout or stream is sys.__stdout__:
        return True
    try:
        fd: int = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False  # an in-memory stream (a test's capture)
    try:
        mine, out = _pristine.fstat(fd), _pristine.fstat(1)  # not a replaced os.fstat
    except OSError:
        return fd == 1
    if not (stat.S_ISFIFO(out.st_mode) or stat.S_ISSOCK(out.st_mode)):
        return False
    return fd == 1 or (mine.st_dev, mine.st_ino) == (out.st_dev, out.st_ino)


def say(line: str) -> None:
    """One line on stderr (the newline added), unless only stdout's channel would get it."""
    text = line.rstrip("\n") + "\n"
    for stream in (sys.stderr, sys.__stderr__):
        if stream is None or _reaches_stdout(stream):
            continue
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError, AttributeError):
            continue
        return
