"""What ``mcptrace view`` writes to a terminal is inert: no byte from the spool can steer it.

Usage::

    stream = InertStream(sys.stdout)      # every write goes through ``visible``
    stream.write_line(text)               # one line: newlines inside it are shown, not obeyed
    json_text = json_inert(json.dumps(data, ensure_ascii=False))

Tool names, paths, arguments and error messages come from the program being watched, which may
be hostile.  A control character (C0 but newline and tab, DEL, C1), a bidirectional or
invisible formatting character, a lone surrogate or a line separator is shown as a visible
escape (``\\x1b``, ``\\x85``, ``<U+202E>``) instead.  The view's own colours are the only
escape sequences written: ``Style`` marks them with ``STYLE_MARK``, a token chosen at random
per process that no spool content can contain, and only this stream turns the mark into ESC.
"""

from __future__ import annotations

import os
import re
from functools import cache
from typing import TextIO

STYLE_MARK = "\ue000" + os.urandom(8).hex() + "\ue001"

# Unicode's format characters (category Cf) and default-ignorable code points: a terminal
# draws nothing for them, or lets them change what is around them (variation selectors
# 17-256 and tag characters can carry a hidden message inside an innocent-looking name).
_INVISIBLE = (
    "\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160"
    "\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
_C0_BUT_TAB_NEWLINE = "\x00-\x08\x0b-\x1f"


@cache
def _forbidden(one_line: bool) -> re.Pattern[str]:
    """Everything that must never reach the terminal raw (compiled on first use: `view`
    starts fast, and plain ASCII lines never need it)."""
    c0 = "\x00-\x08\x0a-\x1f" if one_line else _C0_BUT_TAB_NEWLINE
    return re.compile(f"[{c0}\x7f-\x9f\ud800-\udfff{_INVISIBLE}]")


def _plain(text: str, one_line: bool) -> bool:
    if not text.isascii():
        return False
    if text.isprintable():
        return True
    rest = text.replace("\t", "") if one_line else text.replace("\t", "").replace("\n", "")
    return rest.isprintable()


_NAMED = {"\n": "\\n", "\r": "\\r", "\x1b": "\\x1b", "\x07": "\\x07", "\x08": "\\x08"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"<U+{code:04X}>"


def js_character_class() -> str:
    """The characters ``visible`` escapes on one line, as the body of a JavaScript regular
    expression class (``u`` flag): the HTML report's script hides exactly these, too."""
    body = _forbidden(True).pattern[1:-1]
    return "".join(char if char == "-" else f"\\u{{{ord(char):x}}}" for char in body)


def visible(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control, bidi and invisible character shown as an escape; with
    ``one_line`` newlines and carriage returns too (data must not start a line of its own)."""
    if _plain(text, one_line):
        return text
    return _forbidden(one_line).sub(_escape, text)


def clipped(text: str, limit: int) -> str:
    """``text`` as ``visible`` shows it on one line, cut to ``limit`` characters with a count
    of the rest: a name thousands of characters long must not push a call's status and the
    lines after it off the screen."""
    shown = visible(text, one_line=True)
    if len(shown) <= limit:
        return shown
    return f"{shown[:limit]}…(+{len(shown) - limit} chars)"


# Scripts whose letters pass for Latin ones: а/a, е/e, о/o, р/p, ѕ/s (Cyrillic), ο/o, ν/v
# (Greek), օ/o (Armenian), Ꭺ/A (Cherokee), ⲟ/o (Coptic), ꓚ/C (Lisu).
LOOKALIKE_SCRIPTS = ("CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC", "LISU")


def _passes_for_ascii(char: str) -> bool:
    import unicodedata

    folded = unicodedata.normalize("NFKC", char)  # ｒ, 𝐫, ﬁ, K (Kelvin): ASCII once folded
    if folded.isascii() and folded.isprintable() and not folded.isspace():
        return True
    return unicodedata.name(char, "").split(" ", 1)[0] in LOOKALIKE_SCRIPTS


# Letters of those scripts drawn like a Latin letter (Unicode's confusables): a name made of
# nothing else, with no ASCII letter at all (Cyrillic "ехес"), passes for an ASCII one.
LOOKALIKE_LETTERS = (
    "аеорсухѕіјԁһӏԛԝәАВЕКМНОРСТХЅІЈҮԚԜӀ"  # Cyrillic
    "αοινκρτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ"  # Greek
    "օսհոզց"  # Armenian
)


def _all_letters_pass_for_ascii(text: str) -> bool:
    import unicodedata

    letters = [c for c in text if c.isalpha()]
    return bool(letters) and all(
        c in LOOKALIKE_LETTERS or unicodedata.normalize("NFKC", c).isascii() for c in letters
    )


def clipped_name(text: str, limit: int) -> str:
    """A name (tool, server, service, session) as ``clipped`` shows it, and in each of its
    space-separated words that has ASCII letters (or whose every letter looks like one),
    every character that passes for ASCII without being it shown as ``<U+XXXX>``: ``rеad_file``
    with a Cyrillic е cannot pass for ``read_file``, nor ``ехес`` (all Cyrillic) for
    ``exec``; a word of another script stays readable beside an ASCII one (``tools/call
    поиск``, the call's name is its method and its tool)."""
    shown = clipped(text, limit)
    if shown.isascii():
        return shown
    # the view's own "…(+N chars)" after a cut is no lookalike (… folds to "...")
    name, cut, rest = shown.rpartition("…(+") if len(shown) > limit else (shown, "", "")
    return " ".join(_word_shown(word) for word in name.split(" ")) + cut + rest


def _word_shown(word: str) -> str:
    if word.isascii() or not (
        any("a" <= c.lower() <= "z" for c in word) or _all_letters_pass_for_ascii(word)
    ):
        return word
    return "".join(
        f"<U+{ord(c):04X}>" if not c.isascii() and _passes_for_ascii(c) else c for c in word
    )


def json_inert(text: str) -> str:
    """JSON text with the characters JSON leaves raw (C1, bidi, invisible, DEL) written as
    ``\\uXXXX`` escapes: the same data, nothing a terminal obeys."""
    if _plain(text, False):
        return text
    return _forbidden(False).sub(
        lambda m: "".join(f"\\u{unit:04x}" for unit in _utf16(m.group(0))), text
    )


def _utf16(char: str) -> list[int]:
    code = ord(char)
    if code < 0x10000:
        return [code]
    code -= 0x10000
    return [0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)]


class InertStream:
    """A text stream wrapper: the one place terminal output of ``mcptrace view`` passes."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        safe = visible(text)
        if STYLE_MARK in safe:
            safe = safe.replace(STYLE_MARK, "\x1b")
        return self.stream.write(safe)

    def write_line(self, text: str) -> None:
        self.write(visible(text, one_line=True) + "\n")

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        try:
            return self.stream.isatty()
        except (AttributeError, ValueError):
            return False

    @property
    def encoding(self) -> str | None:
        return getattr(self.stream, "encoding", None)
