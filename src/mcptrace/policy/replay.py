"""Dry run: what a policy would have done to the actions recorded in a spool.

Usage::

    report = replay_spool(load_policy(Path("policy.toml")), Path("spool"))
    print(report.text())            # or report.as_json()

The sensor's log records are the fullest account (span events are capped lower), so they
are read first; a spool without them (logs exported elsewhere) falls back to span events.
Each action is judged inside the tool of the MCP server span it belongs to.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcptrace.export.spool_reader import iter_logs, iter_spans
from mcptrace.policy import model as m
from mcptrace.policy.engine import PolicyEngine
from mcptrace.record import vocabulary as ev
from mcptrace.record.observation import Observation

SPAN_KIND_SERVER = 2
EXAMPLES_PER_RULE = 3


@dataclass
class Finding:
    rule: str
    category: str
    action: str  # blocked | observed
    count: int = 0
    tools: set[str] = field(default_factory=set)
    examples: list[str] = field(default_factory=list)


@dataclass
class ReplayReport:
    policy: str
    spool: str
    actions: int = 0  # observations judged
    requests: int = 0  # MCP server requests they came from
    source: str = "logs"
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)

    def add(self, rule: str, category: str, action: str, tool: str | None, example: str) -> None:
        finding = self.findings.setdefault((rule, action), Finding(rule, category, action))
        finding.count += 1
        finding.tools.add(tool or "-")
        if len(finding.examples) < EXAMPLES_PER_RULE and example not in finding.examples:
            finding.examples.append(example)

    @property
    def blocked(self) -> int:
        return sum(f.count for f in self.findings.values() if f.action == ev.BLOCKED)

    def text(self) -> str:
        lines = [
            f"{self.policy} against {self.spool}: {self.actions} recorded actions "
            f"in {self.requests} MCP requests (from {self.source})"
        ]
        if not self.findings:
            lines.append("nothing would have been blocked or reported")
        order = sorted(self.findings.values(), key=lambda f: (f.action != ev.BLOCKED, f.rule))
        for finding in order:
            verb = "would block" if finding.action == ev.BLOCKED else "would report"
            tools = ", ".join(sorted(finding.tools))
            lines.append(
                f"{verb} {finding.count} x rule {finding.rule!r} ({finding.category}) "
                f"in tools: {tools}"
            )
            lines.extend(f"    e.g. {example}" for example in finding.examples)
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "spool": self.spool,
            "actions": self.actions,
            "requests": self.requests,
            "source": self.source,
            "blocked": self.blocked,
            "findings": [
                {
                    "rule": f.rule,
                    "category": f.category,
                    "action": f.action,
                    "count": f.count,
                    "tools": sorted(f.tools),
                    "examples": f.examples,
                }
                for f in self.findings.values()
            ],
        }


_JUDGED_PREFIXES = tuple(
    f"mcptrace.{category}." for category in (ev.FILE, ev.NETWORK, ev.PROCESS, ev.CODE, ev.NATIVE)
)


def _judged(name: str, attributes: dict[str, Any]) -> str | None:
    """The event name to judge a recorded record as, or None to skip it.

    A blocked action left only its violation (the action never happened); the violation
    carries the action's attributes and name, so it is judged as that action.
    """
    if name.startswith(_JUDGED_PREFIXES):
        return name
    if name == ev.POLICY_VIOLATION and attributes.get(ev.POLICY_ACTION) == ev.BLOCKED:
        original = attributes.get(ev.POLICY_EVENT)
        return original if isinstance(original, str) else None
    return None


class _Spans:
    """span id → its MCP server request span (the tool), from the spool's spans."""

    def __init__(self, spool: Path) -> None:
        self.parent: dict[str, str] = {}
        self.request_tool: dict[str, str | None] = {}  # MCP server span id -> tool name
        self.events: list[tuple[str, str, dict[str, Any]]] = []  # (span id, name, attributes)
        for span in iter_spans(spool):
            self.parent[span.span_id] = span.parent_span_id
            if span.kind == SPAN_KIND_SERVER and ev.MCP_METHOD_NAME in span.attributes:
                tool = span.attributes.get(ev.GEN_AI_TOOL_NAME)
                self.request_tool[span.span_id] = tool if isinstance(tool, str) else None
            for event in span.events:
                name = _judged(event.name, event.attributes)
                if name is not None:
                    self.events.append((span.span_id, name, event.attributes))

    def request_of(self, span_id: str) -> str | None:
        for _ in range(64):
            if not span_id:
                return None
            if span_id in self.request_tool:
                return span_id
            span_id = self.parent.get(span_id, "")
        return None


def _recorded(spool: Path, spans: _Spans) -> tuple[str, Iterator[tuple[str, str, dict[str, Any]]]]:
    def judged_logs() -> Iterator[tuple[str, str, dict[str, Any]]]:
        for record in iter_logs(spool):
            name = _judged(record.event_name, record.attributes)
            if name is not None:
                yield record.span_id, name, record.attributes

    if next(judged_logs(), None) is None:
        return "span events", iter(spans.events)
    return "log records", judged_logs()


def replay_spool(policy: m.Policy, spool: Path) -> ReplayReport:
    engine = PolicyEngine(policy)
    report = ReplayReport(policy.source, str(spool))
    spans = _Spans(spool)
    report.source, recorded = _recorded(spool, spans)
    requests: set[str] = set()
    for span_id, name, attributes in recorded:
        request = spans.request_of(span_id)
        if request is None and policy.applies_to == m.TOOL_CALLS:
            continue
        tool = spans.request_tool.get(request) if request else None
        category = name.split(".")[1]
        audit_event = str(attributes.get(ev.AUDIT_EVENT, ""))
        observation = Observation(name, category, attributes, audit_event)
        report.actions += 1
        if request:
            requests.add(request)
        for verdict in engine.evaluate(observation, tool):
            action = ev.BLOCKED if verdict.enforce else ev.OBSERVED
            report.add(
                verdict.rule, verdict.category, action, tool, f"{tool or '-'}: {verdict.subject}"
            )
    report.requests = len(requests)
    return report
