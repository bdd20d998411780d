"""Conversations, pure parts: utterances cut at sentence ends and speaker changes, a chunk cut through
speech reconciled with the next (no word lost or doubled), the batch speaker linker on synthetic voice
prints, speaker bounds, and the per-speaker summary."""
from __future__ import annotations

import numpy as np
import pytest

from emopulse.labels import EMOTIONS
from emopulse.processing import diarization as dz
from emopulse.processing import media
from emopulse.processing.fusion import speaker_summaries
from emopulse.processing.utterances import (Cut, carry_point, chunk_words, cut_utterances, ends_sentence,
                                            settle_changes, split_turns, with_carry)
from emopulse.v1 import results_pb2 as pb


def seg(words):
    return {"start": words[0][1], "end": words[-1][2], "text": "".join(w[0] for w in words),
            "words": [{"word": w, "start": s, "end": e, "probability": 0.9} for w, s, e in words]}


def test_one_speakers_sentences_without_a_pause_stay_one_utterance():
    assert ends_sentence(" there.") and ends_sentence(" you?") and ends_sentence(' "Stop!"')
    assert not ends_sentence(" Mr.") and not ends_sentence(" well...") and not ends_sentence(" so,")
    words = [(" Hello.", 0.0, 0.4), (" Oh,", 0.5, 0.7), (" hello", 0.7, 1.0), (" Mr.", 1.0, 1.2), (" Smith.", 1.2, 1.6)]
    cuts = cut_utterances([seg(words)], 0.0, [(0.0, 2.0)], 15)
    assert [c.text for c in cuts] == ["Hello. Oh, hello Mr. Smith."]


def test_whisper_segment_ends_are_not_cuts():
    # Whisper ended a segment mid-phrase ("I heard a" | "beep."): one utterance
    first, second = [(" I", 0.0, 0.2), (" heard", 0.2, 0.5), (" a", 0.5, 0.6)], [(" beep.", 0.6, 1.0)]
    cuts = cut_utterances([seg(first), seg(second)], 0.0, [(0.0, 1.2)], 15)
    assert [c.text for c in cuts] == ["I heard a beep."]


def test_speaker_changes_cut_between_words_and_label_each_utterance():
    words = [(" Are", 0.0, 0.2), (" you", 0.2, 0.4), (" there", 0.4, 0.7), (" yes", 0.8, 1.1), (" I", 1.1, 1.2),
             (" am", 1.2, 1.5)]
    timeline = [dz.Segment(0.0, 0.75, "S1"), dz.Segment(0.75, 1.6, "S2")]
    cuts = cut_utterances([seg(words)], 10.0, [(10.0, 11.6)], 15,
                          [dz.Segment(s.start + 10, s.end + 10, s.speaker) for s in timeline])
    assert [(c.speaker, c.text) for c in cuts] == [("S1", "Are you there"), ("S2", "yes I am")]
    assert cuts[1].start_s == pytest.approx(10.8)
    assert sum(len(c.words) for c in cuts) == len(words)


def test_without_a_timeline_utterances_have_no_speaker():
    cuts = cut_utterances([seg([(" Hi.", 0.0, 0.3)])], 0.0, [(0.0, 0.5)], 15)
    assert cuts[0].speaker == ""


def test_split_turns_for_a_live_utterance():
    cut = Cut(0.0, 1.5, [(" No", 0.0, 0.3), (" way.", 0.3, 0.6), (" Yes", 0.9, 1.2), (" way.", 1.2, 1.5)], "No way. Yes way.")
    turns = split_turns(cut, [dz.Segment(0.0, 0.7, "S2"), dz.Segment(0.7, 1.5, "S1")])
    assert [(t.speaker, t.text, t.start_s, t.end_s) for t in turns] == [("S2", "No way.", 0.0, 0.6),
                                                                        ("S1", "Yes way.", 0.9, 1.5)]
    assert split_turns(cut, []) == [cut]


# ---- a chunk cut through speech: carry and reconcile ---------------------------------------------
def test_carry_point_falls_in_the_best_gap_before_the_cut_and_never_inside_a_word():
    words = [(" one", 10.0, 10.4), (" two.", 10.5, 10.9), (" three", 11.3, 11.7), (" four", 11.75, 12.2),
             (" fi", 19.6, 20.0)]  # "five" clipped by the cut at 20.0
    point = carry_point(words, 0.0, 20.0)
    assert point == pytest.approx((12.2 + 19.6) / 2)  # the long silence, before the doubtful word
    assert all(not (s < point < e) for _, s, e, *_ in [(w[0], w[1], w[2]) for w in words])


