"""The last redaction of finished spans (record/span_redaction.py) over the secret corpus.

``redact_span`` reads an SDK ``ReadableSpan``'s status, events and scope from its fields and
looks for user-data attributes only when one of their names is there; any other span class
goes through its properties.  For every secret form, written into a foreign tracer's span
(the status message, an exception event, each user-data attribute, under keys that are
``str`` subclasses too), the SDK's class and a subclass read through its properties must
come out the same, each field as ``redact_text`` gives it, and no secret ``redact_text``
removes may survive anywhere in the span.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, Status, StatusCode

from mcptrace.record.redact import redact_text
from mcptrace.record.span_redaction import USER_DATA_ATTRIBUTES, redact_span
from mcptrace.record.vocabulary import MCPTRACE_SCOPE

CORPORA = Path(__file__).resolve().parent.parent / "corpora"
SECRETS: list[dict[str, Any]] = json.loads((CORPORA / "secrets.json").read_text())["entries"]


class _PropertySpan(ReadableSpan):
    """Not the SDK's own class: read through its properties."""


class _Key(str):
    """An attribute key that is a ``str`` subclass (a foreign tracer's own names)."""


def _texts(entry: dict[str, Any]) -> list[str]:
    texts = [str(entry[key]) for key in ("text", "url") if key in entry]
    if "argv" in entry:
        texts.append(shlex.join(entry["argv"]))
    if "data" in entry:
        texts.append(json.dumps(entry["data"]))
    return texts


CASES = [(entry["id"], text, entry["secrets"]) for entry in SECRETS for text in _texts(entry)]


def _span(kind: type[ReadableSpan], text: str, key: type[str] = str, scope: str = "httpx") -> Any:
    attributes: dict[str, Any] = {key(name): text for name in USER_DATA_ATTRIBUTES}
    attributes[key("process.command_args")] = (text, "--flag")
    attributes["other.attribute"] = text  # not user data: left as the tracer set it
    return kind(
        name="GET",
        context=SpanContext(0xABC, 0xDEF, is_remote=False),
        attributes=attributes,
        events=[
            Event("log", {"message": text}),
            Event("exception", {"exception.message": text, "exception.stacktrace": text}),
        ],
        status=Status(StatusCode.ERROR, text),
        instrumentation_scope=InstrumentationScope(scope),
    )


def _fields(span: ReadableSpan) -> Any:
    return (
        span.status.status_code,
        span.status.description,
        [(str(k), v) for k, v in (span.attributes or {}).items()],
        [(event.name, dict(event.attributes or {})) for event in span.events],
        span.instrumentation_scope,
    )


@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[0] for c in CASES])
def test_the_fields_read_directly_redact_as_the_properties_and_redact_text_do(case: int) -> None:
    _, text, secrets = CASES[case]
    expected = redact_text(text)
    direct = _fields(redact_span(_span(ReadableSpan, text)))
    assert direct == _fields(redact_span(_span(_PropertySpan, text)))
    assert direct == _fields(redact_span(_span(ReadableSpan, text, _Key)))
    assert direct == _fields(redact_span(_span(_PropertySpan, text, _Key)))
    _, description, attributes, events, _ = direct
    assert description == expected
    values = dict(attributes)
    for name in USER_DATA_ATTRIBUTES:
        if name != "process.command_args":
            assert values[name] == expected, name
    assert values["process.command_args"] == (expected, "--flag")
    assert values["other.attribute"] == text
    assert events[0] == ("log", {"message": text})
    exception = events[1][1]
    assert exception == {"exception.message": expected, "exception.stacktrace": expected}
    removed = [secret for secret in secrets if secret not in expected]
    user_data = json.dumps([description, [values[name] for name in USER_DATA_ATTRIBUTES]])
    assert not any(secret in user_data or secret in json.dumps(exception) for secret in removed)


@pytest.mark.parametrize("name", USER_DATA_ATTRIBUTES)
def test_each_user_data_attribute_alone_is_redacted(name: str) -> None:
    """A span carrying one user-data attribute among others (the set check must know each)."""
    text = "https://user:hunter2secret@example.com/cb?token=abcdef123456&x=1"
    for kind in (ReadableSpan, _PropertySpan):
        for key in (str, _Key):
            span = kind(
                name="GET",
                context=SpanContext(0xABC, 0xDEF, is_remote=False),
                attributes={"http.method": "GET", key(name): text, "z": 1},
                instrumentation_scope=InstrumentationScope("httpx"),
            )
            redacted = dict(redact_span(span).attributes or {})
            assert redacted[name] == redact_text(text) != text
            assert redacted["http.method"] == "GET" and redacted["z"] == 1


def test_mcptraces_own_spans_keep_their_attributes_and_redact_status_and_events() -> None:
    """mcptrace redacts its own attributes where it records them: only the status and the
    exception events of its spans pass here again, whichever class holds them."""
    text = "https://user:hunter2secret@example.com/?token=abcdef123456"
    for kind in (ReadableSpan, _PropertySpan):
        span = redact_span(_span(kind, text, scope=MCPTRACE_SCOPE))
        assert (span.attributes or {})["url.full"] == text
        assert span.status.description == redact_text(text) != text
        assert span.events[1].attributes == {
            "exception.message": redact_text(text),
            "exception.stacktrace": redact_text(text),
        }


def test_a_span_with_nothing_to_redact_is_returned_as_it_is() -> None:
    for kind in (ReadableSpan, _PropertySpan):
        span = _span(kind, "plain text")
        assert redact_span(span) is span
