"""The HTML report, rendered by a real headless Chromium (Debian's ``chromium`` package)."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest

from mcptrace.cli import main

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / ".ci-artifacts"
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is absent: install Debian's package (apt-get install -y chromium)",
)


@pytest.fixture(scope="module")
def report(recorded_spool: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["view", str(recorded_spool), "--html", str(out)]) == 0
    return out


def chromium(tmp_path: Path, *args: str) -> str:
    result = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def rows(dom: str) -> list[dict[str, str]]:
    """The request table as the page's JS rendered it."""
    found = []
    for match in re.finditer(r'<tr class="call-row([^"]*)"[^>]*>(.*?)</tr>', dom, re.S):
        cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", match[2], re.S)]
        found.append(
            {
                "class": match[1].strip(),
                "name": cells[1],
                "status": cells[2],
                "events": cells[4],
            }
        )
    return found


def test_report_is_self_contained(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    # nothing to fetch: no external references, and a CSP that forbids any fetch anyway
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!#)""", page)
    assert "http://" not in page and "https://" not in page
    assert "default-src 'none'" in page
    data = re.search(
        r'<script type="application/json" id="mcptrace-data">(.*?)</script>', page, re.S
    )
    assert data is not None
    embedded = json.loads(data[1])
    assert embedded["schema"] == "mcptrace.view/1"
    calls = embedded["sessions"][0]["calls"]
    fetch = next(c for c in calls if c["tool"] == "fetch_url")
    assert {"category": "network", "label": "resolve example.org", "offset_ms": 2.5} in fetch[
        "marks"
    ]
    # the timeline is SVG drawn in Python: one bar per request, one mark per event
    assert page.count('<g class="call ') == 8
    assert page.count('<circle class="mark cat-') == 18


@needs_chromium
def test_report_renders_in_chromium(report: Path, tmp_path: Path) -> None:
    dom = chromium(tmp_path, "--dump-dom", report.as_uri())
    assert 'data-rendered="true"' in dom, "the page's script did not run to the end"
    table = rows(dom)
    assert [r["name"] for r in table] == [
        "initialize",
        "tools/list",
        "tools/call read_file",
        "tools/call fetch_url",
        "tools/call run_script",
        "tools/call write_report",
        "resources/read x://y",
        "tools/call read_file",
    ]
    by_name = {r["name"]: r for r in table}
    assert by_name["tools/call fetch_url"]["events"] == "network 4 · import 1"
    assert by_name["tools/call write_report"]["events"] == "file 250 · dropped 247"
    assert by_name["tools/call run_script"]["status"] == "tool_error"
    assert "hidden" not in "".join(r["class"] for r in table)
    cards = {
        html.unescape(name): html.unescape(value)
        for value, name in re.findall(
            r'<div class="value">(.*?)</div><div class="name">(.*?)</div>', dom
        )
    }
    assert cards["tool calls"] == "5"
    assert cards["error rate"] == "40.0%"
    assert cards["p95 duration"] == "140.0 ms"
    assert cards["hosts contacted"] == "2"
    assert cards["files written"] == "2"
    assert cards["processes spawned"] == "1"
    assert cards["module mismatches"] == "2"
    assert cards["policy violations"] == "2"
    assert "<li>example.org:443</li>" in dom
    # the side panel opens on the first failed request that did something
    panel = dom[dom.index('<aside id="panel">') :]
    assert "<h3>tools/call run_script</h3>" in panel
    assert "process spawn /bin/sh -c 'ls -l /tmp'" in html.unescape(panel)


@pytest.mark.slow
@needs_chromium
def test_report_search_and_filters(report: Path, tmp_path: Path) -> None:
    dom = chromium(tmp_path, "--dump-dom", report.as_uri() + "#q=example.org")
    visible = [r["name"] for r in rows(dom) if "hidden" not in r["class"]]
    assert visible == ["tools/call fetch_url"]
    assert "1 of 8 requests" in dom
    dom = chromium(tmp_path, "--dump-dom", report.as_uri() + "#cat=policy&errors=1")
    visible = [r["name"] for r in rows(dom) if "hidden" not in r["class"]]
    assert visible == ["tools/call run_script", "tools/call read_file"]


@needs_chromium
def test_report_screenshot(report: Path, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "view-report.png"
    target.unlink(missing_ok=True)
    chromium(
        tmp_path,
        f"--screenshot={target}",
        "--window-size=1400,900",
        "--hide-scrollbars",
        "--virtual-time-budget=3000",  # let layout and the script settle before the capture
        report.as_uri(),
    )
    data = target.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000


def test_sessions_beyond_the_limit_keep_their_header(recorded_spool: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert main(["view", str(recorded_spool), "--html", str(out), "--limit", "1"]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.count('<section class="session"') == 2
    assert page.count('<g class="call ') == 1
    assert "older than the requests shown (--limit): they count in the summary only" in page
