"""Library machinery's events (``mcptrace.origin = library``) in the view: listed, dimmed,
after the tool's own, never in a warning colour; the tool's own exec stays flagged."""

from __future__ import annotations

from mcptrace.record import vocabulary as v
from mcptrace.view.model import Activity
from mcptrace.view.terminal import Style, activity_lines

LIBRARY_COMPILE = {
    v.CODE_OPERATION: "compile",
    v.CODE_FILENAME: "<string>",
    v.ORIGIN: v.LIBRARY,
    v.ORIGIN_MODULE: "dataclasses",
    v.ORIGIN_LIBRARY: "h11",
}
OWN_COMPILE = {v.CODE_OPERATION: "compile", v.CODE_FILENAME: "<string>"}
LIBRARY_READ = {
    v.FILE_PATH: "/srv/app/tool.py",
    v.FILE_ACCESS: "read",
    v.ORIGIN: v.LIBRARY,
    v.ORIGIN_MODULE: "tokenize",
    v.ORIGIN_LIBRARY: "tokenize",
}


def activity() -> Activity:
    found = Activity()
    found.add_event(v.CODE_EXEC, 1, LIBRARY_COMPILE)
    found.add_event(v.CODE_EXEC, 2, {**LIBRARY_COMPILE, v.EVENT_REPEATS: 30})
    found.add_event(v.FILE_OPEN, 3, LIBRARY_READ)
    found.add_event(v.CODE_EXEC, 4, OWN_COMPILE)
    return found


def test_library_events_are_kept_apart_and_not_flagged() -> None:
    items = activity().as_dict()["items"]
    library = [item for item in items if "library" in item]
    own = [item for item in items if "library" not in item]
    assert {(i["category"], i["count"], i["library"]) for i in library} == {
        ("code", 32, "dataclasses via h11"),
        ("file", 1, "tokenize"),
    }
    assert not any(i["flagged"] for i in library)
    assert [(i["action"], i["flagged"]) for i in own] == [("compile", True)]


def test_terminal_lists_them_dimmed_after_the_tools_own() -> None:
    lines = activity_lines(activity(), Style(colour=True), ("file", "code"))
    dim, yellow = "\x1b[2m", "\x1b[33m"
    library = [line for line in lines if "(library)" in line]
    assert len(library) == 2
    assert all(line.startswith(dim) and yellow not in line for line in library)
    assert any("×32 · dataclasses via h11" in line for line in library)
    own = next(i for i, line in enumerate(lines) if "compile" in line and "(library)" not in line)
    assert own < lines.index(library[0])  # the tool's own first
    assert yellow in lines[own]  # and flagged as before
    plain = activity_lines(activity(), Style(colour=False), ("file", "code"))
    assert "file     read (library) /srv/app/tool.py · tokenize" in plain
