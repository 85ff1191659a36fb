"""Render a suite result file as the README's performance table.

    python -m benchmarks --json benchmarks/results.json
    python -m benchmarks.table benchmarks/results.json        # prints the markdown

``tests/foundation/test_benchmarks.py`` checks that README.md contains exactly this output
for the committed ``benchmarks/results.json``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

START = "<!-- benchmarks:start -->"
END = "<!-- benchmarks:end -->"

_COMPONENT_LABELS = {
    "rejected_event_ns_added": ("sensor: rejected hot audit event", " ns added"),
    "recorded_event_ns_added": ("sensor: recorded audit event", " ns added"),
    "file_heavy_tool_ratio_sensor_vs_plain": ("sensor: tool doing 20,000 opens vs plain", "×"),
    "file_heavy_tool_cpu_ratio_sensor_vs_plain": (
        "sensor: tool doing 20,000 opens vs plain, the tool thread's CPU time",
        "×",
    ),
    "rejected_event_ns_added_python_hook": (
        "sensor, pure-Python hook: rejected hot audit event",
        " ns added",
    ),
    "recorded_event_ns_added_python_hook": (
        "sensor, pure-Python hook: recorded audit event",
        " ns added",
    ),
    "file_heavy_tool_ratio_python_hook_vs_plain": (
        "sensor, pure-Python hook: tool doing 20,000 opens vs plain",
        "×",
    ),
    "echo_round_trip_ratio_sensor_on_vs_off": ("sensor: echo round trip, sensor on vs off", "×"),
    "echo_round_trip_ratio_sensor_on_vs_plain": ("sensor: echo round trip vs plain", "×"),
    "file_heavy_tool_ratio_policy_vs_sensor": ("policy (50 rules): file-heavy tool", "×"),
    "echo_round_trip_ratio_policy_vs_sensor": ("policy (50 rules): echo round trip", "×"),
    "recorded_event_us": (
        "sensor: a recorded event end to end (hook, span event, log record, encoding, spool),"
        " process CPU",
        " µs",
    ),
    "past_cap_event_us": ("sensor: an event past the span's cap, process CPU", " µs"),
    "floor_event_us": (
        "floor: the SDK's own span event and log record per event, spool, no sensor",
        " µs",
    ),
}


_TARGET_UNIT = {"×": "", " µs": " µs"}


_STARTUP_LABELS = {
    "no-provenance": "mcptrace without provenance",
    "cold": "mcptrace, cold hash cache",
    "warm": "mcptrace, warm hash cache",
    "floor": "the OTel SDK and a log record per module, no mcptrace (floor)",
}


def _figure(median: float, low: float, high: float, unit: str) -> str:
    if unit == "×":
        return f"×{median:.2f} ({low:.2f}–{high:.2f})"
    if unit.startswith("delta"):  # "delta MiB", "delta ms"
        shown = unit.removeprefix("delta").strip() or "MiB"
        return f"{median:+.1f} {shown} ({low:+.1f}–{high:+.1f})"
    if unit == "rate":
        return f"{median:,.0f} ({low:,.0f}–{high:,.0f})"
    if unit == " µs":
        return f"{median:.1f} µs ({low:.1f}–{high:.1f})"
    return f"{median:.0f}{unit} ({low:.0f}–{high:.0f})"


def _verdict(met: bool | None) -> str:
    return "–" if met is None else ("met" if met else "**missed**")


def rows(document: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out: list[tuple[str, str, str, str]] = []
    for result in document.get("results", []):
        compare = result.get("compare", "ratio")
        unit = {"ratio": "×", "delta": f"delta {result['unit']}", "value": "rate"}[compare]
        name = result["scenario"] + (f" ({result['unit']})" if compare == "value" else "")
        target = result.get("target")
        shown_target = (
            "–"
            if target is None
            else (f"≤ +{target:g} {result['unit']}" if compare == "delta" else f"≤ ×{target:.2f}")
        )
        out.append(
            (
                name,
                _figure(result["ratio"], result["ratio_min"], result["ratio_max"], unit),
                shown_target,
                _verdict(result.get("met")),
            )
        )
    components = document.get("components", {})
    for name in ("sensor", "events", "policy"):
        figures = components.get(name, {})
        targets = figures.get("targets", {})
        for key, (label, unit) in _COMPONENT_LABELS.items():
            if key not in figures:
                continue
            figure = figures[key]
            target = targets.get(key)
            out.append(
                (
                    label,
                    _figure(figure["median"], figure["min"], figure["max"], unit),
                    "–" if target is None else f"≤ {target:g}{_TARGET_UNIT.get(unit, ' ns')}",
                    _verdict(None if target is None else figure["median"] <= target),
                )
            )
    provenance = components.get("provenance", {})
    for variant, figure in provenance.get("vs_plain", {}).items():
        target = figure.get("target")
        shown = _figure(figure["median"], figure["min"], figure["max"], "×")
        if "ci95" in figure:
            low, high = figure["ci95"]
            shown += f"; median's 95% CI {low:.3f}–{high:.3f}, {figure['rounds']} rounds"
        out.append(
            (
                f"start-up to `import mcp, pydantic, …`: {_STARTUP_LABELS.get(variant, variant)}"
                " vs plain python",
                shown,
                "–" if target is None else f"≤ ×{target:.2f}",
                _verdict(None if target is None else figure["median"] <= target),
            )
        )
    for variant, figure in provenance.get("vs_no_provenance", {}).items():
        out.append(
            (
                f"provenance's own share: start-up, {variant} hash cache, vs without provenance",
                _figure(figure["median"], figure["min"], figure["max"], "×"),
                "–",
                "–",
            )
        )
    return out


def _turns(document: dict[str, Any]) -> int:
    sensor = document.get("components", {}).get("sensor", {})
    return int(sensor.get("alternations", document["rounds"]))


CPU_START = "<!-- benchmarks-cpu:start -->"
CPU_END = "<!-- benchmarks-cpu:end -->"


def render(document: dict[str, Any]) -> str:
    info = document["machine"]
    lines = [
        START,
        f"Measured with `python -m benchmarks --json benchmarks/results.json` "
        f"({document['rounds']} rounds) on {info['cpus']} CPUs ({info['cpu']}), "
        f"Python {info['python']}; median (min–max) of the per-round figures (the sensor and "
        f"policy round trips: of {_turns(document)} short alternating turns); the suite took "
        f"{sum(document.get('seconds', {}).values()):.0f} s.",
        "",
        "| scenario | result | target | |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows(document)]
    lines.append(END)
    return "\n".join(lines)


def render_cpu(document: dict[str, Any]) -> str:
    """The table of a ``python -m benchmarks startup roundtrip`` run (results-cpu.json)."""
    info = document["machine"]
    lines = [
        CPU_START,
        "Measured with "
        + " then ".join(
            f"`python -m benchmarks{'.' if name == 'cpu_roundtrip' else ' '}{name}`"
            for name in str(document.get("scenarios", "startup roundtrip")).split()
        )
        + f" ({document['rounds']} rounds; the start-up CPU rows ≥ 15) on {info['cpus']} CPUs "
        f"({info['cpu']}), Python {info['python']}; median (min–max) of the per-round "
        f"figures; the runs took {sum(document.get('seconds', {}).values()):.0f} s.",
        "",
        "| scenario | result | target | |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows(document)]
    lines.append(CPU_END)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.table", description="Render a results file as the README table."
    )
    parser.add_argument("results", help="a JSON file written by python -m benchmarks --json")
    parser.add_argument("--cpu", action="store_true", help="the CPU table (results-cpu.json)")
    args = parser.parse_args(argv)
    try:
        with open(args.results, encoding="utf-8") as handle:
            document = json.load(handle)
        print(render_cpu(document) if args.cpu else render(document))
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"benchmarks.table: cannot render {args.results}: {error!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
