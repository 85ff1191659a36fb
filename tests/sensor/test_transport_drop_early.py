"""An MCP client request's own network activity (the transport's connect per HTTP request) is
dropped before it is translated (sensor/hook.py, step 4b moved ahead of step 4): that drops
exactly what the check after translation dropped only if every translator whose single
category is network makes network observations alone.  Each of them, over the argument
shapes its audit event carries; and the event list is checked, so a new network translator
without a case here fails."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from mcptrace.record import vocabulary as ev
from mcptrace.sensor.translate import TRANSLATORS


class Conn:
    host = "example.com"
    port = 80


inet = socket.socket()
inet6 = socket.socket(socket.AF_INET6)
unix = socket.socket(socket.AF_UNIX)
udp = socket.socket(type=socket.SOCK_DGRAM)
ARGS: dict[str, list[tuple[Any, ...]]] = {
    "socket.connect": [
        (inet, ("127.0.0.1", 80)),
        (inet6, ("::1", 80, 0, 0)),
        (unix, "/tmp/x.sock"),
        (unix, b"\0abstract"),
        (udp, ("203.0.113.9", 53)),
    ],
    "socket.bind": [(inet, ("0.0.0.0", 0)), (unix, "/tmp/y.sock")],
    "socket.sendto": [(udp, ("203.0.113.9", 53)), (udp, None)],
    "socket.sendmsg": [(udp, ("203.0.113.9", 53)), (inet, None)],
    "socket.getaddrinfo": [
        ("example.com", 443, 0, 0, 0, 0),
        ("127.0.0.1", None, 0, 0, 0, 0),
        (None, 80, 0, 0, 0, 0),
    ],
    "socket.gethostbyname": [("example.com",)],
    "socket.gethostbyaddr": [("203.0.113.9",)],
    "socket.getnameinfo": [(("203.0.113.9", 80), 0)],
    "http.client.connect": [(Conn(), "example.com", 80)],
    "ftplib.connect": [(Conn(), "example.com", 21)],
    "imaplib.open": [(Conn(), "example.com", 143)],
    "nntplib.connect": [(Conn(), "example.com", 119)],
    "poplib.connect": [(Conn(), "example.com", 110)],
    "smtplib.connect": [(Conn(), "example.com", 25)],
    "telnetlib.Telnet.open": [(Conn(), "example.com", 23)],
    "urllib.Request": [("https://example.com/x", None, {}, "GET")],
}

NETWORK_ONLY = sorted(n for n, t in TRANSLATORS.items() if t.only_category == ev.NETWORK)


def test_every_network_translator_has_cases_here() -> None:
    assert sorted(ARGS) == NETWORK_ONLY


@pytest.mark.parametrize("event", NETWORK_ONLY)
def test_a_network_translator_makes_network_observations_only(event: str) -> None:
    made = [TRANSLATORS[event].translate(event, args) for args in ARGS.get(event, [])]
    assert made and all(o is not None and o[1] == ev.NETWORK for o in made), made
