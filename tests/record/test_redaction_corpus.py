"""The redaction module over the secret and benign corpora, channel by channel (no process).

Every secret form is rendered the way each channel carries it (an argv, a shell string, a
URL, free text, structured data, data as JSON text) and must come out without its secret;
every benign value must come out unchanged.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mcptrace.record import redact
from mcptrace.record.redact import (
    REDACTED,
    is_secret_name,
    redact_argv,
    redact_command_line,
    redact_data,
    redact_text,
    redact_url,
    truncate,
)

CORPORA = Path(__file__).resolve().parent.parent / "corpora"
SECRETS: list[dict[str, Any]] = json.loads((CORPORA / "secrets.json").read_text())["entries"]
BENIGN: dict[str, Any] = json.loads((CORPORA / "benign.json").read_text())
EXTRA_KEYS = ("ssn",)
EXTRA_PATTERNS = (r"ACME-[A-Za-z0-9]{14}",)


@pytest.fixture(autouse=True)
def user_additions() -> Iterator[None]:
    redact.configure(EXTRA_KEYS, EXTRA_PATTERNS)
    yield
    redact.configure()


def as_text(entry: dict[str, Any]) -> str:
    if "argv" in entry:
        return shlex.join(entry["argv"])
    if "data" in entry:
        return json.dumps(entry["data"])
    return str(entry.get("text", entry.get("url")))


def renderings(entry: dict[str, Any]) -> Iterator[tuple[str, Callable[[], Any]]]:
    """(channel, what mcptrace would record) for one form."""
    text = as_text(entry)
    if "argv" in entry:
        argv = entry["argv"]
        yield "argv", lambda: redact_argv(argv)
        yield "shell", lambda: redact_command_line(text)
        yield (
            "error message",
            lambda: redact_text(f"Command {argv!r} returned non-zero exit status 1."),
        )
    if "data" in entry:
        yield "data", lambda: redact_data(entry["data"])
        yield "data in a list", lambda: redact_data([{"result": entry["data"]}])
        yield "data as indented JSON", lambda: redact_text(json.dumps(entry["data"], indent=2))
        yield "data as Python repr", lambda: redact_text(repr(entry["data"]))
    if "url" in entry:
        yield "url", lambda: redact_url(entry["url"])
        yield "url argument", lambda: redact_argv(["curl", "-sS", entry["url"]])
    yield "text", lambda: redact_text(text)
    yield "text in prose", lambda: redact_text(f"step failed ({text}) at 12:00")
    yield "argument", lambda: redact_argv(["/usr/bin/printf", "%s", text])
    yield "quoted shell word", lambda: redact_command_line(": " + shlex.quote(text))
    yield "string in data", lambda: redact_data({"stdout": text, "items": [text]})


def test_the_corpus_is_big_and_varied() -> None:
    assert len(SECRETS) >= 150
    kinds = {next(k for k in ("argv", "text", "url", "data") if k in e) for e in SECRETS}
    assert kinds == {"argv", "text", "url", "data"}
    assert len({e["id"] for e in SECRETS}) == len(SECRETS)


@pytest.mark.parametrize("entry", SECRETS, ids=[e["id"] for e in SECRETS])
def test_secret_form_is_redacted_in_every_channel(entry: dict[str, Any]) -> None:
    leaks = []
    for channel, render in renderings(entry):
        out = json.dumps(render(), ensure_ascii=False)
        leaks += [f"{channel}: {out}" for secret in entry["secrets"] if secret in out]
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize("argv", BENIGN["argv"], ids=lambda a: " ".join(a)[:40])
def test_benign_command_is_untouched(argv: list[str]) -> None:
    assert redact_argv(argv) == argv
    assert redact_command_line(shlex.join(argv)) == shlex.join(argv)


@pytest.mark.parametrize("text", BENIGN["text"], ids=lambda t: t[:40])
def test_benign_text_is_untouched(text: str) -> None:
    assert redact_text(text) == text
    assert redact_argv(["/usr/bin/printf", "%s", text]) == ["/usr/bin/printf", "%s", text]


@pytest.mark.parametrize("data", BENIGN["data"], ids=lambda d: json.dumps(d)[:40])
def test_benign_data_is_untouched(data: Any) -> None:
    assert redact_data(data) == data
    assert redact_text(json.dumps(data)) == json.dumps(data)


def test_secret_like_names() -> None:
    for name in BENIGN["secret_names"]:
        assert is_secret_name(name), name
    for name in BENIGN["ordinary_names"]:
        assert not is_secret_name(name), name


def test_redaction_is_idempotent_and_keeps_context() -> None:
    for entry in SECRETS:
        once = redact_text(as_text(entry))
        assert redact_text(once) == once, entry["id"]
    assert redact_text("Authorization: Bearer abc123def456") == f"Authorization: {REDACTED}"
    assert redact_argv(["mysql", "-pS3cretPass1", "shop"]) == ["mysql", f"-p{REDACTED}", "shop"]


def test_truncation_after_redaction_never_reveals_a_prefix() -> None:
    token = "ghp_" + "A1b2" * 9
    args = redact_argv(["tool", "x" * 600 + " " + token])
    assert "ghp_" not in "".join(args) and len(args[1]) <= 513
    assert truncate("é" * 100, 50).endswith("...[truncated]")


def test_user_keys_and_patterns_extend_every_channel() -> None:
    assert redact_data({"SSN": "123-45-6789"}) == {"SSN": REDACTED}
    assert redact_argv(["t", "--ssn", "123456789"]) == ["t", "--ssn", REDACTED]
    assert redact_text("ticket ACME-abcdefgh123456 open") == f"ticket {REDACTED} open"
    redact.configure()
    assert redact_data({"SSN": "1"}) == {"SSN": "1"}


def test_hostile_input_stays_linear() -> None:
    # Long runs of the characters the rules look for: must finish, not backtrack for minutes.
    for text in (
        "mysql -p " * 20_000,
        "password: " * 10_000,
        "a='" * 20_000,
        "'\"'" * 30_000,
        "a" * 200_000,
        "-" * 100_000 + "=",
        "password=" * 20_000,
        "x:" * 50_000,
        "-----BEGIN PRIVATE KEY-----" * 2000,
        "[" + '"a",' * 30_000,
    ):
        redact_text(text)


def test_importing_it_loads_no_telemetry_stack() -> None:
    code = (
        "import sys, mcptrace.record.redact\n"
        "heavy = ('opentelemetry', 'mcptrace.export', 'mcptrace.activation', 'mcptrace.mcp')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_host_names_are_redacted_in_sensor_events() -> None:
    # a secret smuggled out as a DNS name must not land in server.address
    from mcptrace.record import vocabulary as ev
    from mcptrace.sensor.translate import TRANSLATORS

    key = "AKIA" + "Q7XJ2MZP4N8RT5WY"
    observation = TRANSLATORS["socket.getaddrinfo"].translate(
        "socket.getaddrinfo", (f"{key}.exfil.example", 443, 0, 0, 0, 0)
    )
    assert observation is not None
    assert observation.attributes[ev.SERVER_ADDRESS] == f"{REDACTED}.exfil.example"


def test_a_bad_user_pattern_is_one_clear_line() -> None:
    from mcptrace.config import ConfigError, load_settings, load_settings_lenient

    env = {"MCPTRACE_REDACT_PATTERNS": r"ok_[a-z]{4} (unclosed"}
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    message = str(raised.value)
    assert "MCPTRACE_REDACT_PATTERNS" in message and "(unclosed" in message
    assert "\n" not in message.strip()
    settings, errors = load_settings_lenient(env)
    assert errors and "capture" in settings.disabled_parts  # capture off, redaction still on
    good = load_settings({"MCPTRACE_REDACT_PATTERNS": r"ok_[a-z]{4}  INT-\d{6}"})
    assert good.redact_patterns == (r"ok_[a-z]{4}", r"INT-\d{6}")


def test_published_key_formats_in_recorded_file_paths_are_redacted() -> None:
    from mcptrace.record import vocabulary as ev
    from mcptrace.record.observation import Observation
    from mcptrace.record.recorder import record_attributes

    def recorded(path: str, target: str | None = None) -> dict[str, Any]:
        attributes: dict[str, Any] = {ev.FILE_PATH: path}
        if target is not None:
            attributes[ev.FILE_TARGET_PATH] = target
        observation = Observation(ev.FILE_OPEN, ev.FILE, attributes, "open")
        return record_attributes([0, observation, "context", 1, 0, False])

    key = "sk-live-Zq8vN3xKp2Lm7Rt4wQ"
    github = "ghp_" + "a1B2" * 9
    out = recorded(f"/tmp/{key}", f"/srv/{github}/config")
    assert key not in json.dumps(out) and github not in json.dumps(out)
    assert out[ev.FILE_PATH] == f"/tmp/{REDACTED}"
    assert out[ev.FILE_TARGET_PATH] == f"/srv/{REDACTED}/config"
    for path in (
        "/usr/lib/python3.11/json/__init__.py",
        "/home/u/github/ghost/sk-learn.txt",
        "/srv/git/objects/9f/ceb02d0ae598e95dc970b74767f19372d61af8",
        "/var/cache/3f2c9a1e-7b4d-4c2a-9e8f-1a2b3c4d5e6f.json",
        "/home/u/.ssh/id_ed25519",
    ):
        assert recorded(path)[ev.FILE_PATH] == path


def test_patterns_compile_at_first_use_and_then_are_the_module_globals() -> None:
    """Importing redaction compiles nothing (a process that never redacts a text pays no
    pattern); a pattern used once is the compiled pattern itself from then on."""
    import importlib.util
    import re

    import mcptrace.record.redact as loaded

    spec = importlib.util.spec_from_file_location("fresh_redact", loaded.__file__)
    assert spec is not None and spec.loader is not None
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    lazy = {name for name, value in vars(fresh).items() if isinstance(value, fresh._Pattern)}
    assert len(lazy) >= 30
    assert not [n for n, v in vars(fresh).items() if isinstance(v, re.Pattern)]
    for name in lazy:  # each stands for the pattern named as its global
        assert vars(fresh)[name]._name == name
    assert fresh.redact_text("export GITHUB_TOKEN=ghp_" + "a" * 36) != (
        "export GITHUB_TOKEN=ghp_" + "a" * 36
    )
    compiled = {n for n in lazy if isinstance(vars(fresh)[n], re.Pattern)}
    assert compiled and compiled < lazy


def _crossing(text: str, secret: str, edge: int, kept: int) -> str:
    """``text`` padded so that position ``edge`` falls ``kept`` characters into ``secret``."""
    padding = edge - text.find(secret) - kept
    return "x\n" * (padding // 2) + "\n" * (padding % 2) + text + " tail" * 400


@pytest.fixture
def short_cut(monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """The cut and its margin scaled down (the rules take ≈0.1 s over 72 KiB of text)."""
    monkeypatch.setattr(redact, "MAX_SCANNED_CHARS", 1536)
    monkeypatch.setattr(redact, "_CUT_MARGIN", 512, raising=False)
    return 1536, 512


def test_a_long_text_cut_through_a_secret_keeps_no_head_of_it(short_cut: tuple[int, int]) -> None:
    """Past ``MAX_SCANNED_CHARS`` a text is cut: the cut is made after the rules ran (on a
    margin past it), so a secret it crosses — a token that no longer has its length, a URL
    without its ``@`` — leaves no head behind, at the cut and at the margin's end."""
    cut, margin = short_cut
    crossed = 0
    for entry in SECRETS:
        text = entry.get("text") or entry.get("url")
        if not isinstance(text, str) or len(text) > cut // 2:
            continue
        for secret in entry["secrets"]:
            if secret not in text or len(secret) < 8:
                continue
            half = len(secret) // 2
            for edge, kept in ((cut, half), (cut, len(secret) - 2), (cut + margin, half)):
                cleaned = redact_text(_crossing(text, secret, edge, kept))
                assert secret[:kept] not in cleaned, (entry["id"], edge, kept)
                assert cleaned.endswith(redact.TRUNCATION_MARK)
                crossed += 1
    assert crossed > 600


