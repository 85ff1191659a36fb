"""A sensor record is built once: its detection, span event and log record share one redacted
attribute dict, the log record reaches every processor of the logger (the user's too), and
its OTLP/JSON attribute list is encoded once for both signals.

Real SDK providers and processors; the log path is compared with ``Logger.emit`` itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context
from opentelemetry.sdk._logs import (
    LoggerProvider,
    LogRecordLimits,
    LogRecordProcessor,
    ReadWriteLogRecord,
)
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import SpanContext, TraceFlags

from mcptrace.export.direct_logs import DirectLogger
from mcptrace.export.otlp_json import encode_lines
from mcptrace.export.otlp_tree import attributes as encode_attributes
from mcptrace.export.shared import SharedAttributes
from mcptrace.record import vocabulary as ev
from mcptrace.record.observation import Observation
from mcptrace.record.recorder import ATTRIBUTES, Recorder, record_attributes
from mcptrace.record.state import SpanState

SECRET = "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"


class Tagging(LogRecordProcessor):
    """A user's processor: sees every record first and changes its attributes."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        self.seen.append(str(log_record.log_record.event_name))
        attributes = log_record.log_record.attributes
        assert attributes is not None
        attributes["user.tag"] = "mine"  # type: ignore[index]

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _provider(limits: LogRecordLimits | None = None) -> LoggerProvider:
    return LoggerProvider(
        resource=Resource({"service.name": "record-once"}),
        shutdown_on_exit=False,
        log_record_limits=limits,
    )


def _recorded(count: int) -> tuple[Recorder, SpanState]:
    recorder = Recorder(span_events_per_category=4)
    state = SpanState(SpanContext(7, 9, False, TraceFlags(1)), is_mcp=True)
    for index in range(count):
        path = f"/tmp/work/{SECRET}/file-{index}.txt"
        observation = Observation(
            ev.FILE_OPEN, ev.FILE, {ev.FILE_PATH: path, ev.FILE_ACCESS: "read"}, "open"
        )
        recorder.record(observation, state, ev.CONTEXT, 1234)
    return recorder, state


def test_span_event_and_log_record_share_one_redacted_build() -> None:
    provider = _provider()
    tagging, memory = Tagging(), InMemoryLogRecordExporter()
    provider.add_log_record_processor(tagging)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    recorder, state = _recorded(3)
    recorder.pump._logger = provider.get_logger(ev.SENSOR_SCOPE)

    additions = recorder.span_additions(state)
    assert additions is not None
    events = [event for event in additions.events if event.name == ev.FILE_OPEN]
    records = [record for record, _ in recorder.pending]
    assert len(events) == len(records) == 3
    for event, record in zip(events, records, strict=True):
        assert len(record) == ATTRIBUTES + 1  # sealed at span end, built once, kept
        assert event.attributes is record_attributes(record)
    recorder.pump.flush()

    exported = memory.get_finished_logs()
    assert tagging.seen == [ev.FILE_OPEN] * 3  # the user's processor saw every record
    assert len(exported) == 3
    for event, log in zip(events, exported, strict=True):
        log_attributes = dict(log.log_record.attributes or {})
        assert log_attributes.pop("user.tag") == "mine"
        assert log_attributes == dict(event.attributes or {})
        assert "user.tag" not in (event.attributes or {})  # the span event is untouched
        assert SECRET not in json.dumps(log_attributes)  # redacted, in both
        assert log.log_record.trace_id == 7 and log.log_record.span_id == 9
        assert log.log_record.event_name == ev.FILE_OPEN
        assert log.instrumentation_scope is not None
        assert log.instrumentation_scope.name == ev.SENSOR_SCOPE


def _exported(
    provider_limits: LogRecordLimits | None, attributes: dict[str, Any], direct: bool
) -> Sequence[Any]:
    provider = _provider(provider_limits)
    memory = InMemoryLogRecordExporter()
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger(ev.SENSOR_SCOPE)
    fields: dict[str, Any] = {
        "timestamp": 1_000,
        "observed_timestamp": 2_000,
        "context": Context(),
        "severity_number": SeverityNumber.WARN,
        "severity_text": "WARN",
        "attributes": SharedAttributes(attributes),
        "event_name": "mcptrace.process.spawn",
    }
    if direct:
        emitter = DirectLogger.of(logger)
        assert emitter is not None
        emitter.emit(**fields)
    else:
        logger.emit(**fields)
    return memory.get_finished_logs()


def _as_json(logs: Sequence[Any]) -> Any:
    return [json.loads(line) for line in encode_lines("logs", logs, 1 << 20)]


def test_the_direct_path_exports_what_logger_emit_exports() -> None:
    plain = {"process.executable.path": "/bin/sh", "mcptrace.process.shell": True, "n": 3}
    odd = {**plain, "process.command_args": ["sh", "-c", "x"], "bad": None, "f": 1.5}
    long = {**plain, "process.executable.path": "/usr/local/bin/a-long-name"}
    cases = [
        (None, plain),
        (None, odd),  # a list and a None: the SDK's own cleaning applies
        (LogRecordLimits(max_attribute_length=6), long),  # truncated, as the SDK does
        (LogRecordLimits(max_attributes=2), plain),  # dropped and counted
    ]
    for limits, attributes in cases:
        direct = _exported(limits, attributes, direct=True)
        through_sdk = _exported(limits, attributes, direct=False)
        assert len(direct) == len(through_sdk) == 1
        assert direct[0].dropped_attributes == through_sdk[0].dropped_attributes
        assert _as_json(direct) == _as_json(through_sdk), (limits, attributes)


def test_a_logger_that_is_not_the_sdks_takes_its_own_emit() -> None:
    class Other:
        def emit(self, **_: Any) -> None:
            pass

    assert DirectLogger.of(Other()) is None


def test_the_attribute_list_is_encoded_once_and_forgotten_when_changed() -> None:
    built = SharedAttributes({ev.FILE_PATH: "/srv/a.txt", ev.THREAD_ID: 5, "ok": True})
    copy = built.shared_copy()
    first = encode_attributes(built)
    assert encode_attributes(copy) is first  # the log record's copy reuses the span event's
    assert first == encode_attributes(dict(built))  # the same list a plain dict gives
    copy["user.tag"] = "x"
    changed = encode_attributes(copy)
    assert changed is not first
    assert {"key": "user.tag", "value": {"stringValue": "x"}} in changed
    assert encode_attributes(built) is first  # the other keeps its own
    for change in (
        lambda d: d.update(a=1),
        lambda d: d.pop(ev.THREAD_ID),
        lambda d: d.setdefault("b", 2),
        lambda d: d.__delitem__("ok"),
        lambda d: d.clear(),
    ):
        other = built.shared_copy()
        change(other)
        assert encode_attributes(other) == encode_attributes(dict(other))
