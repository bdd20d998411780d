"""Conversations end to end: generated espeak-ng conversations (tests/conversations.py, known turns and
word times) through the whole stack — every utterance is one speaker's, the speakers alternate as
scripted, no scripted word is lost or doubled, and a live stream keeps its speaker labels."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from emopulse.client import file_chunks, speaker_bounds
from emopulse.v1 import results_pb2 as pb
from tests import conversations as gen

pytestmark = pytest.mark.slow


def norm(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def turn_of(result: pb.UtteranceResult, turns) -> int:
    """The scripted turn the utterance overlaps most."""
    overlap = [min(result.end_s, t.end) - max(result.start_s, t.start) for t in turns]
    return max(range(len(turns)), key=overlap.__getitem__)


def labels_follow_voices(results, turns) -> float:
    """The share of utterances whose label is the one most used for their scripted voice, when
    each voice has its own label."""
    by_voice: dict[str, Counter] = {}
    for r in results:
        by_voice.setdefault(turns[turn_of(r, turns)].speaker, Counter())[r.speaker] += 1
    chosen = {voice: counts.most_common(1)[0][0] for voice, counts in by_voice.items()}
    assert len(set(chosen.values())) == len(chosen), f"two voices share a label: {chosen}"
    return sum(counts[chosen[v]] for v, counts in by_voice.items()) / len(results)


@pytest.fixture(scope="module")
def two_speakers(media_dir):
    return gen.make_conversation(media_dir / "two-speakers.wav", 2, seed=5, overlap_share=0.0)


def test_a_two_speaker_conversation_alternates_as_scripted(client, two_speakers):
    conv = two_speakers
    job = client.upload(conv.path, language="en")
    results, last = client.results(job.id, timeout=300)
    assert last.HasField("summary") and client.get_job(job.id).state == pb.SUCCEEDED
    turns = conv.turns
    # one utterance per scripted turn (each is one sentence), each with one speaker's label
    assert [turn_of(r, turns) for r in results] == list(range(len(turns)))
    assert all(r.speaker in ("S1", "S2") for r in results)
    voice_label = {turns[0].speaker: "S1", turns[1].speaker: "S2"}
    assert [r.speaker for r in results] == [voice_label[t.speaker] for t in turns]
    # every utterance's words lie inside its own turn (by their middle: Whisper's word times are a few
    # tenths of a second off): none taken from the other speaker
    for r, t in zip(results, turns):
        assert all(t.start - 0.2 <= (w.start_s + w.end_s) / 2 <= t.end + 0.2 for w in r.words), r.text
    # no word lost or doubled: Whisper mishears some espeak words (a substitution, sometimes one word
    # heard as two), but each turn's words are there once
    script = [norm(t.text) for t in turns]
    heard = [norm(r.text) for r in results]
    for s, h in zip(script, heard):
        assert abs(len(h) - len(s)) <= 2 and edit_distance(s, h) <= max(1, len(s) // 2), (s, h)
    total = sum(edit_distance(s, h) for s, h in zip(script, heard)) / sum(map(len, script))
    assert total < 0.25
    # the summary per speaker
    speakers = last.summary.speakers
    assert [s.speaker for s in speakers] == ["S1", "S2"]
    assert sum(s.utterance_count for s in speakers) == len(results)
    assert sum(s.talk_share for s in speakers) == pytest.approx(1.0)
    for s in speakers:
        spoken = sum(t.end - t.start for t in turns if voice_label[t.speaker] == s.speaker)
        assert s.talk_time_s == pytest.approx(spoken, abs=2.0)


def test_max_speakers_one_gives_one_label_and_bad_bounds_are_refused(client, two_speakers):
    import grpc
    job = client.upload(two_speakers.path, language="en", speakers=speaker_bounds(0, 1))
    assert job.max_speakers == 1
    results, last = client.results(job.id, timeout=300)
    assert results and {r.speaker for r in results} == {"S1"}
    assert [s.speaker for s in last.summary.speakers] == ["S1"]
    with pytest.raises(grpc.RpcError) as refused:
        client.upload(two_speakers.path, speakers=speaker_bounds(3, 2))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "min_speakers (3) is above max_speakers (2)" in refused.value.details()


def test_a_three_speaker_live_stream_keeps_its_labels(client, media_dir):
    conv = gen.make_conversation(media_dir / "three-speakers.wav", 3, seed=11, overlap_share=0.0, n_turns=12)
    stream = client.push_stream(file_chunks(conv.path), name="three speakers", language="en")
    results = [e.result for e in client.subscribe(stream.id, timeout=240) if e.HasField("result")]
    assert len(results) >= len(conv.turns) - 1
    assert {r.speaker for r in results} <= {"S1", "S2", "S3", "S4"} and all(r.speaker for r in results)
    # each voice keeps one label from its first turn to its last
    assert labels_follow_voices(results, conv.turns) >= 0.9
    # the whole stream was recorded (labelling speakers once cost this stream its last seconds): the
    # recording is analysed again like a file, to the last turn
    again, last = client.results(client.analyze_reference(f"stream:{stream.id}").id, timeout=240)
    assert last.HasField("summary") and again
    assert again[-1].end_s > conv.turns[-1].end - 1.0
