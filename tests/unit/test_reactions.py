"""Reactions, the pure parts: which moments are read while nobody speaks (files and live streams alike),
which recorded picture shows one, and how fusion counts the answers and sums them up."""
from __future__ import annotations

import pytest

from emopulse.labels import EMOTIONS
from emopulse.processing import fusion
from emopulse.processing.reactions import LiveReactions, merge_spans, picture_at, reaction_times
from emopulse.v1 import events_pb2 as ev
from emopulse.v1 import results_pb2 as pb


def test_no_speech_reads_the_whole_grid():
    assert reaction_times([], 7.0, 2.0) == [0.0, 2.0, 4.0, 6.0]
    assert reaction_times([], 6.0, 2.0) == [0.0, 2.0, 4.0]  # the end itself is past the last frame


def test_speech_and_its_margin_are_left_out():
    # speech 3.7-6.2: 2.0 is clear, 4 and 6 are inside, 6.6 would be within 0.5 s (8 is clear)
    assert reaction_times([(3.7, 6.2)], 11.0, 2.0) == [0.0, 2.0, 8.0, 10.0]
    assert reaction_times([(2.4, 3.0)], 5.0, 2.0) == [0.0, 4.0]   # 2.0 is 0.4 s before the speech
    assert reaction_times([(0.3, 1.0)], 3.0, 1.0) == [2.0]        # 0.0 is 0.3 s before it


def test_order_overlaps_and_every_speech_span_count():
    spans = [(9.0, 9.5), (3.0, 4.0), (3.5, 5.0)]
    assert merge_spans(spans) == [(3.0, 5.0), (9.0, 9.5)]
    times = reaction_times(spans, 12.0, 1.0)
    assert times == [0.0, 1.0, 2.0, 6.0, 7.0, 8.0, 11.0]  # 10.0 is just 0.5 s after 9.5
    assert times == reaction_times(list(reversed(spans)), 12.0, 1.0)  # deterministic, whatever the order
    for t in times:
        assert all(not (s - 0.5 <= t <= e + 0.5) for s, e in spans)


def test_off_and_empty():
    assert reaction_times([], 10.0, 0.0) == []
    assert reaction_times([], 0.0, 2.0) == []
    assert reaction_times([(0.0, 10.0)], 10.0, 2.0) == []
    assert LiveReactions(0.0).due(100.0, None, -1.0) == []


def test_live_decides_each_point_once_audio_past_its_margin_is_heard():
    clock = LiveReactions(2.0)
    assert clock.due(2.4, None, -1.0) == [0.0]      # 0 is decided at 0.5 s; 2 not yet (needs 2.5 s)
    assert clock.due(2.5, None, -1.0) == [2.0]
    assert clock.due(2.6, None, -1.0) == []          # each point once
    # speech started at 5.7 (within 0.5 s after 6): 4 is clear, 6 is not
    assert clock.due(6.6, 5.7, -1.0) == [4.0]
    # the speech ended at 8.3: 8 is inside, 10 is clear once 10.5 s are heard
    assert clock.due(10.5, None, 8.3) == [10.0]
    assert clock.due(12.5, None, 11.7) == []          # 12 is within 0.5 s after speech that ended at 11.7


def test_live_matches_the_file_rule_on_the_same_speech():
    speech, every, end = [(1.1, 3.2), (7.05, 8.0)], 1.0, 12.0
    clock, seen, heard = LiveReactions(every), [], 0.0
    while heard < end:
        heard = round(heard + 0.032, 3)
        current = next((s for s, e in speech if s <= heard < e), None)
        ended = max([e for s, e in speech if e <= heard], default=-1.0)
        upcoming = next((s for s, e in speech if heard < s <= heard + 1e-9), None)
        seen += clock.due(heard, current if current is not None else upcoming, ended)
    assert seen == reaction_times(speech, end - 0.5, every)


def test_a_new_holder_goes_on_after_the_last_request():
    clock = LiveReactions(2.0)
    clock.start_at(6.0 + 2.0 / 2)      # the last request was at 6.0 (time + every/2, as ingest does)
    clock.start_at(5.0)                # never back
    assert clock.due(12.0, None, -1.0) == [8.0, 10.0]


def test_the_picture_of_a_moment():
    pictures = [(0.0, "a"), (0.5, "b"), (1.0, "c"), (5.0, "d")]
    assert picture_at(pictures, 0.9, 2.0) == (0.5, "b")
    assert picture_at(pictures, 1.0, 2.0) == (1.0, "c")
    assert picture_at(pictures, 4.0, 2.0) is None      # the picture stopped 3 s before
    assert picture_at(pictures, -0.1, 2.0) is None
    assert picture_at([], 3.0, 2.0) is None


def answer(index: int, top: str | None) -> ev.ReactionFeature:
    if top is None:
        return ev.ReactionFeature(job_id="j", index=index)
    expression = [0.9 if e == top else 0.1 / 6 for e in EMOTIONS]
    face = pb.Face(time_s=index * 2.0, box=pb.Box(x=1, y=2, width=50, height=50), expression=expression)
    return ev.ReactionFeature(job_id="j", index=index, reaction=pb.Reaction(
        index=index, time_s=index * 2.0, faces=[face], expression=expression, classifier="c", model_version="1"))


def test_fusion_notes_each_answer_once_and_waits_for_all():
    record = ev.FusionJob(done=ev.TranscriptDone(job_id="j", reaction_count=3))
    assert not fusion.reactions_answered(record)
    assert fusion.add_reaction(record, answer(2, "sadness"))
    assert fusion.add_reaction(record, answer(0, None))
    assert not fusion.add_reaction(record, answer(2, "sadness"))  # a redelivered answer
    assert list(record.reacted) == [0, 2] and not fusion.reactions_answered(record)
    assert fusion.add_reaction(record, answer(1, "sadness"))
    assert list(record.reacted) == [0, 1, 2] and fusion.reactions_answered(record)
    assert [r.index for r in record.reactions] == [2, 1] and not record.reactions[0].faces  # kept small
    assert fusion.reactions_answered(ev.FusionJob(done=ev.TranscriptDone(job_id="j")))  # none asked for


def test_a_summary_without_speech_tells_of_its_reactions():
    record = ev.FusionJob()
    for i, top in enumerate(["sadness", "sadness", None, "joy"]):
        fusion.add_reaction(record, answer(i, top))
    summary = fusion.summarise([], 8.0, "", "no speech detected", record.reactions)
    assert summary.reaction_count == 3 and summary.note == "no speech detected; 3 reactions read"
    assert max(summary.reaction_expression, key=summary.reaction_expression.get) == "sadness"
    assert sum(summary.reaction_expression.values()) == pytest.approx(1.0, abs=1e-5)
    plain = fusion.summarise([], 3.0, "", "no speech detected")
    assert plain.reaction_count == 0 and not plain.reaction_expression and plain.note == "no speech detected"
