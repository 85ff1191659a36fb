"""The process CPU a recorded sensor event costs, end to end.

    python benchmarks/bench_events.py [--json] [--quick]

One ``mcptrace run`` child (the default settings: every sensor category, detections, the
spool exporter) runs tool calls, each an MCP server span (``tools/call``), in three kinds:

* ``none``: a call doing nothing the sensor records;
* ``recorded``: a call raising ``RECORDED`` (32, the span-event cap) distinct ``open`` audit
  events: each becomes a span event *and* a log record;
* ``past_cap``: a call raising the span's whole log cap (256) of distinct opens, then
  ``PAST_CAP`` more: those are only counted (and, for detections, a bounded few kept);

then the call's span ends, the sensor's log thread and the SDK's processors are flushed and
the spool written, all inside the measured part.  The figure is the *process* CPU time
(``time.process_time``: every thread, the hook, the span event, the log record, their OTLP
encoding and the spool write), per event::

    recorded event  = (CPU(recorded) - CPU(none)) / RECORDED
    past the cap    = (CPU(past_cap) - CPU(256 events)) / PAST_CAP

minus the same loops' CPU in a plain interpreter (``sys.audit`` without a hook: the
benchmark's own loop, ≈0.05 µs).  The floor (no target): a process without mcptrace making
the same span event and log record per open with the OTel SDK's own ``span.add_event`` and
``Logger.emit``, through the same batch processors and spool exporters, flushed alike:
what one event costs with these dependencies before the sensor does anything.

The kinds alternate in interleaved rounds (each round runs every kind several times and
keeps the fastest, which drops the other engineers' preemptions); the figure is the median
over rounds with min–max.  Targets: a recorded event ≤ 30 µs, an event past the cap ≤ 2 µs.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _child import clean_env, figure_line, run_json, script_main, spread

RECORDED = 32  # the span-event cap per category (--max-events-per-span): span event + log
LOG_CAP = 256  # span-event cap x LOG_RECORDS_FACTOR: log records only up to here
PAST_CAP = 20_000
CALLS = 10  # tool calls per measured sample of ``none`` / ``recorded``
TARGETS = {"recorded_event_us": 30.0, "past_cap_event_us": 2.0}


# ------------------------------------------------------------------ child


def _floor_sdk() -> tuple[Any, Any, Any]:
    """The floor: the OTel SDK's own tracer and logger, each behind the spool's batch
    processor and exporter (what mcptrace writes with), and nothing of mcptrace's sensor."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    from mcptrace.export.spill import SpillingBatchLogRecordProcessor, SpillingBatchSpanProcessor
    from mcptrace.export.spool import SpoolLogExporter, SpoolSpanExporter

    spool = Path(tempfile.mkdtemp(prefix="mcptrace-floor-"))
    spool.chmod(0o700)
    resource = Resource({"service.name": "bench-floor"})
    tracers = TracerProvider(resource=resource, shutdown_on_exit=False)
    tracers.add_span_processor(SpillingBatchSpanProcessor(SpoolSpanExporter(spool, 1 << 26)))
    loggers = LoggerProvider(resource=resource, shutdown_on_exit=False)
    loggers.add_log_record_processor(
        SpillingBatchLogRecordProcessor(SpoolLogExporter(spool, 1 << 26))
    )
    return tracers, loggers, loggers.get_logger("mcptrace.sensor")


