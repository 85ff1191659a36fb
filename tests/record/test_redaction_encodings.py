"""Secrets written in an encoding the plain rules cannot read: percent-encoded whole,
base64 wrapped over lines, hex.  Each is decoded and judged; the encoded secret must be gone
(not only its plain spelling, which never appears), and encoded text holding no secret, or a
digest, stays exactly as written."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from mcptrace.record.redact import REDACTED, redact_data, redact_text

TOKEN = "ghp_" + "Zq8vR2mK5tW9xB3nL7cF1hJ4sD6gA0pE2yU8"
PASSWORD = "Pw7tR4kLq9ZsXv2N"


def percent_all(text: str) -> str:
    return "".join(f"%{byte:02X}" for byte in text.encode())


def mime(text: str) -> str:
    return base64.encodebytes(text.encode()).decode()


# (form, the encoded text, what must not survive of it)
ENCODED = [
    ("token percent-encoded whole", percent_all(TOKEN), percent_all(TOKEN)[:30]),
    ("pair percent-encoded whole", "q=" + percent_all(f"password={PASSWORD}"), PASSWORD),
    ("token hex", TOKEN.encode().hex(), TOKEN.encode().hex()[:30]),
    ("pair hex", f"blob {f'password={PASSWORD}'.encode().hex()} end", PASSWORD),
    (
        "base64 at 76 columns, name and value on two lines",
        mime("x" * 50 + f" password={PASSWORD} " + "y" * 80),
        None,
    ),
    (
        "base64 at 76 columns, JSON-escaped line breaks",
        json.dumps(mime("x" * 50 + f" password={PASSWORD} " + "y" * 80)),
        None,
    ),
]


@pytest.mark.parametrize(("form", "text", "kept"), ENCODED, ids=[e[0] for e in ENCODED])
def test_an_encoded_secret_is_redacted(form: str, text: str, kept: str | None) -> None:
    for rendered in (redact_text(text), json.dumps(redact_data({"result": text}))):
        assert REDACTED in rendered, form
        assert PASSWORD not in rendered and TOKEN not in rendered, form
        if kept is not None:
            assert kept not in rendered, form
        if "base64" in form:  # no line of the encoded secret is left to decode
            lines = [line for line in text.replace("\\n", "\n").split("\n") if line.strip('"')]
            assert not any(line.strip('"') in rendered for line in lines[:3]), form


BENIGN = [
    percent_all("hello world, a plain note"),
    "https://example.com/search?q=%E2%9C%93%20done&page=2",
    hashlib.sha256(b"x").hexdigest(),
    hashlib.sha512(b"x").hexdigest(),
    "hex " + b"just some readable text here, nothing else".hex(),
    mime("a plain letter, " * 20),
    json.dumps(mime("a plain letter, " * 20)),
]


@pytest.mark.parametrize("text", BENIGN)
def test_encoded_text_without_a_secret_stays_as_written(text: str) -> None:
    assert redact_text(text) == text


def test_a_header_pair_of_bytes_is_redacted() -> None:
    # raw ASGI/HTTP headers: [(b"x-api-key", b"...")], as a tool may return them
    headers = [(b"host", b"api.example"), (b"x-api-key", PASSWORD.encode())]
    out = json.dumps(redact_data({"headers": headers}))
    assert PASSWORD not in out and "api.example" in out
    assert PASSWORD not in redact_text(repr(dict(headers)))
