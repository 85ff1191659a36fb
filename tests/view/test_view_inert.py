"""A spool full of hostile names: the terminal view writes no byte a terminal obeys, the JSON
output keeps the data exactly, and the HTML report renders every row in Chromium with no
injected script running.

Every string the view can print carries a hostile name from ``tests/corpora/hostile_names.json``:
tool names, session ids, service names, file paths, hosts, command lines, module names,
policy rules, detection reasons, error types and messages, events outside any request.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from spoolgen import SERVER_SESSION, RecordingSpool, Request, _ev
from test_view_html import chromium, needs_chromium, rows
from test_view_tree import _run_in_terminal

from mcptrace.view.inert import clipped_name, js_character_class, json_inert, visible
from support import clean_env, mcptrace_cmd

NAMES: list[str] = json.loads(
    (Path(__file__).resolve().parents[1] / "corpora" / "hostile_names.json").read_text()
)["names"]

# What a terminal may receive from the view: printable text, newline, tab; nothing in C0
# (but \n \t), DEL, C1, no format character (Unicode category Cf: bidi controls, zero-width
# joiners, tags, Arabic and Egyptian format signs), no line separator, no lone surrogate, and
# none of the other default-ignorable characters a terminal draws nothing for (variation
# selectors, Hangul fillers, Mongolian selectors).  Built from unicodedata, not from inert.py.
_IGNORABLE = (
    "\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef"
)
_BY_CATEGORY = "".join(
    chr(code)
    for code in range(0x110000)
    if unicodedata.category(chr(code)) in ("Cc", "Cf", "Zl", "Zp") and chr(code) not in "\n\t"
)
FORBIDDEN = re.compile(f"[{re.escape(_BY_CATEGORY)}\ud800-\udfff{_IGNORABLE}]")


class HostileSpool(RecordingSpool):
    def _provider(self, service: str, ids: Any) -> Any:
        return super()._provider(f"{service} {NAMES[0]} {NAMES[16]}", ids)


def hostile_requests() -> list[Request]:
    requests = []
    for index, name in enumerate(NAMES):
        events = [
            _ev("mcptrace.file.open", 1, file__path=f"/tmp/{name}", mcptrace__file__access="read"),
            _ev("mcptrace.file.rename", 1.5, file__path=name, mcptrace__file__target_path=name),
            _ev("mcptrace.network.resolve", 2, server__address=name),
            _ev("mcptrace.network.connect", 3, server__address=name, server__port=443),
            _ev("mcptrace.network.request", 3.5, url__full=f"https://h/{name}"),
            _ev(
                "mcptrace.process.spawn",
                4,
                process__executable__path=name,
                process__command_args=[name, "-c", name],
            ),
            _ev("mcptrace.code.exec", 5, mcptrace__code__filename=name),
            _ev("mcptrace.code.deserialize", 5.5, mcptrace__deserialize__global=name),
            _ev("mcptrace.native.symbol", 6, mcptrace__native__symbol__name=name, file__path=name),
            _ev(
                "mcptrace.module.import",
                7,
                mcptrace__module__name=name,
                file__path=name,
                mcptrace__module__verification="mismatch",
            ),
            _ev("mcptrace.sensor.tamper", 8, mcptrace__audit__event=name),
            _ev(
                "mcptrace.policy.violation",
                9,
                mcptrace__policy__rule=name,
                mcptrace__policy__action="blocked",
                file__path=name,
            ),
            _ev(
                "mcptrace.detection",
                9.5,
                mcptrace__detection__rule=name,
                mcptrace__detection__severity="critical",
                mcptrace__detection__reason=name,
                mcptrace__detection__event=name,
            ),
        ]
        requests.append(
            Request(
                "tools/call",
                name,
                100 + index * 50,
                20,
                10,
                events=events,
                error=(name, f"{name} failed: {name}") if index % 2 else None,
                server_session=name if index % 3 == 0 else SERVER_SESSION,
                request_id=index + 1,
            )
        )
    return requests


@cache
def hostile_spool(base: Path) -> Path:
    spool = base / "hostile-spool"
    recording = HostileSpool(spool)
    recording.write(hostile_requests())
    for offset, name in enumerate(NAMES):  # outside any request: log records only
        event = _ev(
            "mcptrace.module.import",
            0,
            mcptrace__module__name=name,
            mcptrace__module__verification="mismatch",
            mcptrace__attribution="none",
        )
        recording.log_event(event, recording.ns(-1000 + offset), None)
    recording.close()
    return spool


@pytest.fixture(scope="module")
def spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_spool(tmp_path_factory.getbasetemp())


def view(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        mcptrace_cmd("view", *args), capture_output=True, env=env or clean_env(), timeout=120
    )


def assert_inert(output: bytes) -> str:
    text = output.decode("utf-8")  # also: no lone surrogate or invalid byte written
    found = sorted({f"U+{ord(c):04X}" for c in FORBIDDEN.findall(text)})
    assert not found, f"raw control characters reached the terminal: {found}"
    return text


def test_terminal_view_writes_nothing_a_terminal_obeys(spool: Path) -> None:
    done = view(str(spool), "--limit", "0")
    assert done.returncode == 0, done.stderr
    text = assert_inert(done.stdout)
    for name in NAMES:  # every name is shown, as its visible form
        assert visible(name, one_line=True) in text, name
    # a name cannot start a line of its own: the forged tree line stays inside its row
    assert not any(
        line.lstrip().startswith("├─ file     read /etc/shadow") for line in text.splitlines()
    )
    assert "\\x1b[1A" in text and "<U+202E>" in text and "\\x9b" in text
    # a tool name cannot pass for another: letters that only look like ASCII are shown
    for lookalike in ("r<U+0435>ad_file", "<U+FF52><U+FF45><U+FF41><U+FF44>_file"):
        assert lookalike in text
    assert "send_<U+0435>mail <U+03BF>n behalf" in text
    assert "<U+1D42B><U+1D41E><U+1D41A><U+1D41D>_file" in text
    # nor a name with no ASCII letter at all whose every letter looks like one
    assert "<U+0435><U+0445><U+0435><U+0441>" in text  # Cyrillic "exec"
    assert "<U+1D41E><U+1D431><U+1D41E><U+1D41C>_<U+1D42B><U+1D42E><U+1D427>" in text
    assert "\u0440\u043e\u0438\u0441\u043a" in text  # Cyrillic letters of their own: kept


def test_every_invisible_character_is_escaped_in_the_terminal_and_the_page() -> None:
    # the whole class, not the corpus: each format, control and default-ignorable character
    hidden = [chr(code) for code in range(0x110000) if FORBIDDEN.match(chr(code))]
    assert len(hidden) > 400
    for char in hidden:
        shown = visible(f"a{char}b", one_line=True)
        assert not FORBIDDEN.search(shown) and shown != f"a{char}b", f"U+{ord(char):04X}"
    # the report's script uses the same class (it is rendered from inert.py's)
    js_class = js_character_class()
    as_python = re.sub(r"\\u\{([0-9a-f]+)\}", lambda m: chr(int(m[1], 16)), js_class)
    assert all(re.fullmatch(f"[{as_python}]", char) for char in hidden)


def test_colours_are_the_only_escape_sequences_on_a_terminal(spool: Path) -> None:
    text = _run_in_terminal(mcptrace_cmd("view", str(spool)), clean_env(TERM="xterm"))
    assert "\x1b[" in text  # colours are on
    without_colours = re.sub(r"\x1b\[(?:0|1|2|3[1-6]|1;31)m", "", text)
    # the terminal turns \n into \r\n: that carriage return is the pty's, not the view's
    assert_inert(without_colours.replace("\r\n", "\n").encode())


def test_json_output_keeps_the_data_and_escapes_the_rest(spool: Path) -> None:
    done = view(str(spool), "--json", "--limit", "0")
    assert done.returncode == 0
    text = assert_inert(done.stdout)
    data = json.loads(text)
    tools = {call["tool"] for session in data["sessions"] for call in session["calls"]}
    assert set(NAMES) <= tools  # exactly the names, escapes undone by the JSON reader
    assert json.loads(json_inert(json.dumps("\u202e\x85\ud800"))) == "\u202e\x85\ud800"


@pytest.mark.slow
def test_follow_output_is_inert(spool: Path, tmp_path: Path) -> None:
    process = subprocess.Popen(
        mcptrace_cmd("view", str(spool), "--follow", "--poll", "0.1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    time.sleep(6)
    process.terminate()
    out, _err = process.communicate(timeout=30)
    text = assert_inert(out)
    assert visible(NAMES[0], one_line=True) in text


def test_error_lines_are_inert(tmp_path: Path) -> None:
    done = view(str(tmp_path / f"missing{NAMES[0]}{NAMES[16]}"))
    assert done.returncode != 0
    assert "no spool at" in assert_inert(done.stderr)


@pytest.mark.slow
@needs_chromium
def test_html_report_renders_every_row_and_runs_nothing_injected(
    spool: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    done = view(str(spool), "--html", str(out), "--limit", "0")
    assert done.returncode == 0, done.stderr
    page = out.read_text(encoding="utf-8")
    script = re.search(
        r'<script type="application/json" id="mcptrace-data">(.*?)</script>', page, re.S
    )
    assert script is not None and "<" not in script[1]
    assert json.loads(script[1])["schema"] == "mcptrace.view/1"
    dom = chromium(tmp_path, "--dump-dom", out.as_uri())
    assert 'data-rendered="true"' in dom, "the page's script did not run to the end"
    assert "data-pwned" not in dom, "an injected script or handler ran"
    names = [r["name"] for r in rows(dom)]
    assert len(names) == len(NAMES)
    for name in NAMES:  # as text, with the same visible escapes as the terminal
        assert any(clipped_name(name, 1 << 20) in shown for shown in names), name
    assert any(n.endswith(" r<U+0435>ad_file") for n in names)  # not "read_file"
    assert any(n.endswith(" <U+0435><U+0445><U+0435><U+0441>") for n in names)  # not "exec"
    assert not FORBIDDEN.search(dom), "a control or bidi character reached the page's text"


def test_view_modules_print_only_through_the_choke_point() -> None:
    # a renderer added later (detections, per-client breakdown, ...) stays inert only if it
    # hands its lines to command.py's InertStream instead of writing on its own
    view_dir = Path(__file__).resolve().parents[2] / "src" / "mcptrace" / "view"
    direct = re.compile(r"\bprint\(|sys\.(?:stdout|stderr)\.write|os\.write\(")
    offenders = [
        f"{path.name}:{number}"
        for path in sorted(view_dir.glob("*.py"))
        if path.name != "inert.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if direct.search(line) and not line.lstrip().startswith(("#", "print(line)", "print(call"))
    ]
    assert not offenders, offenders


# Lines a damaged or hand-edited spool can hold: not JSON, JSON of the wrong shape, and
# requests whose fields have the wrong types.  Each is one malformed line, nothing else lost.
DAMAGED_LINES = [
    b"\xff\xfe\x00 not json at all",
    b'{"resourceSpans": [ cut short',
    b"[]",
    b'"\\ud800"',
    b'{"resourceSpans": 5}',
    b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 7, "traceId": null}]}]}]}',
    b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x", "traceId": "t", "spanId":'
    b' "s", "startTimeUnixNano": "nan", "attributes": [{"key": 5, "value": {}}]}]}]}]}',
    b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": [], "body": 3}]}]}]}',
    b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"eventName": {"a": 1}}]}]}]}',
    # nested deeper than the JSON reader (and Python) recurse: one malformed line, no traceback
    b'{"resourceSpans": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x", "attributes": [{"key": "k",'
    b' "value": ' + b'{"arrayValue": {"values": [' * 3000 + b"{}" + b"]}}" * 3000 + b"}]}]}]}]}",
]


def test_damaged_lines_and_huge_names_neither_crash_nor_blind_the_view(tmp_path: Path) -> None:
    spool = tmp_path / "damaged"
    recording = RecordingSpool(spool)
    huge = "call_" + "\x1b[2K" * 3 + "A" * 5000
    recording.write(
        [
            Request("tools/call", huge, 0, 12, 10, error=("ValueError", "boom")),
            Request("tools/call", "after_the_huge_one", 20, 6, 5),
        ]
    )
    recording.close()
    for path in spool.glob("*.jsonl"):
        lines = path.read_bytes().splitlines(keepends=True)
        path.write_bytes(b"".join([*lines[:1], *(x + b"\n" for x in DAMAGED_LINES), *lines[1:]]))
    done = view(str(spool), "--limit", "0")
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    text = assert_inert(done.stdout)
    huge_line = next(line for line in text.splitlines() if "call_\\x1b[2K" in line)
    assert "ERR" in huge_line and len(huge_line) < 300  # the status stays on screen
    assert "(+" in huge_line and "chars)" in huge_line
    assert "after_the_huge_one" in text
    # every damaged line is counted where it is read (a traces file ignores log requests)
    skipped = re.search(r"(\d+) malformed spool lines skipped", text)
    assert skipped is not None and int(skipped[1]) == 18
    for args in (["--json"], ["--html", str(tmp_path / "r.html")]):
        done = view(str(spool), *args)
        assert done.returncode == 0, done.stderr


def _limited_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


@pytest.mark.slow
def test_planted_spool_files_neither_hang_nor_exhaust_the_view(tmp_path: Path) -> None:
    # The program being watched can write in its spool directory: a FIFO (the view would wait
    # forever), a directory, links to /dev/zero (an endless line), a line of 17 MiB.
    spool = tmp_path / "planted"
    recording = RecordingSpool(spool)
    recording.write([Request("tools/call", "kept_call", 0, 12, 10)])
    recording.close()
    good = next(spool.glob("traces-*.jsonl"))
    os.mkfifo(spool / "traces-20990101T000000-1-0001.jsonl")
    os.mkfifo(spool / "logs-20990101T000000-1-0001.jsonl")
    (spool / "traces-20990101T000000-2-0001.jsonl").mkdir()
    os.symlink("/dev/zero", spool / "traces-20990101T000000-3-0001.jsonl")
    os.symlink("/dev/zero", spool / "logs-20990101T000000-3-0001.jsonl")
    long_line = spool / "traces-20990101T000000-4-0001.jsonl"
    long_line.write_bytes(
        b"x" * (17 << 20) + b"\n" + good.read_bytes().replace(b"kept_call", b"after_long")
    )
    for args in ([], ["--json"], ["--html", str(tmp_path / "r.html")], ["--trace", "0"]):
        done = subprocess.run(
            mcptrace_cmd("view", str(spool), "--limit", "0", *args),
            capture_output=True,
            env=clean_env(),
            timeout=120,
            preexec_fn=_limited_memory,
        )
        assert done.returncode in (0, 1) and b"Traceback" not in done.stderr, done.stderr[-2000:]
        if not args:
            text = assert_inert(done.stdout)
            assert "kept_call" in text and "after_long" in text
            assert "5 spool files skipped: not plain files" in text
            assert "1 malformed spool lines skipped" in text
    follow = subprocess.Popen(
        mcptrace_cmd("view", str(spool), "--follow", "--poll", "0.1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
        preexec_fn=_limited_memory,
    )
    time.sleep(6)
    follow.terminate()
    out, err = follow.communicate(timeout=30)
    assert b"Traceback" not in err, err[-2000:]
    assert "kept_call" in assert_inert(out)


def test_a_cut_lookalike_name_keeps_the_views_own_cut_mark() -> None:
    # the mark after a cut is the view's, not the name's: it is not shown as <U+2026>
    shown = clipped_name("r\u0435ad_file" * 20, 80)
    assert shown.startswith("r<U+0435>ad_file") and shown.endswith("…(+100 chars)")
    assert clipped_name("ok\u2026(+3 chars) r\u0435ad", 80) == "ok<U+2026>(+3 chars) r<U+0435>ad"
