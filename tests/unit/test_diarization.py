"""Diarization logic on synthetic voice prints: clustering, online labels, the time line, words to turns."""

import numpy as np
import pytest

from emopulse.processing import diarization as dz

DIM = 256


def voices(n: int, seed: int = 0) -> np.ndarray:
    """n random unit "voices", about orthogonal in 256 dimensions."""
    v = np.random.default_rng(seed).normal(size=(n, DIM))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def windows_of(centres: np.ndarray, sequence: list[int], noise: float = 0.4, seed: int = 1) -> np.ndarray:
    """One noisy embedding per entry of ``sequence`` (a speaker index): same voice at cosine ~0.85."""
    rng = np.random.default_rng(seed)
    x = centres[sequence] + noise * rng.normal(size=(len(sequence), DIM)) / np.sqrt(DIM)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def turns_sequence(order: list[int], per_turn: int = 10) -> list[int]:
    return [s for s in order for _ in range(per_turn)]


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_well_separated_voices_give_the_right_count_and_first_appearance_labels(n):
    order = [(i + 1) % n for i in range(3 * n)]  # starts with speaker 1 % n, not 0
    seq = turns_sequence(order)
    ids = dz.cluster_speakers(windows_of(voices(n), seq), min_size=3)
    assert len(set(ids)) == n
    # same true speaker <-> same id, and ids are numbered in order of first appearance
    mapping = {}
    for true, got in zip(seq, ids):
        assert mapping.setdefault(true, got) == got
    first = list(dict.fromkeys(ids.tolist()))
    assert first == list(range(n))
    assert [dz.speaker_label(i) for i in first] == [f"S{i + 1}" for i in range(n)]


def test_labels_do_not_depend_on_the_run():
    seq = turns_sequence([0, 1, 2, 1, 0, 2])
    x = windows_of(voices(3), seq)
    a = dz.cluster_speakers(x)
    assert (dz.cluster_speakers(x.copy()) == a).all()
    assert a[0] == 0 and a[seq.index(1)] == 1 and a[seq.index(2)] == 2


def test_min_and_max_speakers_clamp_the_estimate():
    seq = turns_sequence([0, 1, 2, 3, 0, 1, 2, 3])
    x = windows_of(voices(4), seq)
    assert len(set(dz.cluster_speakers(x))) == 4
    assert len(set(dz.cluster_speakers(x, max_speakers=2))) == 2
    assert len(set(dz.cluster_speakers(x, min_speakers=5))) == 5
    one = windows_of(voices(1), [0] * 20)
    assert len(set(dz.cluster_speakers(one))) == 1
    assert len(set(dz.cluster_speakers(one, min_speakers=2))) == 2
    assert len(set(dz.cluster_speakers(one, min_speakers=3, max_speakers=2))) == 2


def test_a_few_odd_windows_are_not_a_speaker():
    seq = turns_sequence([0, 1, 0, 1])
    x = windows_of(voices(3), seq)
    x[5] = voices(3)[2]  # one window of a voice heard nowhere else (a cough, a window across a change)
    assert len(set(dz.cluster_speakers(x, min_size=1))) == 3
    ids = dz.cluster_speakers(x, min_size=3)
    assert len(set(ids)) == 2 and ids[5] in (0, 1)


def test_empty_and_single_inputs():
    assert dz.cluster_speakers(np.zeros((0, DIM))).tolist() == []
    assert dz.cluster_speakers(voices(1)).tolist() == [0]


def test_online_labels_are_stable_across_a_stream():
    c = voices(3, seed=4)
    seq = turns_sequence([0, 1, 0, 2, 1, 2, 0], per_turn=6)
    x = windows_of(c, seq, seed=5)
    online = dz.OnlineClusterer(threshold=0.5)
    given = [online.assign(e) for e in x]
    # the first speaker is S1, then labels follow first appearance, and each voice keeps its label
    mapping = {}
    for true, label in zip(seq, given):
        assert mapping.setdefault(true, label) == label
    assert [mapping[0], mapping[1], mapping[2]] == ["S1", "S2", "S3"]
    assert online.speakers == ["S1", "S2", "S3"]
    # more of the same voices later: still the same labels, nothing relabelled, nobody new
    more = windows_of(c, [2, 0, 1], seed=6)
    assert [online.assign(e) for e in more] == [mapping[2], mapping[0], mapping[1]]
    assert online.speakers == ["S1", "S2", "S3"]


def test_online_opens_a_new_speaker_past_the_threshold_unless_full():
    c = voices(3, seed=7)
    online = dz.OnlineClusterer(threshold=0.5, max_speakers=2)
    assert online.assign(c[0]) == "S1"
    assert online.assign(c[0] * 0.9 + c[1] * 0.1) == "S1"  # close to S1
    assert online.assign(c[1]) == "S2"
    assert online.assign(c[2]) in ("S1", "S2")  # a third voice, but at most two speakers
    assert online.speakers == ["S1", "S2"]