def test_carry_point_prefers_a_sentence_end_within_reach():
    words = [(" a", 15.0, 15.3), (" b.", 15.35, 15.7), (" c", 15.8, 16.1), (" d", 16.15, 16.5), (" e", 19.5, 19.99)]
    assert carry_point(words, 0.0, 20.0, max_carry_s=4.5) == pytest.approx((16.5 + 19.5) / 2)
    words = [(" a", 15.0, 15.3), (" b.", 15.35, 15.7), (" c", 15.75, 16.1), (" d", 16.12, 16.5), (" e", 18.8, 19.99)]
    point = carry_point(words, 0.0, 20.0, max_carry_s=4.5)
    assert point in (pytest.approx((15.7 + 15.75) / 2), pytest.approx((16.5 + 18.8) / 2))


def test_carry_point_with_nothing_near_the_cut_carries_from_the_last_word_and_is_bounded():
    assert carry_point([(" hi", 1.0, 1.4)], 0.0, 20.0) == pytest.approx(12.0)  # at most MAX_CARRY_S back
    assert carry_point([(" hi", 17.0, 17.4)], 0.0, 20.0) == pytest.approx(17.4)
    assert carry_point([], 0.0, 20.0) is None
    assert carry_point([(" w", 19.0, 19.98)], 15.0, 20.0) >= 15.0  # never before the chunk's own start


def test_with_carry_joins_the_tail_without_a_pause_at_the_join():
    sr = media.SAMPLE_RATE
    prev = media.SpeechChunk(0.0, 20.0, np.arange(20 * sr, dtype=np.float32), [(0.5, 20.0)])
    nxt = media.SpeechChunk(20.0, 30.0, np.full(10 * sr, -1.0, np.float32), [(20.0, 28.0)])
    joined = with_carry(prev, 16.0, nxt)
    assert (joined.start_s, joined.end_s) == (16.0, 30.0)
    assert joined.regions == [(16.0, 28.0)]
    assert joined.samples[0] == 16 * sr and len(joined.samples) == 14 * sr and joined.samples[-1] == -1.0
    assert with_carry(prev, 0.0, nxt) is nxt and with_carry(None, 16.0, nxt) is nxt


def test_a_long_monologue_in_chunks_loses_and_doubles_no_word():
    """Simulated Whisper on each chunk's audio: it hears every word wholly inside the audio it is
    given and, like the real one, sometimes a clipped word at the very end (as a wrong fragment)."""
    script = [(f" w{i}{'.' if i % 9 == 8 else ''}", 0.3 + i * 0.45, 0.3 + i * 0.45 + 0.38) for i in range(130)]
    end_s = script[-1][2] + 0.3
    chunks, t = [], 0.0
    while t < end_s:  # forced 20 s cuts through continuous speech, as speech_chunks makes them
        chunks.append((t, min(t + 20.0, end_s)))
        t += 20.0

    def whisper(start, end):
        heard = [w for w in script if w[1] >= start - 1e-9 and w[2] <= end + 1e-9]
        clipped = [w for w in script if w[1] < end < w[2]]
        heard += [(w[0][:2] + "~", w[1], end) for w in clipped]  # a fragment of the clipped word
        return [seg([(w, s - start, e - start) for w, s, e in heard])] if heard else []

    published, carry = [], None
    for i, (a, b) in enumerate(chunks):
        start = carry if carry is not None else a
        segments = whisper(start, b)
        goes_on = i + 1 < len(chunks)
        carry = carry_point(chunk_words(segments, start), a, b) if goes_on else None
        for cut in cut_utterances(segments, start, [(start, b)], 15, until_s=carry):
            published += [w[0] for w in cut.words]
    assert published == [w[0] for w in script]


# ---- the batch speaker linker on synthetic voice prints -------------------------------------------
def voices(n, d=32, seed=0):
    rng = np.random.default_rng(seed)
    return dz._unit(rng.normal(size=(n, d)))


def test_a_speaker_change_near_a_sentence_end_moves_to_it():
    texts = [" Is", " it", " ready?", " I", " forgot", " to", " check."]
    # the voice prints heard the change two words late (an overlapping reply): it moves to "ready?"
    late = ["S1", "S1", "S1", "S1", "S1", "S2", "S2"]
    assert settle_changes(texts, late) == ["S1"] * 3 + ["S2"] * 4
    early = ["S1", "S2", "S2", "S2", "S2", "S2", "S2"]  # a word early: back to the sentence end
    assert settle_changes(texts, early) == ["S1"] * 3 + ["S2"] * 4
    # at a sentence end already, too far from one, or with a word of no speaker: left alone
    assert settle_changes(texts, ["S1"] * 3 + ["S2"] * 4) == ["S1"] * 3 + ["S2"] * 4
    far = [" One", " two", " three", " four.", " five", " six", " seven", " eight"]
    assert settle_changes(far, ["S1"] * 7 + ["S2"]) == ["S1"] * 7 + ["S2"]
    assert settle_changes([" Yes", " I", " will."], ["S1", "S2", "S2"]) == ["S1", "S2", "S2"]  # never past the last word
    assert settle_changes(texts, [None, "S1", "S1", "S1", None, "S2", "S2"]) == [None] + ["S1"] * 2 + ["S2"] * 4
    # in cut_utterances: the words "I forgot" leave the first speaker's utterance
    timeline = [dz.Segment(0.0, 2.3, "S1"), dz.Segment(2.3, 4.0, "S2")]
    words = [(t, 0.5 * i, 0.5 * i + 0.4) for i, t in enumerate(texts)]
    cuts = cut_utterances([seg(words)], 0.0, [(0.0, 4.0)], 15, timeline)
    assert [(c.speaker, c.text) for c in cuts] == [("S1", "Is it ready?"), ("S2", "I forgot to check.")]


