"""``mcptrace view --follow``: print requests as a running server writes them to the spool.

Usage::

    follow(spool_dir, Filters(), emit=print_call, poll_seconds=0.5)   # until Ctrl-C

Only complete lines are read (a writer appends whole lines; a line without its newline is
being written and is read on a later poll). A request is printed once both of its spans
are in, or ``grace_seconds`` after the first one arrived; printed requests are forgotten, so
memory stays flat however long the server runs.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path

from mcptrace.export.spool_reader import (
    MAX_READ_LINE,
    LogRecordEntry,
    SpanRecord,
    open_plain_file,
    spool_files,
)
from mcptrace.view.model import Aggregator, Call, Filters
from mcptrace.view.records import logs_of, parse_line, spans_of

REMEMBERED_SPANS = 10_000  # span ids of printed requests, to recognise a late other half


class SpoolTail:
    """The complete lines appended to the spool's trace and log files since the last poll."""

    def __init__(self, spool: Path) -> None:
        self.spool = spool
        self.offsets: dict[Path, int] = {}

    def _new_lines(self, path: Path) -> Iterator[bytes]:
        offset = self.offsets.get(path, 0)
        try:  # a FIFO or a link to a device under a spool file's name is never read
            with open_plain_file(path) as handle:
                handle.seek(offset)
                data = handle.read(MAX_READ_LINE)
        except OSError:
            return
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) == MAX_READ_LINE:  # no line is this long: skip it, unkept
                self.offsets[path] = offset + len(data)
            return
        self.offsets[path] = offset + end + 1
        yield from data[: end + 1].splitlines()

    def poll(self) -> tuple[list[SpanRecord], list[LogRecordEntry]]:
        spans: list[SpanRecord] = []
        logs: list[LogRecordEntry] = []
        for path in spool_files(self.spool, "traces"):
            for line in self._new_lines(path):
                spans.extend(spans_of(parse_line(line), path.name))
        for path in spool_files(self.spool, "logs"):
            for line in self._new_lines(path):
                logs.extend(logs_of(parse_line(line)))
        return spans, logs


class FollowState:
    """Requests seen but not yet printed; settles them as their other half arrives."""

    def __init__(self, filters: Filters, grace_seconds: float) -> None:
        self.aggregator = Aggregator(filters)
        self.filters = filters
        self.grace_ns = int(grace_seconds * 1e9)
        self.first_seen: dict[int, int] = {}  # id(call) -> monotonic ns
        self.printed: OrderedDict[str, None] = OrderedDict()

    def add(self, spans: list[SpanRecord], now_ns: int) -> None:
        for span in spans:
            if span.span_id in self.printed or span.parent_span_id in self.printed:
                continue  # the late other half of a request already printed
            call = self.aggregator.add_span(span)
            if call is not None:
                self.first_seen.setdefault(id(call), now_ns)
        aggregator = self.aggregator
        for span_id, (_service, activity) in list(aggregator.orphans.items()):
            call = aggregator.enclosing_call(span_id)
            if call is not None:
                call.activity.merge(activity)
                del aggregator.orphans[span_id]
        # long runs: links and events of spans whose request is long printed are let go
        if len(aggregator.orphans) > REMEMBERED_SPANS:
            aggregator.orphans.clear()
        if len(aggregator.parent_of) > 10 * REMEMBERED_SPANS:
            aggregator.parent_of.clear()

    def settled(self, now_ns: int, flush: bool = False) -> list[Call]:
        ready: list[Call] = []
        awaiting = {id(call) for call in self.aggregator.awaiting_client.values()}
        for call in list(self.aggregator.unique_calls()):
            complete = call.client is not None and call.server is not None
            lone_root = call.client is None and call.server is not None and id(call) not in awaiting
            waited = now_ns - self.first_seen.get(id(call), now_ns) >= self.grace_ns
            if complete or lone_root or waited or flush:
                ready.append(call)
        for call in ready:
            self._forget(call)
        return sorted(
            (c for c in ready if not c.is_notification and self.filters.keeps_call(c)),
            key=lambda c: c.start_ns,
        )

    def _forget(self, call: Call) -> None:
        self.first_seen.pop(id(call), None)
        self.aggregator.forget(call)
        for span_id in (call.client and call.client.span_id, call.server and call.server.span_id):
            if span_id:
                self._remember(span_id)
        if call.client is None and call.parent_id:
            self._remember(call.parent_id)

    def _remember(self, span_id: str) -> None:
        self.printed[span_id] = None
        while len(self.printed) > REMEMBERED_SPANS:
            self.printed.popitem(last=False)


def follow(
    spool: Path,
    filters: Filters,
    emit: Callable[[Call], None],
    poll_seconds: float = 0.5,
    grace_seconds: float = 3.0,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Print what is in the spool, then what is appended to it, until interrupted."""
    tail = SpoolTail(spool)
    state = FollowState(filters, grace_seconds)
    try:
        while not should_stop():
            spans, _logs = tail.poll()
            now = time.monotonic_ns()
            state.add(spans, now)
            for call in state.settled(now):
                emit(call)
            time.sleep(poll_seconds)
    except KeyboardInterrupt:
        pass
    for call in state.settled(time.monotonic_ns(), flush=True):
        emit(call)