def _child(rounds: int, repeats: int, past_cap: int, floor: bool) -> dict[str, Any]:
    """Runs in the measured process; prints per-round CPU seconds of each kind."""
    from mcptrace.record.recorder import active

    found = active()  # the sensor's registry and recorder: None in a plain interpreter
    instrumented = found is not None
    if found is not None or floor:
        from opentelemetry import trace
        from opentelemetry._logs import SeverityNumber
        from opentelemetry.trace import SpanKind
    if found is not None:
        from mcptrace import activation

        telemetry = activation.activate()
        tracer = trace.get_tracer("mcptrace.bench")
        pump = found[1].pump
    if floor:
        tracers, loggers, logger = _floor_sdk()
        tracer = tracers.get_tracer("mcptrace.bench")
    audit = sys.audit
    base = f"/nonexistent/mcptrace-bench-{os.getpid()}"
    counter = [0]
    thread_id = threading.get_ident()

    def floor_events(span: Any, paths: list[str]) -> None:
        """What the sensor records for each open, as the SDK's own span event and log
        record (attributes as the sensor writes them)."""
        context = trace.set_span_in_context(span)
        for path in paths:
            attributes = {
                "file.path": path,
                "mcptrace.file.access": "read",
                "mcptrace.attribution": "context",
                "mcptrace.audit.event": "open",
                "thread.id": thread_id,
            }
            now = time.time_ns()
            span.add_event("mcptrace.file.open", attributes, now)
            logger.emit(
                timestamp=now,
                context=context,
                severity_number=SeverityNumber.INFO,
                severity_text="INFO",
                attributes=attributes,
                event_name="mcptrace.file.open",
            )

    def call(events: int) -> None:
        # distinct paths (identical events coalesce), made before the timed part starts
        start = counter[0]
        counter[0] += events
        paths = [f"{base}/{index}.txt" for index in range(start, start + events)]
        if instrumented or floor:
            attributes = {"mcp.method.name": "tools/call", "gen_ai.tool.name": "bench"}
            with tracer.start_as_current_span(
                "tools/call bench", kind=SpanKind.SERVER, attributes=attributes
            ) as span:
                if floor:
                    floor_events(span, paths[:LOG_CAP])  # the SDK has no cap of its own
                else:
                    for path in paths:
                        audit("open", path, "r", 0)
        else:
            for path in paths:
                audit("open", path, "r", 0)

    def flush() -> None:
        if instrumented:
            pump.flush()
            if telemetry is not None:
                telemetry.tracer_provider.force_flush()
                telemetry.logger_provider.force_flush()
        if floor:
            tracers.force_flush()
            loggers.force_flush()

    def sample(events: int, calls: int) -> float:
        best = float("inf")
        for _ in range(repeats):
            flush()
            start = time.process_time()
            for _ in range(calls):
                call(events)
            flush()
            best = min(best, time.process_time() - start)
        return best

    for _ in range(3):  # warm-up: imports, first-request work, the spool file
        call(RECORDED)
        call(LOG_CAP + 100)
        flush()
    out: dict[str, list[float]] = {"none": [], "recorded": [], "cap": [], "past_cap": []}
    for _ in range(rounds):
        out["none"].append(sample(0, CALLS))
        out["recorded"].append(sample(RECORDED, CALLS))
        out["cap"].append(sample(LOG_CAP, 1))
        out["past_cap"].append(sample(LOG_CAP + past_cap, 1))
    return out


# ------------------------------------------------------------------ parent


def measure(quick: bool) -> dict[str, Any]:
    rounds = 3 if quick else 7
    repeats = 3 if quick else 5
    past_cap = 5_000 if quick else PAST_CAP
    me = str(Path(__file__).resolve())
    child = [sys.executable, me, "--child", str(rounds), str(repeats), str(past_cap)]
    recorded: list[float] = []
    past: list[float] = []
    floor: list[float] = []
    with tempfile.TemporaryDirectory() as spool:
        run = [sys.executable, "-m", "mcptrace.cli", "run", "--spool", spool, "--"]
        sessions = 1 if quick else 3
        for _ in range(sessions):  # fresh processes, alternating with the plain loop
            plain = run_json(child, clean_env())
            traced = run_json([*run, *child], clean_env())
            sdk = run_json([*child, "--floor"], clean_env())
            for index in range(rounds):
                floor.append(
                    (sdk["recorded"][index] - sdk["none"][index]) / (CALLS * RECORDED) * 1e6
                )
                loop = (plain["recorded"][index] - plain["none"][index]) / (CALLS * RECORDED)
                per_event = (traced["recorded"][index] - traced["none"][index]) / (CALLS * RECORDED)
                recorded.append((per_event - loop) * 1e6)
                loop_past = (plain["past_cap"][index] - plain["cap"][index]) / past_cap
                per_past = (traced["past_cap"][index] - traced["cap"][index]) / past_cap
                past.append((per_past - loop_past) * 1e6)
    return {
        "python": sys.version.split()[0],
        "rounds": len(recorded),
        "recorded_event_us": spread(recorded),
        "past_cap_event_us": spread(past),
        "floor_event_us": spread(floor),
        "targets": dict(TARGETS),
    }


def _report(results: dict[str, Any]) -> str:
    lines = [f"sensor event cost, Python {results['python']}, {results['rounds']} rounds"]
    for key, target in results["targets"].items():
        lines.append(figure_line(key, results[key], target, " µs"))
    lines.append(
        figure_line(
            "floor_event_us (the SDK's own span event + log record, spool)",
            results["floor_event_us"],
            unit=" µs",
        )
    )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        rounds, repeats, past_cap = (int(value) for value in sys.argv[2:5])
        print(json.dumps(_child(rounds, repeats, past_cap, "--floor" in sys.argv)))
        return
    script_main(__doc__, lambda args: measure(args.quick), _report)


if __name__ == "__main__":
    main()