def noisy(centre, k, seed, noise=0.04):
    rng = np.random.default_rng(seed)
    return dz._unit(centre + noise * rng.normal(size=(k, len(centre))))


def test_assign_batch_keeps_labels_across_batches_and_restores_from_its_prints():
    v = voices(3)
    first = dz.OnlineClusterer()
    a = first.assign_batch(np.concatenate([noisy(v[1], 8, 1), noisy(v[0], 8, 2)]))
    assert a == ["S1"] * 8 + ["S2"] * 8
    resumed = dz.OnlineClusterer(sums=first.prints)  # e.g. after a restart, from the checkpoint
    b = resumed.assign_batch(np.concatenate([noisy(v[0], 6, 3), noisy(v[2], 7, 4), noisy(v[1], 6, 5)]))
    assert b == ["S2"] * 6 + ["S3"] * 7 + ["S1"] * 6
    assert resumed.speakers == ["S1", "S2", "S3"]


def test_assign_batch_silence_and_a_too_short_voice():
    v = voices(2)
    c = dz.OnlineClusterer()
    assert c.assign_batch(np.zeros((3, 32))) == [None, None, None]
    c.assign_batch(noisy(v[0], 10, 1))
    short = c.assign_batch(np.concatenate([noisy(v[1], 2, 2), np.zeros((1, 32))]))  # 2 windows: 0.4 s
    assert short == ["S1", "S1", None] and c.speakers == ["S1"]


def test_max_speakers_is_never_exceeded_and_min_speakers_eases_a_new_voice():
    v = voices(3)
    capped = dz.OnlineClusterer(max_speakers=2)
    for i, centre in enumerate(v):
        capped.assign_batch(noisy(centre, 8, i))
    assert capped.speakers == ["S1", "S2"]
    # two close voices: one speaker by default, two when the user says at least two speak
    close = dz._unit(np.stack([v[0], v[0] + 0.55 * v[1]]))
    distance = 1 - float(close[0] @ close[1])
    assert dz.ONLINE_THRESHOLD * dz.MIN_SPEAKERS_EASING < distance < dz.ONLINE_THRESHOLD
    default, hinted = dz.OnlineClusterer(), dz.OnlineClusterer(min_speakers=2)
    for c in (default, hinted):
        c.assign_batch(noisy(close[0], 8, 1, noise=0.02))
        c.assign_batch(noisy(close[1], 8, 2, noise=0.02))
    assert default.speakers == ["S1"] and hinted.speakers == ["S1", "S2"]


def test_speaker_bounds_are_checked():
    assert dz.bounds_problem(0, 0) == "" and dz.bounds_problem(2, 2) == "" and dz.bounds_problem(1, 20) == ""
    assert "above max_speakers" in dz.bounds_problem(3, 2)
    assert "max_speakers must be between" in dz.bounds_problem(0, 21)
    assert "min_speakers must be between" in dz.bounds_problem(-1, 0)


# ---- per-speaker summary ------------------------------------------------------------------------
def result(speaker, start, end, emotion, sentiment):
    e = [0.0] * 7
    e[EMOTIONS.index(emotion)] = 1.0
    return pb.UtteranceResult(speaker=speaker, start_s=start, end_s=end, emotion=e, sentiment=sentiment)


def test_speaker_summaries_talk_time_sentiment_and_emotions():
    rs = [result("S2", 4, 5, "anger", [0, 0, 1]), result("S1", 0, 3, "joy", [1, 0, 0]),
          result("S1", 5, 6, "neutral", [0, 1, 0]), result("", 7, 8, "joy", [1, 0, 0])]
    s1, s2 = speaker_summaries(rs)
    assert (s1.speaker, s1.utterance_count, s1.talk_time_s, s1.talk_share) == ("S1", 2, 4.0, 0.8)
    assert s1.sentiment == pytest.approx(0.75)  # 3 s positive, 1 s neutral
    assert s1.emotion_distribution["joy"] == 0.5 and s1.emotion_distribution["neutral"] == 0.5
    assert (s2.speaker, s2.talk_share, s2.sentiment) == ("S2", pytest.approx(0.2), -1.0)
    assert s2.mean_sentiment["negative"] == 1.0
    assert speaker_summaries([result("", 0, 1, "joy", [1, 0, 0])]) == []
