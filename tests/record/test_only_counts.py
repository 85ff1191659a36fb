"""``Recorder.only_counts`` says exactly when ``Recorder.record`` keeps nothing of an
observation (the hook then skips the origin walk and the source hash, issue 20).

Every combination of bucket or span, child process label, ended span, late judge,
past-cap judging, category and fill level around each cap: the prediction must equal what
``record`` then did — nothing kept (no pending record, no record for the judges, nothing past
the cap, nothing open to repeats) exactly when ``only_counts`` said so.  (Past start-up's
judges' budget ``record`` keeps only suspect observations, which the hook cannot tell before
the origin walk: ``only_counts`` is False there, and these observations are all suspect;
the second test covers the ones left out.)
"""

from __future__ import annotations

import itertools

from mcptrace.record import vocabulary as ev
from mcptrace.record.observation import Observation
from mcptrace.record.recorder import JUDGE_ONLY_LIMIT, PROCESS, Recorder
from mcptrace.record.state import SpanState

SPAN_CAP = 4


def kept_anything(recorder: Recorder, state: SpanState, observation: Observation) -> bool:
    before = (len(recorder.pending), len(recorder.judge_only), len(state.recent))
    recorder.record(observation, state, ev.CONTEXT, 1)
    after = (len(recorder.pending), len(recorder.judge_only), len(state.recent))
    return after != before or state.past_cap is not None


def test_only_counts_matches_what_record_keeps() -> None:
    log_cap = SPAN_CAP * 8
    fills = sorted(
        {0, SPAN_CAP - 1, SPAN_CAP, log_cap - 1, log_cap, JUDGE_ONLY_LIMIT - 1, JUDGE_ONLY_LIMIT}
    )
    checked = counted_only = 0
    for span, label, ended, judge, past_cap, category, fill in itertools.product(
        (False, True),
        ("", PROCESS, "startup"),
        (False, True),
        (False, True),
        (False, True),
        (ev.CODE, ev.IMPORT, ev.FILE),
        fills,
    ):
        recorder = Recorder(SPAN_CAP)
        if judge:
            recorder.late_detector = lambda *args: []  # type: ignore[assignment]
        recorder.judge_past_cap = past_cap
        state = SpanState(object() if span else None, label=label)
        state.ended = ended
        state.kept[category] = fill
        observation = Observation("mcptrace.test", category, {"n": checked}, "test")
        predicted = recorder.only_counts(state, category)
        judges_only = recorder.judged_only(state, category)
        pending = len(recorder.pending)
        case = (span, label, ended, judge, past_cap, category, fill)
        assert predicted == (not kept_anything(recorder, state, observation)), case
        if judges_only:  # nothing emitted: the hook may leave out what only a record reads
            assert len(recorder.pending) == pending and not state.events, case
        assert state.counts.get(category, 0) == (0 if ended else 1), case  # counted all the same
        checked += 1
        counted_only += predicted
    assert checked == 2 * 3 * 2 * 2 * 2 * 3 * len(fills)
    assert 0 < counted_only < checked  # both answers occur


def _observation(name: str, category: str, attributes: dict[str, object]) -> Observation:
    return Observation(name, category, attributes, "test")