def test_sliding_windows_stay_inside_regions():
    w = dz.sliding_windows([(0.0, 2.0), (3.0, 3.3), (5.0, 5.1)], window_s=1.0, hop_s=0.4, min_s=0.2)
    inside = [x for x in w if x[1] <= 2.0]
    assert inside[0] == (0.0, 1.0) and inside[-1] == (1.0, 2.0)
    assert all(b - a == pytest.approx(1.0) for a, b in inside)
    assert all(x[0] >= 0 and x[1] <= 2.0 for x in inside)
    starts = [a for a, _ in inside]
    assert np.allclose(np.diff(starts)[:-1], 0.4)
    assert (3.0, 3.3) in w  # a short reply is one window of its own length
    assert all(a < 5.0 for a, _ in w)  # shorter than min_s: skipped


def test_window_audio_repeats_a_short_window():
    audio = np.arange(16_000 * 3, dtype=np.float32)
    out = dz.window_audio(audio, [(0.0, 1.0), (2.0, 2.25)], window_s=1.0)
    assert out.shape == (2, 16_000)
    np.testing.assert_array_equal(out[0], audio[:16_000])
    short = audio[32_000:36_000]
    np.testing.assert_array_equal(out[1], np.resize(short, 16_000))


def test_label_timeline_meets_at_midpoints_and_joins_one_speaker():
    windows = [(0.0, 1.0), (0.5, 1.5), (1.0, 2.0), (1.5, 2.5), (4.0, 4.4)]
    labels = ["S1", "S1", "S2", "S2", "S1"]
    seg = dz.label_timeline(windows, labels)
    assert [s.speaker for s in seg] == ["S1", "S2", "S1"]
    assert seg[0].start == 0.0 and seg[0].end == pytest.approx(1.25)  # centres 1.0 and 1.5
    assert seg[1].start == pytest.approx(1.25) and seg[1].end == 2.5
    assert (seg[2].start, seg[2].end) == (4.0, 4.4)


def W(a, b, t="w"):
    return dz.Word(a, b, t)


def test_words_get_the_speaker_they_overlap_most():
    seg = [dz.Segment(0.0, 1.0, "S1"), dz.Segment(1.0, 2.0, "S2")]
    words = [W(0.1, 0.4), W(0.8, 1.1), W(0.9, 1.4), W(2.5, 2.7)]
    assert dz.word_speakers(words, seg) == ["S1", "S1", "S2", "S2"]  # last: nearest segment
    assert dz.word_speakers(words, []) == [None] * 4


def test_words_to_turns_cuts_exactly_at_speaker_changes():
    words = [W(0.0, 0.3, "hello"), W(0.35, 0.6, "there"), W(0.9, 1.1, "hi"), W(1.2, 1.5, "how"),
             W(1.5, 1.8, "are"), W(1.8, 2.0, "you"), W(2.4, 2.6, "fine")]
    speakers = ["S1", "S1", "S2", "S2", "S2", "S2", "S1"]
    turns = dz.words_to_turns(words, speakers)
    assert [(t.speaker, t.text) for t in turns] == [("S1", "hello there"), ("S2", "hi how are you"), ("S1", "fine")]
    assert [w for t in turns for w in t.words] == words  # every word once, in order: no cut inside one
    assert [(t.start, t.end) for t in turns] == [(0.0, 0.6), (0.9, 2.0), (2.4, 2.6)]
    for before, after in zip(turns, turns[1:]):
        assert before.end <= after.start


def test_words_to_turns_keeps_unknown_words_in_their_turn():
    words = [W(0, 1, "a"), W(1, 2, "b"), W(2, 3, "c"), W(3, 4, "d")]
    turns = dz.words_to_turns(words, [None, "S2", None, "S1"])
    assert [(t.speaker, t.text) for t in turns] == [("S2", "a b c"), ("S1", "d")]
    assert dz.words_to_turns([], []) == []
    with pytest.raises(ValueError):
        dz.words_to_turns(words, ["S1"])


def test_diarize_drops_silent_windows_and_lays_speakers_on_the_time_line():
    c = voices(2, seed=9)
    windows = [(0.2 * i, 0.2 * i + 0.6) for i in range(10)] + [(3.0 + 0.2 * i, 3.6 + 0.2 * i) for i in range(10)]
    x = windows_of(c, [0] * 10 + [1] * 10, seed=10)
    x[3] = 0.0  # a silent window: no voice print
    seg = dz.diarize(windows, x, hop_s=0.2, min_speaker_s=1.0)
    assert [s.speaker for s in seg] == ["S1", "S2"]
    assert (seg[0].start, seg[0].end) == (0.0, pytest.approx(2.4)) and (seg[1].start, seg[1].end) == (3.0, pytest.approx(5.4))
    assert dz.diarize([], np.zeros((0, DIM))) == []
    assert dz.min_windows(1.0, 0.2) == 5 and dz.min_windows(0.0, 0.2) == 1
