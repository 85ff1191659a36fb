"""The sensor's log records written as spool text without log record objects
(export/direct_logs.py ``SpoolTextLogger``, used when the spool is their only destination).

The same records go through the text path and through the SDK path (a second processor on
the provider makes the pump take it); the spool files must be byte for byte the same, and
equal to protobuf's own mapping of the SDK's records.  Real processes check what the path
must keep: nothing lost when a process ends without a flush, the log cap, and the OTLP
shipper forwarding the records to a real receiver.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import SpanContext, TraceFlags

from mcptrace.export.direct_logs import SpoolTextLogger
from mcptrace.export.otlp_json import decode_line
from mcptrace.export.spill import SpillingBatchLogRecordProcessor
from mcptrace.export.spool import SpoolLogExporter
from mcptrace.record import recorder as recorder_module
from mcptrace.record import vocabulary as ev
from mcptrace.record.observation import Observation
from mcptrace.record.recorder import LOG_RECORDS_FACTOR, Recorder
from mcptrace.record.state import SpanState
from otlp_oracle import encode_request
from receivers import OtelTap

ODD = ['q"uote', "back\\slash", "ctl\x00\x1f\x7f", "tab\tnew\nline", "ü/€/𝄞", "\udcff-byte"]


def _provider(spool: Path, limits: LogRecordLimits | None = None) -> LoggerProvider:
    provider = LoggerProvider(
        resource=Resource({"service.name": "text-logs", "odd": ODD[0]}, "https://s/r"),
        shutdown_on_exit=False,
        log_record_limits=limits,
    )
    provider.add_log_record_processor(
        SpillingBatchLogRecordProcessor(SpoolLogExporter(spool, 1 << 20))
    )
    return provider


def _record_everything(recorder: Recorder, odd_names: list[str]) -> None:
    """Every kind of record the pump emits: odd paths in a span (repeats too), WARN
    categories, a span that ended, a detection, no span at all, a bucket summary."""
    span = SpanState(SpanContext(0xABC, 0xDEF, False, TraceFlags(1)), is_mcp=True)
    for index, odd in enumerate(odd_names):
        path = f"/srv/{odd}/{index}.txt"
        opened = Observation(ev.FILE_OPEN, ev.FILE, {ev.FILE_PATH: path, "n": index}, "open")
        recorder.record(opened, span, ev.CONTEXT, 1234)
    repeated = Observation(ev.FILE_OPEN, ev.FILE, {ev.FILE_PATH: "/srv/again"}, "open")
    for _ in range(5):
        recorder.record(repeated, span, ev.CONTEXT, 1234)
    spawn = Observation(
        ev.PROCESS_SPAWN, ev.PROCESS, {"process.command_args": ("sh", "-c", "x")}, "os.exec"
    )
    recorder.record(spawn, span, ev.CONTEXT, 1234)
    recorder.span_additions(span)  # the span ends: its records are sealed, span events made
    span.ended = True
    recorder.record(spawn, span, ev.INFERRED, 99)  # late: a log linked to the ended span
    detection = Observation(
        ev.DETECTION,
        ev.DETECTION_CATEGORY,
        {ev.DETECTION_RULE: "r1", ev.DETECTION_SEVERITY: "critical"},
        "",
    )
    recorder.record(detection, span, ev.CONTEXT, 1234)
    nowhere = SpanState(None)
    recorder.record(
        Observation(ev.FILE_OPEN, ev.FILE, {ev.FILE_PATH: "/etc/passwd"}, "open"),
        nowhere,
        ev.NONE,
        7,
    )
    recorder.summarize(nowhere, "startup")


def _spooled(
    tmp_path: Path, name: str, through_sdk: bool, odd_names: list[str]
) -> tuple[str, list[Any], bool]:
    """The spool text of ``_record_everything``; the SDK's records when ``through_sdk``."""
    spool = tmp_path / name
    spool.mkdir(mode=0o700)
    provider = _provider(spool)
    memory = InMemoryLogRecordExporter()
    if through_sdk:  # a second destination: every record must become an SDK record
        provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    recorder = Recorder(span_events_per_category=4)
    recorder.pump._logger = provider.get_logger(ev.SENSOR_SCOPE, "1.0", "https://s/x")
    _record_everything(recorder, odd_names)
    recorder.pump.flush()
    took_text = recorder.pump._text is not None
    provider.shutdown()
    text = "".join(path.read_text("utf-8", "surrogateescape") for path in spool.iterdir())
    return text, list(memory.get_finished_logs()), took_text


