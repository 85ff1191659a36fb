"""The terminal tree: session → call → what the call did.

Usage::

    style = Style.for_stream(sys.stdout)
    for line in render_tree(model, style):
        print(line)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TextIO

from mcptrace.view.inert import STYLE_MARK, InertStream, clipped, clipped_name
from mcptrace.view.model import CATEGORIES, Activity, Call, Detail, Model, Session, Summary

_CODES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "bold_red": "1;31",
}
OUTSIDE_LISTED = 10  # noteworthy lines listed for activity outside any request
# the longest tool name, target or error shown (the rest is counted): data from the watched
# program must not push a call's status or the lines after it off the screen
NAME_LIMIT = 80
TEXT_LIMIT = 400
CATEGORY_COLOUR = {
    "file": "blue",
    "network": "cyan",
    "process": "magenta",
    "code": "yellow",
    "native": "yellow",
    "import": "green",
    "policy": "bold_red",
    "detection": "bold_red",
    "tamper": "bold_red",
}


@dataclass(frozen=True)
class Style:
    colour: bool = False
    unicode: bool = True
    # what starts a colour code: ESC, or for an InertStream its mark (only it writes ESC)
    escape: str = "\x1b"

    @classmethod
    def for_stream(
        cls, stream: TextIO | InertStream, environ: dict[str, str] | None = None
    ) -> Style:
        """ANSI colours only on a terminal and when NO_COLOR (no-color.org) is unset."""
        env = os.environ if environ is None else environ
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        try:
            "├─⇄×…".encode(getattr(stream, "encoding", None) or "utf-8")
            unicode = True
        except (UnicodeEncodeError, LookupError):
            unicode = False
        return cls(
            colour=tty and not env.get("NO_COLOR") and env.get("TERM") != "dumb",
            unicode=unicode,
            escape=STYLE_MARK if isinstance(stream, InertStream) else "\x1b",
        )

    def paint(self, text: str, name: str) -> str:
        if not self.colour or not text:
            return text
        return f"{self.escape}[{_CODES[name]}m{text}{self.escape}[0m"

    @property
    def branch(self) -> str:
        return "├─ " if self.unicode else "|- "

    @property
    def last(self) -> str:
        return "└─ " if self.unicode else "`- "

    @property
    def pipe(self) -> str:
        return "│  " if self.unicode else "|  "

    @property
    def times(self) -> str:
        return "×" if self.unicode else "x"

    @property
    def joined(self) -> str:
        return "⇄" if self.unicode else "<->"

    @property
    def ellipsis(self) -> str:
        return "…" if self.unicode else "..."


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def clock(ns: int) -> str:
    moment = datetime.fromtimestamp(ns / 1e9, timezone.utc)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def stamp(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def duration(ms: float) -> str:
    if ms >= 60_000:
        return f"{ms / 60_000:.1f} min"
    if ms >= 10_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms:.1f} ms"


def short(identifier: str) -> str:
    return identifier[:8]


def session_header(session: Session, style: Style) -> list[str]:
    ids = f" {style.joined} ".join(clipped_name(i, NAME_LIMIT) for i in session.session_ids)
    services = " → ".join(clipped_name(s, NAME_LIMIT) if s else "?" for s in session.services)
    facts = [services]
    if session.clients:
        facts.append("client " + ", ".join(clipped_name(c, NAME_LIMIT) for c in session.clients))
    if session.transport:
        facts.append(session.transport)
    facts.append(f"{stamp(session.start_ns)} → {clock(session.end_ns)}")
    count = _plural(session.requests, "request")
    errors = session.errors
    facts.append(count + (f", {errors} failed" if errors else ""))
    return [
        style.paint("session ", "bold") + style.paint(ids or "(no session id)", "bold"),
        "  " + style.paint(" · ".join(facts), "dim"),
    ]


def call_line(call: Call, style: Style, name_width: int) -> str:
    name = clipped_name(call.name, NAME_LIMIT).ljust(name_width)
    status = style.paint("ERR", "red") if call.failed else style.paint("ok ", "green")
    parts = [
        style.paint(clock(call.start_ns), "dim"),
        style.paint(name, "bold") if call.is_tool_call else name,
        status,
        duration(call.duration_ms).rjust(9),
    ]
    if call.client and call.server:
        joined = f"client {style.joined} server {duration(call.server.duration_ms)}"
        parts.append(style.paint(joined, "dim"))
    elif call.server:
        parts.append(style.paint("server span only", "dim"))
    else:
        parts.append(style.paint("client span only", "dim"))
    parts.append(style.paint(f"trace {short(call.trace_id)}", "dim"))
    return "  ".join(parts)


def _noteworthy(detail: Detail) -> bool:
    """Outside requests, start-up noise (imports, reads, compiles) is counted, not listed."""
    return detail.flagged and detail.category != "code"


def activity_lines(
    activity: Activity,
    style: Style,
    categories: Iterable[str],
    error: str | None = None,
    only_noteworthy: bool = False,
) -> list[str]:
    wanted = tuple(categories)
    lines: list[str] = []
    if error:
        lines.append(style.paint("error".ljust(8), "red") + " " + clipped(error, TEXT_LIMIT))
    details = list(activity.details_in(wanted))
    if only_noteworthy:
        listed = [d for d in details if _noteworthy(d)][:OUTSIDE_LISTED]
        not_listed = len(details) - len(listed)
        details = listed
    # the tool's own first, then what library machinery did for it (dimmed, never a warning)
    for detail in sorted(details, key=lambda d: bool(d.library)):
        count = f" {style.times}{detail.count}" if detail.count > 1 else ""
        if detail.library:
            target = clipped(detail.target or "-", TEXT_LIMIT)
            text = f"{detail.category.ljust(8)} {detail.action} {target}{count}"
            lines.append(style.paint(f"{text} · {detail.library}", "dim"))
            continue
        label = style.paint(detail.category.ljust(8), CATEGORY_COLOUR[detail.category])
        action = detail.action.ljust(11)
        target = clipped(detail.target or "-", TEXT_LIMIT)
        if detail.flagged:
            target = style.paint(target, "yellow")
        lines.append(f"{label} {action} {target}{count}")
    if only_noteworthy:
        if not_listed or any(activity.omitted.values()):
            lines.append(
                style.paint(
                    f"{style.ellipsis} start-up and background activity not listed "
                    "(mcptrace view --json has it)",
                    "dim",
                )
            )
        wanted_omitted: tuple[str, ...] = ()
    else:
        wanted_omitted = wanted
    for category in wanted_omitted:
        if activity.omitted.get(category):
            lines.append(
                style.paint(
                    f"{category.ljust(8)} {style.ellipsis} {activity.omitted[category]} more "
                    "events with other targets",
                    "dim",
                )
            )
    counts = [f"{c} {activity.counts[c]}" for c in wanted if activity.counts.get(c)]
    if counts or activity.dropped:
        total = sum(activity.counts.get(c, 0) for c in wanted)
        text = f"{total} event{'s' if total != 1 else ''}: " + " · ".join(counts)
        if activity.dropped:
            text += f" · dropped {activity.dropped}"
        lines.append(style.paint(text, "dim"))
    return lines


def _children(lines: list[str], indent: str, style: Style) -> Iterator[str]:
    for index, line in enumerate(lines):
        branch = style.last if index == len(lines) - 1 else style.branch
        yield indent + branch + line


def render_session(
    session: Session, style: Style, categories: Iterable[str] = CATEGORIES, limit: int = 0
) -> Iterator[str]:
    wanted = tuple(categories)
    yield from session_header(session, style)
    calls = session.calls
    if session.not_shown:
        branch = style.last if not calls else style.branch
        yield branch + style.paint(
            f"{style.ellipsis} {_plural(session.not_shown, 'earlier request')} not shown "
            f"(--limit {limit}; 0 shows all)",
            "dim",
        )
    if not calls:
        return
    name_width = min(40, max(len(c.name) for c in calls))
    for index, call in enumerate(calls):
        last = index == len(calls) - 1
        yield (style.last if last else style.branch) + call_line(call, style, name_width)
        error = None
        if call.failed:
            error = call.error_type or "error"
            if call.error_message:
                error += f": {call.error_message}"
        children = activity_lines(call.activity, style, wanted, error)
        yield from _children(children, "   " if last else style.pipe, style)


def summary_lines(summary: Summary, style: Style) -> list[str]:
    rate = f"{summary.error_rate:.0%}"
    p95 = duration(summary.p95_duration_ms) if summary.p95_duration_ms is not None else "-"
    head = (
        f"{_plural(summary.requests, 'request')}, {_plural(summary.tool_calls, 'tool call')}, "
        f"{summary.tool_errors} failed ({rate}), p95 {p95}"
    )
    facts = [
        f"hosts {len(summary.hosts_contacted)}",
        f"files written {len(summary.files_written)}",
        f"processes {len(summary.processes_spawned)}",
        f"module mismatches {len(summary.module_mismatches)}",
        f"violations {sum(v['count'] for v in summary.violations)}",
    ]
    if summary.dropped:
        facts.append(f"dropped {summary.dropped}")
    lines = [style.paint("summary ", "bold") + head, "  " + " · ".join(facts)]
    named = [c for c in summary.clients if c["client"]]
    if named:  # who called: per client, as the servers saw it
        per_client = [
            f"{c['client']} {_plural(c['requests'], 'request')}"
            + (f" ({c['errors']} failed)" if c["errors"] else "")
            for c in summary.clients
            if c["client"]
        ]
        lines.append("  clients: " + " · ".join(per_client))
    return lines


def detection_lines(summary: Summary, style: Style) -> list[str]:
    """The verdicts first: every detection, most severe first, with the tool it was in."""
    if not summary.detections:
        return []
    total = sum(found["count"] for found in summary.detections)
    lines = [style.paint(f"detections ({total})", "bold")]
    for found in summary.detections:
        severity = style.paint(
            found["severity"].ljust(8),
            "bold_red" if found["severity"] in ("critical", "error") else "yellow",
        )
        count = f" {style.times}{found['count']}" if found["count"] > 1 else ""
        tool = clipped_name(found["tool"], NAME_LIMIT) if found["tool"] else "?"
        lines.append(f"  {severity} {tool}: {found['finding']}{count}")
    return lines


def render_tree(
    model: Model, style: Style, categories: Iterable[str] = CATEGORIES
) -> Iterator[str]:
    wanted = tuple(categories)
    if not model.sessions and not model.outside:
        yield f"no MCP requests in {model.spool}" + (
            f" ({model.stats.malformed} malformed lines skipped)" if model.stats.malformed else ""
        )
        return
    if "detection" in wanted:
        detections = detection_lines(model.summary, style)
        if detections:
            yield from detections
            yield ""
    for session in model.sessions:
        yield from render_session(session, style, wanted, model.limit)
        yield ""
    for outside in model.outside:
        lines = activity_lines(outside.activity, style, wanted, only_noteworthy=True)
        if not lines:
            continue
        yield style.paint("outside any request", "bold") + style.paint(
            f"  {outside.service or '?'}", "dim"
        )
        yield from _children(lines, "", style)
        yield ""
    yield from summary_lines(model.summary, style)
    if model.stats.malformed:
        yield style.paint(f"{model.stats.malformed} malformed spool lines skipped", "yellow")
    if model.stats.not_plain_files:
        yield style.paint(
            f"{model.stats.not_plain_files} spool files skipped: not plain files"
            " (a FIFO, device, directory or symbolic link under a spool file's name)",
            "yellow",
        )
