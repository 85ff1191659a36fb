"""Policy overhead, as ratios against the sensor without a policy, measured in one run.

    python benchmarks/bench_policy.py [--json] [--quick]

* decider cost per observation (ns added over a no-op decider, CPU time), in process: an
  event no rule touches, a file open judged
  against 50 rules (a path seen before: cache hit), and a tool-scoped process spawn;
* a tool doing 20,000 file opens and an echo round trip, driven by a real MCP client over
  stdio: ``mcptrace run`` with the sensor and no policy vs the same with a 50-rule policy
  (observe mode; its file rules judge every open, none matches /dev/null).

Variants alternate between two kept-alive clients in 3 × rounds short turns (at least 15;
3 heavy calls, the fastest counting, and 60 echo calls each; --quick: 3 turns, 20 echo calls,
2,000 opens: the harness, not the figures); each figure is
the median of the turns' ratios with min–max.  Targets: file-heavy tool ≤ ×1.10 and echo
round trip ≤ ×1.03 (policy vs no policy).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _child import WARMUP_SECONDS, ServedChild, clean_env, figure_line, script_main, spread

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "bench_sensor.py"  # its --child-drive runs _echo_server.py over stdio


def policy_text(rules: int = 50) -> str:
    """A realistic policy of ``rules`` rules over every category, none matching /dev/null."""
    out = ['[policy]\nmode = "observe"\n\n[defaults]\nprocess = "allow"\n']
    templates = [
        ('category = "file_read"', 'paths = ["~/.ssh/**", "/etc/shadow", "*.pem", "**/.env{i}"]'),
        ('category = "file_write"', 'paths = ["/usr/**", "/etc/**", "~/.config/app{i}/**"]'),
        ('category = "network"', 'addresses = ["10.{i}.0.0/16"]\nports = [443, "8000-8100"]'),
        ('category = "network"\naction = "allow"', 'hosts = ["api{i}.example.com"]'),
        ('category = "process"', 'executables = ["curl{i}", "/usr/bin/wget"]'),
        ('category = "process"\ntools = ["vcs_{i}_*"]', 'executables = ["git"]'),
        ('category = "code"', 'operations = ["pickle"]\nglobals = ["os{i}.*"]'),
        ('category = "native"', 'paths = ["**/libevil{i}.so*"]'),
    ]
    for index in range(rules):
        head, body = templates[index % len(templates)]
        out.append(f'[[rule]]\nid = "rule-{index}"\n{head}\n{body.format(i=index)}\n')
    return "\n".join(out)


# ------------------------------------------------------------------ decider cost (in process)


def micro(calls: int) -> dict[str, float]:
    from opentelemetry.trace import SpanContext

    from mcptrace.policy.engine import PolicyEngine
    from mcptrace.policy.loader import parse_policy
    from mcptrace.record import vocabulary as ev
    from mcptrace.record.observation import Observation
    from mcptrace.record.state import SpanState

    decider = PolicyEngine(parse_policy(policy_text(), "bench.toml")).decider()
    state = SpanState(SpanContext(1, 2, False), is_mcp=True)
    attribution = (state, ev.CONTEXT)
    cases = {
        "untouched_ns": Observation(ev.MODULE_IMPORT, ev.IMPORT, {ev.FILE_PATH: "/x.py"}, "exec"),
        "file_open_ns": Observation(
            ev.FILE_OPEN, ev.FILE, {ev.FILE_PATH: os.devnull, ev.FILE_ACCESS: ev.READ}, "open"
        ),
        "process_spawn_ns": Observation(
            ev.PROCESS_SPAWN,
            ev.PROCESS,
            {ev.PROCESS_EXECUTABLE_PATH: "/bin/echo", ev.PROCESS_COMMAND_ARGS: ["echo", "hi"]},
            "subprocess.Popen",
        ),
    }

    def no_policy(observation: Observation, attribution: Any) -> None:
        return None

    def best_ns(decider: Any, observation: Observation) -> float:
        decider(observation, attribution)  # warm the caches
        best = float("inf")
        for _ in range(5):
            start = time.thread_time_ns()  # CPU time: robust on a busy machine
            for _ in range(calls):
                decider(observation, attribution)
            best = min(best, (time.thread_time_ns() - start) / calls)
        return best

    results: dict[str, float] = {}
    for key, observation in cases.items():
        results[key] = best_ns(decider, observation) - best_ns(no_policy, observation)
    return results


# ------------------------------------------------------------------ orchestration


def measure(quick: bool, rounds: int = 5) -> dict[str, Any]:
    rounds = max(rounds, 5)
    opens = 2_000 if quick else 20_000
    turn_calls = 20 if quick else 60
    turns = 3 if quick else 3 * rounds
    decider = micro(20_000 if quick else 200_000)
    heavy: list[float] = []
    echo: list[float] = []
    with tempfile.TemporaryDirectory() as work:
        policy = Path(work) / "policy.toml"
        policy.write_text(policy_text(), encoding="utf-8")
        spool = str(Path(work) / "spool")
        warm = "0" if quick else str(WARMUP_SECONDS)
        drive = [sys.executable, str(DRIVER), "--child-drive", str(opens), warm]
        run = [sys.executable, "-m", "mcptrace.cli", "run", "--spool", spool]
        children = {  # kept alive, rounds alternate between them (bench_sensor's driver)
            "sensor": ServedChild([*run, "--", *drive], clean_env()),
            "policy": ServedChild([*run, "--policy", str(policy), "--", *drive], clean_env()),
        }
        try:
            for child in children.values():  # both started: no round runs beside a warm-up
                child.wait_ready()
            for index in range(turns):  # short turns, as bench_sensor's round trips
                order = ["sensor", "policy"] if index % 2 == 0 else ["policy", "sensor"]
                got = {name: children[name].round(echo=turn_calls, heavy=3) for name in order}
                heavy.append(got["policy"]["heavy_s"] / got["sensor"]["heavy_s"])
                echo.append(got["policy"]["echo_s"] / got["sensor"]["echo_s"])
        finally:
            for child in children.values():
                child.close()
    return {
        "python": sys.version.split()[0],
        "rounds": rounds,
        "alternations": turns,
        "rules": 50,
        "decider_ns": decider,
        "file_heavy_tool_ratio_policy_vs_sensor": spread(heavy),
        "echo_round_trip_ratio_policy_vs_sensor": spread(echo),
        "targets": {
            "file_heavy_tool_ratio_policy_vs_sensor": 1.10,
            "echo_round_trip_ratio_policy_vs_sensor": 1.03,
        },
    }


def _report(results: dict[str, Any]) -> str:
    lines = [
        f"policy benchmark, Python {results['python']}, {results['rules']} rules, "
        f"{results['rounds']} alternating rounds",
        "  decider ns added per observation: "
        + ", ".join(f"{key} {value:.0f}" for key, value in results["decider_ns"].items()),
    ]
    for key, target in results["targets"].items():
        lines.append(figure_line(key, results[key], target, "x"))
    return "\n".join(lines)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (>= 5)")


def main() -> None:
    script_main(__doc__, lambda args: measure(args.quick, args.rounds), _report, _options)


if __name__ == "__main__":
    main()