@pytest.mark.parametrize("protobuf", [False, True])
def test_text_and_sdk_paths_are_identical_and_protobufs_mapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, protobuf: bool
) -> None:
    odd_names = ODD[:-1] if protobuf else ODD  # protobuf cannot encode a lone surrogate
    outputs = []
    for name, through_sdk in (("text", False), ("sdk", True)):
        ticks = iter(range(1_700_000_000_000_000_000, 1_800_000_000_000_000_000, 1000))
        monkeypatch.setattr(recorder_module, "_time_ns", lambda ticks=ticks: next(ticks))
        outputs.append(_spooled(tmp_path, name, through_sdk, odd_names))
    (text, _, took_text), (sdk_text, sdk_records, sdk_took_text) = outputs
    assert took_text and not sdk_took_text
    assert text.count('"eventName":') == len(odd_names) + 6  # opens, repeats, spawns, ...
    assert f'"{ev.EVENT_REPEATS}"' in text and "summary" in text
    assert text == sdk_text  # byte for byte
    (line,) = text.splitlines()  # one batch
    if protobuf:  # the line is protobuf's JSON mapping of the SDK's records
        assert decode_line("logs", line) == encode_request("logs", sdk_records)
    records = [
        record
        for resource in json.loads(line)["resourceLogs"]
        for scope in resource["scopeLogs"]
        for record in scope["logRecords"]
    ]
    assert len(records) == len(sdk_records)
    # the span's records carry its ids and flags; the span-less ones none
    in_span = [record for record in records if record.get("traceId")]
    assert in_span and all(r["spanId"] == f"{0xDEF:016x}" and r["flags"] == 1 for r in in_span)
    assert any("traceId" not in record for record in records)


def test_a_value_length_limit_or_unclean_attributes_take_the_sdk_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "limited"
    spool.mkdir(mode=0o700)
    limited = _provider(spool, LogRecordLimits(max_attribute_length=4))
    assert SpoolTextLogger.of(limited.get_logger(ev.SENSOR_SCOPE)) is None
    plain = _provider(tmp_path / "plain")
    text = SpoolTextLogger.of(plain.get_logger(ev.SENSOR_SCOPE))
    assert text is not None
    fields: dict[str, Any] = {
        "timestamp": 1,
        "observed_timestamp": 2,
        "span_context": None,
        "severity_number": 9,
        "severity_text": "INFO",
        "event_name": "x",
    }
    assert not text.emit(attributes={"list": ["a", "b"]}, **fields)  # the SDK cleans lists
    assert not text.emit(attributes={"none": None}, **fields)
    assert not text.emit(attributes={f"k{i}": i for i in range(200)}, **fields)  # over 128
    assert text.emit(attributes={"ok": ("a", "b"), "n": 1, "f": 1.5, "b": True}, **fields)
    plain.add_log_record_processor(SimpleLogRecordProcessor(InMemoryLogRecordExporter()))
    assert not text.emit(attributes={"n": 1}, **fields)  # a processor added since
    plain.shutdown()
    limited.shutdown()


