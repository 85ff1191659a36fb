"""Spool lines (OTLP/JSON export requests) to the flat records of ``spool_reader``.

``spool_reader`` reads whole files; ``view`` also needs single lines: the new lines of a
followed spool, and only the lines that can hold a trace asked for with ``--trace``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mcptrace.export.spool_reader import (
    ReadStats,
    SpanRecord,
    complete_lines,
    logs_in,
    plain_files,
    spans_in,
)


def parse_line(line: bytes) -> dict[str, Any]:
    try:
        tree = json.loads(line)
    except (ValueError, RecursionError):  # not JSON, or nested thousands deep
        return {}
    return tree if isinstance(tree, dict) else {}


# the per-request parsing is spool_reader's; the view reads single lines with it
spans_of = spans_in
logs_of = logs_in


def iter_spans_mentioning(spool: Path, needle: str, stats: ReadStats) -> Iterator[SpanRecord]:
    """The spans of the lines that contain ``needle`` (a trace id or its prefix) anywhere:
    a cheap byte search skips the JSON parsing of every other line of a big spool."""
    wanted = needle.encode("ascii", "replace")
    for path, handle in plain_files(spool, "traces", stats):
        for raw in complete_lines(handle, stats):
            stats.lines += 1
            if wanted not in raw:
                continue
            tree = parse_line(raw)
            if not tree:
                stats.malformed += 1
            yield from spans_of(tree, path.name, stats)
