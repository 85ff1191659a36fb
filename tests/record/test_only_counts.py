"""``Recorder.only_counts`` says exactly when ``Recorder.record`` keeps nothing of an
observation (the hook then skips the origin walk and the source hash, issue 20).

Every combination of bucket or span, child process label, ended span, late judge,
past-cap judging, category and fill level around each cap: the prediction must equal what
``record`` then did — nothing kept (no pending record, no record for the judges, nothing past
the cap, nothing open to repeats) exactly when ``only_counts`` said so.
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
        case = (span, label, ended, judge, past_cap, category, fill)
        assert predicted == (not kept_anything(recorder, state, observation)), case
        assert state.counts.get(category, 0) == (0 if ended else 1), case  # counted all the same
        checked += 1
        counted_only += predicted
    assert checked == 2 * 3 * 2 * 2 * 2 * 3 * len(fills)
    assert 0 < counted_only < checked  # both answers occur
