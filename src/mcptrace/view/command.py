"""``mcptrace view``: options → filters → terminal tree, JSON, HTML report or follow mode."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TextIO

from mcptrace.view.inert import InertStream, json_inert
from mcptrace.view.model import (
    CATEGORIES,
    DEFAULT_LIMIT,
    Call,
    Filters,
    build_model,
    parse_since,
)

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "spool_dir",
        nargs="?",
        metavar="SPOOL",
        help="spool directory (default: MCPTRACE_SPOOL_DIR, else ~/.local/state/mcptrace/spool)",
    )
    parser.add_argument("--tool", metavar="GLOB", help="only tools/call of tools matching GLOB")
    parser.add_argument(
        "--category",
        action="append",
        metavar="CATEGORY",
        help=f"only events of CATEGORY ({'|'.join(CATEGORIES)}); repeat or comma-separate",
    )
    parser.add_argument(
        "--since",
        metavar="WHEN",
        help="only requests since a duration ago (30s, 10m, 2h, 1d) or an ISO time (UTC)",
    )
    parser.add_argument("--trace", metavar="ID", help="only the trace with this id (or prefix)")
    parser.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"show the N most recent requests in detail (default {DEFAULT_LIMIT}; 0: all); "
        "totals and the summary always cover every request",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="JSON (schema mcptrace.view/1)")
    output.add_argument("--html", metavar="OUT.html", help="write a self-contained HTML report")
    parser.add_argument(
        "--follow", action="store_true", help="keep printing requests as they arrive (Ctrl-C)"
    )
    parser.add_argument("--poll", type=float, default=0.5, help=argparse.SUPPRESS)


def filters_from(args: argparse.Namespace) -> Filters:
    categories: set[str] = set()
    for value in args.category or []:
        for name in value.split(","):
            name = name.strip().lower()
            if name not in CATEGORIES:
                raise ValueError(f"--category {name!r}: expected one of {', '.join(CATEGORIES)}")
            categories.add(name)
    since = parse_since(args.since) if args.since else None
    trace = args.trace.strip().lower() if args.trace else None
    return Filters(tool=args.tool, categories=frozenset(categories), since_ns=since, trace=trace)


def _write(stream: InertStream, text: str) -> None:
    stream.write_line(text)


def _error(message: str) -> None:
    """One line on stderr; it may quote spool content, so it is made inert too."""
    InertStream(sys.stderr).write_line(f"mcptrace view: {message}")


def run(args: argparse.Namespace, spool: Path, out: TextIO | None = None) -> int:
    from mcptrace.view.terminal import Style

    # The one choke point: everything this command prints passes InertStream (view/inert.py).
    stream = InertStream(out or sys.stdout)
    try:
        filters = filters_from(args)
    except ValueError as exc:
        _error(str(exc))
        return EXIT_USAGE
    if args.limit < 0:
        _error("--limit must be 0 (no limit) or more")
        return EXIT_USAGE
    if args.follow and args.html:
        _error("--follow prints to the terminal; drop --html")
        return EXIT_USAGE
    if not spool.is_dir() and not args.follow:
        _error(
            f"no spool at {spool}; run a server with `mcptrace run` first, "
            "or pass the spool directory (mcptrace view DIR)"
        )
        return EXIT_ERROR
    wanted = tuple(c for c in CATEGORIES if not filters.categories or c in filters.categories)
    style = Style.for_stream(stream)
    try:
        if args.follow:
            return _follow(spool, filters, args, stream, style, wanted)
        model = build_model(spool, filters, args.limit)
        if args.json:
            from mcptrace.view.jsonout import model_dict

            text = json.dumps(model_dict(model, filters), indent=2, ensure_ascii=False)
            stream.write(json_inert(text) + "\n")
        elif args.html:
            from mcptrace.view.html import write_report

            target = Path(args.html)
            try:
                write_report(model, filters, target)
            except OSError as exc:
                _error(f"cannot write {target}: {exc.strerror or exc}")
                return EXIT_ERROR
            requests = sum(s.requests for s in model.sessions)
            _error(f"wrote {target} ({requests} requests)")
        else:
            from mcptrace.view.terminal import render_tree

            for line in render_tree(model, style, wanted):
                _write(stream, line)
        stream.flush()  # here, not at exit, so a closed pipe is handled below
    except BrokenPipeError:  # `mcptrace view | head`: the reader has seen enough
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the flush at exit does not complain
        return EXIT_OK
    return EXIT_OK


def _follow(
    spool: Path,
    filters: Filters,
    args: argparse.Namespace,
    stream: InertStream,
    style: object,
    wanted: tuple[str, ...],
) -> int:
    from mcptrace.view.follow import follow
    from mcptrace.view.jsonout import call_dict
    from mcptrace.view.terminal import Style, activity_lines, call_line

    assert isinstance(style, Style)

    def emit(call: Call) -> None:
        session = next((s.session_id for s in (call.client, call.server) if s and s.session_id), "")
        if args.json:
            record = call_dict(call, wanted)
            record["session"] = session or None
            _write(stream, json_inert(json.dumps(record, ensure_ascii=False)))
        else:
            suffix = style.paint(f"  session {session[:8]}", "dim") if session else ""
            _write(stream, call_line(call, style, 28) + suffix)
            error = None
            if call.failed:
                error = (call.error_type or "error") + (
                    f": {call.error_message}" if call.error_message else ""
                )
            lines = activity_lines(call.activity, style, wanted, error)
            for index, line in enumerate(lines):
                branch = style.last if index == len(lines) - 1 else style.branch
                _write(stream, "   " + branch + line)
        stream.flush()

    follow(spool, filters, emit, poll_seconds=args.poll)
    return EXIT_OK