def test_redaction_shortening_the_text_does_not_bring_the_margins_end_under_the_cut(
    short_cut: tuple[int, int],
) -> None:
    """Tokens before the cut, each shortened to ``[REDACTED]``, pull the end of the scanned
    margin (which may cut a token too) towards the cut: it is dropped all the same."""
    cut, margin = short_cut
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    body = (" " + token) * 100
    for back in range(0, 40, 3):
        cleaned = redact_text(body[: cut + margin - 20 - back] + " " + token + " more" * 100)
        assert token[:10] not in cleaned, back


GLUES = ("%22", "%20", "%5B%22", "\\n", "\\t")


def test_a_secret_glued_to_a_percent_or_backslash_escape_is_redacted() -> None:
    """``%22ghp_…`` (a URL-encoded JSON string) or ``\\nghp_…`` (the JSON text of a string
    with a line break) puts a letter or digit right before the secret, where a token's
    shape may not begin: the escapes are decoded and the rules run on the plain form."""
    for entry in SECRETS:
        text = entry.get("text") or entry.get("url")
        if not isinstance(text, str):
            continue
        for glue in GLUES:
            for form in (glue + text, glue + text + glue[-3:]):
                cleaned = redact_text(form)
                assert not any(s in cleaned for s in entry["secrets"]), (entry["id"], form)
    for benign in ("50%OFF today", "C:\\new\\table\\report.txt", "https://x/a%20b?c=%2Fd"):
        assert redact_text(benign) == benign
