"""glob_to_regex escapes runs of plain characters at once and remembers each pattern (the
built-in detections compile ~2,000 globs at start-up): the regex it returns must stay the
one the character-by-character translation gives, for every glob a rule file may hold."""

from __future__ import annotations

import random
import re

from mcptrace.policy.detect import load_detection_rules
from mcptrace.policy.matchers import glob_to_regex


def reference(pattern: str) -> str:
    """The translation one character at a time (the behaviour the policy docs describe)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if pattern.startswith("/**", i) and i + 3 == n:
            out.append("(?:/.*)?")
            i += 3
        elif pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 2 if pattern.startswith("[!", i) else i + 1)
            if end < 0:
                out.append(re.escape(char))
                i += 1
                continue
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


def builtin_globs() -> list[str]:
    globs: list[str] = []
    for rule in load_detection_rules(None):
        for field in ("paths", "exclude_paths", "executables", "hosts", "exclude_hosts", "globals"):
            globs.extend(getattr(rule, field, ()) or ())
    return globs


def test_every_builtin_glob_translates_as_before() -> None:
    globs = builtin_globs()
    assert len(globs) > 300
    for pattern in globs:
        assert glob_to_regex(pattern) == reference(pattern), pattern


def test_random_globs_translate_as_before() -> None:
    alphabet = [
        "*",
        "**",
        "?",
        "[",
        "]",
        "!",
        "/",
        "/**",
        "**/",
        ".",
        "a",
        "é",
        "\\",
        "-",
        " ",
        "$",
    ]
    rng = random.Random(20)
    for _ in range(20_000):
        pattern = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert glob_to_regex(pattern) == reference(pattern), repr(pattern)
        assert glob_to_regex(pattern) == reference(pattern), repr(pattern)  # remembered