def test_a_processor_added_later_receives_the_records_from_then_on(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    provider = _provider(spool)
    recorder = Recorder(span_events_per_category=4)
    recorder.pump._logger = provider.get_logger(ev.SENSOR_SCOPE)
    span = SpanState(SpanContext(1, 2, False, TraceFlags(1)), is_mcp=True)

    def opened(index: int) -> None:
        observation = Observation(ev.FILE_OPEN, ev.FILE, {ev.FILE_PATH: f"/a/{index}"}, "open")
        recorder.record(observation, span, ev.CONTEXT, 1)

    opened(1)
    recorder.pump.flush()
    assert recorder.pump._text is not None
    memory = InMemoryLogRecordExporter()
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    opened(2)
    recorder.pump.flush()
    provider.shutdown()
    seen = [log.log_record.attributes[ev.FILE_PATH] for log in memory.get_finished_logs()]
    assert seen == ["/a/2"]
    spooled = "".join(path.read_text() for path in spool.iterdir())
    assert '"/a/1"' in spooled and '"/a/2"' in spooled


# -- real processes ------------------------------------------------------------------------

OPENER = textwrap.dedent(
    """
    import os, sys
    from mcptrace import activation
    from mcptrace.record.recorder import active
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    directory, count = sys.argv[1], int(sys.argv[2])
    telemetry = activation.activate()
    tracer = trace.get_tracer("test.text-logs")
    attributes = {"mcp.method.name": "tools/call", "gen_ai.tool.name": "opener"}
    with tracer.start_as_current_span("tools/call warm-up", kind=SpanKind.SERVER,
                                      attributes=attributes):
        open(os.path.join(directory, "warm-up.txt"), "w").close()
    pump = active()[1].pump
    pump.flush()  # the path the pump chose, for the test to check
    print("text" if pump._text is not None else "sdk", flush=True)
    with tracer.start_as_current_span("tools/call opener", kind=SpanKind.SERVER,
                                      attributes=attributes):
        for index in range(count):
            with open(os.path.join(directory, f"f{index}.txt"), "w"):
                pass
    # and the process ends at once: whatever is still queued is written by the exit
    """
)


def _run(tmp_path: Path, spool: Path, count: int, **env: str) -> str:
    files = tmp_path / "files"
    files.mkdir(exist_ok=True)
    script = tmp_path / "opener.py"
    script.write_text(OPENER)
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MCPTRACE_"))
    } | env
    result = subprocess.run(
        [sys.executable, "-m", "mcptrace.cli", "run", "--spool", str(spool), "--",
         sys.executable, str(script), str(files), str(count)],
        env=environ, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def _spool_logs(spool: Path) -> list[dict[str, Any]]:
    records = []
    for path in spool.glob("logs-*.jsonl"):
        for line in path.read_text("utf-8").splitlines():
            for resource in json.loads(line)["resourceLogs"]:
                for scope in resource["scopeLogs"]:
                    records.extend(scope["logRecords"])
    return records


def _paths(records: list[dict[str, Any]], directory: Path) -> list[str]:
    found = []
    for record in records:
        if record.get("eventName") != ev.FILE_OPEN:
            continue
        for pair in record.get("attributes", ()):
            value = pair["value"].get("stringValue", "")
            if pair["key"] == ev.FILE_PATH and value.startswith(f"{directory}/f"):
                found.append(value)
    return found


@pytest.mark.slow
def test_a_process_that_exits_at_once_loses_no_record_and_the_cap_holds(
    tmp_path: Path, spool: Path
) -> None:
    count = 40
    assert _run(tmp_path, spool, count) == "text"
    paths = _paths(_spool_logs(spool), tmp_path / "files")
    assert sorted(paths) == sorted(str(tmp_path / "files" / f"f{i}.txt") for i in range(count))

    capped = tmp_path / "capped"
    cap = 32 * LOG_RECORDS_FACTOR
    assert _run(tmp_path, capped, cap + 300) == "text"
    assert len(_paths(_spool_logs(capped), tmp_path / "files")) == cap


@pytest.mark.slow
def test_the_shipper_forwards_the_text_records(tmp_path: Path, spool: Path) -> None:
    with OtelTap(tmp_path) as tap:
        how = _run(
            tmp_path,
            spool,
            20,
            OTEL_EXPORTER_OTLP_ENDPOINT=tap.endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_EXPORTER_OTLP_COMPRESSION="none",
        )
        assert how == "text"
        directory = tmp_path / "files"
        tap.wait_for(lambda tap: len(_paths(tap.logs(), directory)) >= 20)
        assert sorted(_paths(tap.logs(), directory)) == sorted(
            str(directory / f"f{i}.txt") for i in range(20)
        )


def _sdk_records(provider: LoggerProvider) -> None:
    """Records as the module inventory and other SDK callers emit them (``Logger.emit``):
    odd text, a body, a span's ids, an attribute count past the limit, no attributes."""
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.context import Context
    from opentelemetry.trace import NonRecordingSpan, set_span_in_context

    logger = provider.get_logger("mcptrace.provenance", "1.0", "https://s/p")
    span = NonRecordingSpan(SpanContext(0xABC, 0xDEF, False, TraceFlags(1)))
    for index, odd in enumerate(ODD):
        logger.emit(
            timestamp=1_700_000_000_000_000_000 + index,
            observed_timestamp=1_700_000_000_000_000_500 + index,
            context=set_span_in_context(span) if index % 2 else Context(),
            severity_number=SeverityNumber.WARN if index % 3 else SeverityNumber.INFO,
            severity_text="WARN" if index % 3 else "INFO",
            body=f"body {odd}" if index % 2 else None,
            attributes={
                ev.MODULE_NAME: f"pkg.{odd}",
                ev.FILE_PATH: f"/site/{odd}/{index}.py",
                "n": index,
                "ratio": index / 3,
                "flag": bool(index % 2),
                "list": [odd, "x"],
                **({f"extra{k}": k for k in range(40)} if index == 2 else {}),
            },
            event_name=ev.MODULE_IMPORT,
        )
    logger.emit(timestamp=1_700_000_000_000_009_999, observed_timestamp=1, event_name="bare")


def test_sdk_records_are_queued_as_their_spool_text_with_the_same_bytes(tmp_path: Path) -> None:
    # The spilling processor writes each record's text as it is emitted (a queue of ~800
    # module records holds text, not record objects); the spool must read exactly as the
    # SDK's own batch processor in front of the same exporter writes it.
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    from mcptrace.export.log_text import EncodedLog

    texts = []
    for name, kind in (
        ("spill", SpillingBatchLogRecordProcessor),
        ("sdk", BatchLogRecordProcessor),
    ):
        spool = tmp_path / name
        spool.mkdir(mode=0o700)
        provider = LoggerProvider(
            resource=Resource({"service.name": "sdk-logs", "odd": ODD[0]}, "https://s/r"),
            shutdown_on_exit=False,
            log_record_limits=LogRecordLimits(max_attributes=32),
        )
        processor = kind(SpoolLogExporter(spool, 1 << 20), schedule_delay_millis=60_000)
        provider.add_log_record_processor(processor)
        _sdk_records(provider)
        queued = list(processor._batch_processor._queue)  # type: ignore[attr-defined]
        assert len(queued) == len(ODD) + 1
        if kind is SpillingBatchLogRecordProcessor:
            assert all(type(item) is EncodedLog for item in queued)
        provider.shutdown()
        texts.append("".join(p.read_text("utf-8", "surrogateescape") for p in spool.iterdir()))
    spilled, sdk = texts
    assert spilled.count('"eventName":') == len(ODD) + 1 and '"droppedAttributesCount":' in spilled
    assert spilled == sdk  # byte for byte