def test_past_the_judges_budget_start_up_still_keeps_what_a_detection_could_be_about() -> None:
    """Start-up's span-less bucket keeps JUDGE_ONLY_LIMIT actions per category for the late
    judge; importing a large library (typing, dataclasses, pydantic) compiles thousands of
    strings first.  Past that budget an action a detection could be about is still judged:
    the tool's own compile, any compile importing a module by name, a secret's path.  Only
    library machinery's compiles without an import, and cleared paths, are left out."""
    recorder = Recorder(SPAN_CAP)
    recorder.late_detector = lambda *args: []  # type: ignore[assignment]
    state = SpanState(None, label="startup")
    state.kept[ev.CODE] = JUDGE_ONLY_LIMIT + 10
    state.kept[ev.FILE] = JUDGE_ONLY_LIMIT + 10
    assert not recorder.only_counts(state, ev.CODE)  # the hook marks origin and scans source
    library = {ev.ORIGIN: ev.LIBRARY, ev.CODE_OPERATION: "compile", ev.CODE_FILENAME: "<string>"}
    cases = [
        (_observation(ev.CODE_EXEC, ev.CODE, {ev.CODE_OPERATION: "compile"}), True),
        (_observation(ev.CODE_EXEC, ev.CODE, {**library, ev.CODE_IMPORTS_MODULE: True}), True),
        (_observation(ev.CODE_EXEC, ev.CODE, {**library, ev.ORIGIN: "machinery"}), False),
        (_observation(ev.CODE_EXEC, ev.CODE, library), False),
        (_observation(ev.CODE_DESERIALIZE, ev.CODE, library), True),
        (_observation(ev.FILE_OPEN, ev.FILE, {ev.FILE_PATH: "/home/u/.aws/credentials"}), True),
        (_observation(ev.FILE_OPEN, ev.FILE, {ev.FILE_PATH: "/tmp/scratch/cache.txt"}), False),
    ]
    for observation, judged in cases:
        before = len(recorder.judge_only)
        recorder.record(observation, state, ev.CONTEXT, 1)
        assert (len(recorder.judge_only) == before + 1) == judged, observation
    # within the budget every action is judged but library machinery's code no detection
    # could be about (issue 20: judging thousands of them cost start-up's log thread)
    within = SpanState(None, label="startup")
    within.kept[ev.CODE] = within.kept[ev.FILE] = SPAN_CAP + 1
    before = len(recorder.judge_only)
    cleared = _observation(ev.FILE_OPEN, ev.FILE, {ev.FILE_PATH: "/tmp/scratch/cache.txt"})
    for observation, judged in [
        (_observation(ev.CODE_EXEC, ev.CODE, library), False),
        (_observation(ev.CODE_EXEC, ev.CODE, {**library, ev.CODE_IMPORTS_MODULE: True}), True),
        (_observation(ev.CODE_EXEC, ev.CODE, {ev.CODE_OPERATION: "exec"}), True),
        (_observation(ev.CODE_DESERIALIZE, ev.CODE, library), True),
        (cleared, True),
    ]:
        recorder.record(observation, within, ev.CONTEXT, 1)
        assert (len(recorder.judge_only) == before + 1) == judged, observation
        before = len(recorder.judge_only)
    assert within.counts[ev.CODE] == 4  # counted all the same


def test_library_code_named_by_a_file_is_judged() -> None:
    """zipimport compiling a module from an archive in /tmp is library machinery's compile
    (``defense-evasion.zip-module-from-writable`` judges it by its file, whoever compiled
    it): a code event named by a file is kept for the judges, within the budget and past it;
    pseudo names (``<string>``, ``<attrs generated ...>``) are not."""
    recorder = Recorder(SPAN_CAP)
    recorder.late_detector = lambda *args: []  # type: ignore[assignment]
    for fill in (SPAN_CAP + 1, JUDGE_ONLY_LIMIT + 10):
        state = SpanState(None, label="startup")
        state.kept[ev.CODE] = fill
        for filename, judged in [
            ("/tmp/x/payload.zip/mod.py", True),
            ("/usr/lib/python3/dist-packages/pkg/__init__.py", True),
            ("<string>", False),
            ("<attrs generated init x.A>", False),
        ]:
            attributes = {
                ev.ORIGIN: ev.LIBRARY,
                ev.CODE_OPERATION: "compile",
                ev.CODE_FILENAME: filename,
            }
            before = len(recorder.judge_only)
            recorder.record(_observation(ev.CODE_EXEC, ev.CODE, attributes), state, "none", 1)
            assert (len(recorder.judge_only) == before + 1) == judged, (fill, filename)
