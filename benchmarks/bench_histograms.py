"""What an MCP span end costs in the operation-duration sink: plain histograms vs the SDK's.

    python benchmarks/bench_histograms.py [--json] [--spans N] [--rounds R]

Each round starts two fresh interpreters, alternating which goes first: one with mcptrace's
meter provider (the histograms aggregated in plain Python, export/histograms.py), one with
the OTel SDK's ``MeterProvider`` installed globally (the four histograms recorded through
the SDK's ``Histogram.record`` with the span as context, as before issue 20's change).  Each
ends N finished MCP spans (server, then client) through ``OperationMetrics.on_end`` after a
warm-up, and reports process CPU per span (``time.process_time``), then flushes once to the
spool.  Prints the median (min–max) over the rounds per variant and side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ATTRIBUTES = {
    "mcp.method.name": "tools/call",
    "gen_ai.tool.name": "echo",
    "gen_ai.operation.name": "execute_tool",
    "jsonrpc.protocol.version": "2.0",
    "mcp.protocol.version": "2025-11-25",
    "network.transport": "pipe",
    "mcp.session.id": "3f0c",
    "mcptrace.client.name": "bench",
    "mcptrace.client.version": "1",
    "jsonrpc.request.id": "7",
}
VARIANTS = ("plain", "sdk")


def child(variant: str, spans: int) -> None:
    from opentelemetry import metrics
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import SpanKind

    from mcptrace.config import load_settings
    from mcptrace.export.providers import build_telemetry
    from mcptrace.mcp.metrics import operation_metrics_sink
    from mcptrace.record.vocabulary import SDK_SCOPE

    spool = tempfile.mkdtemp(prefix="bench-histograms-")
    telemetry = build_telemetry(load_settings({"MCPTRACE_SPOOL_DIR": spool}), "bench")
    if variant == "sdk":
        import math

        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        from mcptrace.export.spool_metrics import SpoolMetricExporter

        reader = PeriodicExportingMetricReader(
            SpoolMetricExporter(Path(spool)), export_interval_millis=math.inf
        )
        sdk = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
        metrics.set_meter_provider(sdk)
        flush = sdk.force_flush
    else:
        telemetry.install()
        flush = telemetry.meter_provider.force_flush
    tracer = TracerProvider().get_tracer(SDK_SCOPE)
    sink = operation_metrics_sink()
    out = {}
    for kind in (SpanKind.SERVER, SpanKind.CLIENT):
        ended = []
        for index in range(spans + 2000):
            span = tracer.start_span(
                "tools/call echo", kind=kind, attributes=ATTRIBUTES, start_time=0
            )
            span.end(end_time=300_000 * (index % 500) + 1)
            ended.append(span)
        for span in ended[:2000]:  # warm-up: the provider built, every series made
            sink.on_end(span)
        started = time.process_time()
        for span in ended[2000:]:
            sink.on_end(span)
        out[kind.name.lower()] = (time.process_time() - started) / spans * 1e6
    flush()
    print(json.dumps(out))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/bench_histograms.py")
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=VARIANTS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.spans)
        return 0
    figures: dict[str, dict[str, list[float]]] = {v: {"server": [], "client": []} for v in VARIANTS}
    for round_index in range(args.rounds):
        order = VARIANTS if round_index % 2 == 0 else VARIANTS[::-1]
        for variant in order:
            run = subprocess.run(
                [sys.executable, __file__, "--child", variant, "--spans", str(args.spans)],
                capture_output=True,
                text=True,
                check=True,
            )
            for side, value in json.loads(run.stdout.strip().splitlines()[-1]).items():
                figures[variant][side].append(value)
    summary = {
        variant: {
            side: {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
            }
            for side, values in sides.items()
        }
        for variant, sides in figures.items()
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for variant, sides in summary.items():
            for side, f in sides.items():
                print(
                    f"{variant:5} {side:6} {f['median']:6.2f} µs per span end "
                    f"({f['min']:.2f}–{f['max']:.2f}), {args.rounds} rounds"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
