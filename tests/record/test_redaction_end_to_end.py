"""Every secret form through every channel of a real instrumented MCP client and server.

``mcptrace run`` starts redaction_client.py, which starts redaction_server.py over stdio
and pushes the whole secret corpus through spawns, ``os.system``, URL opens, exceptions,
JSON-RPC errors, tool arguments and results, resource URIs and its own connect records,
once with argument capture off and once with it on.  Then every spool file is searched:
no secret may appear in any form; the benign corpus must arrive unchanged.
"""

from __future__ import annotations

import json
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mcptrace.export.spool_reader import SpanRecord
from mcptrace.record import vocabulary as vocab
from support import PYTHON, clean_env, logs, run_under_mcptrace, spans

HERE = Path(__file__).resolve().parent
CORPORA = HERE.parent / "corpora"
SECRETS: list[dict[str, Any]] = json.loads((CORPORA / "secrets.json").read_text())["entries"]
BENIGN: dict[str, Any] = json.loads((CORPORA / "benign.json").read_text())
pytestmark = pytest.mark.slow


# Resource attributes are user data too: set through OTEL_RESOURCE_ATTRIBUTES they reach every
# record of both processes, so a secret there must not.
RESOURCE_SECRETS = {
    "db.password": "ResPw8hQ2mZx7qLk",
    "vendor.api_key": "ResKey4wKq9z7qAb",
    "deploy.note": "AKIAJ5K6J25LQB7TB5DR",
}
RESOURCE_ATTRIBUTES = ",".join(
    ["deployment.environment=redaction-test", *(f"{k}={v}" for k, v in RESOURCE_SECRETS.items())]
)


@cache
def recorded(capture: bool, base: Path) -> tuple[Path, dict[str, Any]]:
    spool = base / f"spool-capture-{capture}"
    env = clean_env(
        OTEL_RESOURCE_ATTRIBUTES=RESOURCE_ATTRIBUTES,
        MCPTRACE_MAX_EVENTS_PER_SPAN="100000",
        MCPTRACE_CAPTURE_MAX_BYTES="4000000",  # the whole corpus, not its first 4 kB
        OTEL_SPAN_EVENT_COUNT_LIMIT="100000",
        MCPTRACE_REDACT_KEYS="ssn",
        MCPTRACE_REDACT_PATTERNS="ACME-[A-Za-z0-9]{14}",
    )
    options = ["--capture-arguments"] if capture else []
    command = [PYTHON, str(HERE / "redaction_client.py"), str(CORPORA / "secrets.json")]
    done = run_under_mcptrace(
        [*command, str(CORPORA / "benign.json")], spool, *options, env=env, timeout=600
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return spool, json.loads(line[len("RESULT ") :])


@pytest.fixture(scope="module", params=[False, True], ids=["capture-off", "capture-on"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return request.param, *recorded(request.param, tmp_path_factory.getbasetemp())


def spool_text(spool: Path) -> str:
    files = [path for path in spool.rglob("*") if path.is_file()]
    assert files, f"nothing in {spool}"
    return "\n".join(path.read_bytes().decode("utf-8", "replace") for path in files)


def escaped(value: str, times: int) -> str:
    for _ in range(times):
        value = json.dumps(value)[1:-1]
    return value


def test_no_secret_reaches_any_spool_file(run: tuple[bool, Path, dict[str, Any]]) -> None:
    _capture, spool, result = run
    assert result["spawn"] is False and result["fail"] is True  # the calls happened
    text = spool_text(spool)
    leaks = [
        f"{entry['id']}: {secret}"
        for entry in SECRETS
        for secret in entry["secrets"]
        if any(escaped(secret, times) in text for times in (0, 1, 2))
    ]
    assert not leaks, f"{len(leaks)} secret forms leaked:\n" + "\n".join(leaks)
    assert "[REDACTED]" in text


def tool_span(all_spans: list[SpanRecord], tool: str) -> SpanRecord:
    found = [s for s in all_spans if s.name == f"tools/call {tool}" and s.kind == 2]
    assert found, f"no server span for {tool}"
    return found[0]


def spawned_argvs(span: SpanRecord) -> list[list[str]]:
    return [
        list(event.attributes[vocab.PROCESS_COMMAND_ARGS])
        for event in span.events
        if event.name == vocab.PROCESS_SPAWN
    ]


def test_every_channel_recorded_and_benign_values_arrive_intact(
    run: tuple[bool, Path, dict[str, Any]],
) -> None:
    capture, spool, result = run
    all_spans = spans(spool)

    argvs = spawned_argvs(tool_span(all_spans, "spawn"))
    argv_forms = len([e for e in SECRETS if "argv" in e])
    expected = argv_forms + len(SECRETS) + len(BENIGN["argv"])
    assert len(argvs) == expected
    for argv in BENIGN["argv"]:
        assert argv in argvs, f"benign argv changed: {argv}"

    shell = spawned_argvs(tool_span(all_spans, "shell"))
    assert len(shell) == expected
    for argv in BENIGN["argv"]:
        command = ": " + shlex.join(argv) + " >/dev/null 2>&1"
        assert ["/bin/sh", "-c", command] in shell, f"benign command changed: {command}"

    fetched = [
        event.attributes.get(vocab.URL_FULL)
        for event in tool_span(all_spans, "fetch").events
        if vocab.URL_FULL in event.attributes
    ]
    assert len(fetched) >= len([e for e in SECRETS if "url" in e]) + len(BENIGN["urls"])
    for url in BENIGN["urls"]:
        assert url in fetched, f"benign URL changed: {url}"

    uris = [s.attributes.get(vocab.MCP_RESOURCE_URI) for s in all_spans if s.kind == 2]
    assert sum(1 for uri in uris if uri) >= len([e for e in SECRETS if "url" in e])
    connects = [r for r in logs(spool) if r.event_name == vocab.EVENT_CLIENT_CONNECT]
    assert len(connects) >= result["connects"] + 1 > len([e for e in SECRETS if "argv" in e])

    echo = [s for s in all_spans if s.name == "tools/call echo" and s.kind == 2]
    captured = [s.attributes.get(vocab.GEN_AI_TOOL_CALL_ARGUMENTS) for s in echo]
    if not capture:
        assert captured == [None, None]
        return
    benign_call = {"data": {"items": BENIGN["data"]}, "texts": BENIGN["text"]}
    assert benign_call in [json.loads(c) for c in captured if c], "benign arguments changed"
    results = [json.loads(s.attributes[vocab.GEN_AI_TOOL_CALL_RESULT]) for s in echo]
    assert any(json.dumps(benign_call)[1:-1] in json.dumps(r) for r in results)


def test_resource_attributes_lose_their_secrets(run: Any) -> None:
    _capture, spool, _result = run
    text = spool_text(spool)
    for secret in RESOURCE_SECRETS.values():
        assert secret not in text
    resources = [span.resource for span in spans(spool)]
    assert resources and all(r.get("deployment.environment") == "redaction-test" for r in resources)
    assert all(r.get("db.password") == "[REDACTED]" for r in resources)
