import numpy as np
import pytest

from emopulse.labels import SAMPLE_RATE
from emopulse.processing.media import (
    MediaError,
    MediaInfo,
    decode_audio,
    from_pcm16,
    group_regions,
    probe,
    speech_regions,
    split_segment_words,
    to_pcm16,
)
from tests import media


# ---------------------------------------------------------------- probe / decode


def test_probe_talking_clip(talking_clip):
    path, times = talking_clip
    info = probe(path)
    assert isinstance(info, MediaInfo)
    assert info.has_audio and info.has_video
    assert (info.width, info.height) == media.SIZE
    assert info.fps == pytest.approx(media.FPS)
    expected = times[-1][1] + 0.5  # lead-out silence after the last sentence
    assert info.duration_s == pytest.approx(expected, abs=0.15)


def test_decode_audio_is_16k_mono_float(talking_clip):
    path, times = talking_clip
    x = decode_audio(path)
    assert x.dtype == np.float32 and x.ndim == 1
    assert np.abs(x).max() <= 1.0
    assert np.abs(x).max() > 0.1  # real speech, not silence
    expected = (times[-1][1] + 0.5) * SAMPLE_RATE
    assert abs(len(x) - expected) < 0.15 * SAMPLE_RATE


def test_decode_audio_is_time_aligned_with_the_source(talking_clip):
    """The decoded signal lines up with what was placed (no AAC priming offset)."""
    path, _ = talking_clip
    src, _ = media.speech_track(media.SHORT_SENTENCES)
    x = decode_audio(path)
    n = min(len(src), len(x)) - 2000
    lags = range(-800, 801, 4)
    corr = [np.dot(src[4000:n], x[4000 + k : n + k]) for k in lags]
    assert abs(lags[int(np.argmax(corr))]) <= 8  # within half a millisecond


def test_audio_only_and_silent_video(media_dir):
    a = media.make_audio_only(media_dir)
    info = probe(a)
    assert info.has_audio and not info.has_video and info.width is None
    assert len(decode_audio(a)) > SAMPLE_RATE

    s = media.make_silent_video(media_dir, duration_s=3.0)
    info = probe(s)
    assert info.has_audio and info.has_video
    x = decode_audio(s)
    assert abs(len(x) / SAMPLE_RATE - 3.0) < 0.15
    assert np.abs(x).max() < 1e-3
    assert speech_regions(x) == []


# ---------------------------------------------------------------- bad inputs


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bad")


@pytest.mark.parametrize("fn", [probe, decode_audio])
def test_zero_byte(bad_dir, fn):
    with pytest.raises(MediaError, match=r"^the file is empty$"):
        fn(media.make_zero_byte(bad_dir))


@pytest.mark.parametrize("fn", [probe, decode_audio])
def test_random_bytes(bad_dir, fn):
    with pytest.raises(MediaError, match=r"^the file is not a readable audio/video container \("):
        fn(media.make_random_bytes(bad_dir))


@pytest.mark.parametrize("fn", [probe, decode_audio])
def test_text_file(bad_dir, fn):
    with pytest.raises(MediaError, match=r"^the file is not a readable audio/video container"):
        fn(media.make_text_file(bad_dir))


def test_missing_file(bad_dir):
    with pytest.raises(MediaError, match="does not exist"):
        probe(bad_dir / "nope.mp4")


@pytest.mark.parametrize("fn", [probe, decode_audio])
def test_truncated_mp4_index_missing(talking_clip, bad_dir, fn):
    bad = media.make_truncated(talking_clip[0], bad_dir / "trunc.mp4")
    assert 0 < bad.stat().st_size < talking_clip[0].stat().st_size
    with pytest.raises(MediaError, match=r"^the file is truncated or corrupt"):
        fn(bad)


def test_truncated_faststart_mp4(bad_dir):
    clip, _ = media.make_talking_clip(bad_dir / "fs.mp4", media.SHORT_SENTENCES, faststart=True)
    bad = media.make_truncated(clip, bad_dir / "fs_trunc.mp4")
    info = probe(bad)  # the index is intact, so it still opens ...
    assert info.has_audio
    with pytest.raises(MediaError, match=r"^the audio track is truncated or corrupt"):
        decode_audio(bad)  # ... but its audio stops early


def test_video_only_has_no_audio(bad_dir):
    v = media.make_video_only(bad_dir)
    info = probe(v)
    assert info.has_video and not info.has_audio
    with pytest.raises(MediaError, match=r"^the file has no audio track$"):
        decode_audio(v)


def test_media_error_is_value_error():
    assert issubclass(MediaError, ValueError)


# ---------------------------------------------------------------- pcm16


def test_pcm16_round_trip():
    x = np.sin(np.linspace(0, 40, 8000)).astype(np.float32) * 0.9
    b = to_pcm16(x)
    assert isinstance(b, bytes) and len(b) == 2 * len(x)
    assert b[:2] == int(round(float(x[0]) * 32767)).to_bytes(2, "little", signed=True)
    y = from_pcm16(b)
    assert y.dtype == np.float32
    assert np.max(np.abs(x - y)) < 1.0 / 32767


def test_pcm16_clips_and_little_endian():
    b = to_pcm16(np.array([2.0, -2.0, 0.5], np.float32))
    assert b[:2] == (32767).to_bytes(2, "little", signed=True)
    assert b[2:4] == (-32767).to_bytes(2, "little", signed=True)
    assert np.all(np.abs(from_pcm16(b)) <= 1.0)
    assert from_pcm16(b"").shape == (0,)
    with pytest.raises(ValueError):
        from_pcm16(b"\x00")


# ---------------------------------------------------------------- voice activity


def test_speech_regions_find_each_sentence(talking_clip):
    path, times = talking_clip
    regions = speech_regions(decode_audio(path))
    assert len(regions) == len(times), regions
    for (s, e), (ps, pe) in zip(regions, times):
        assert abs(s - ps) < 0.4, (regions, times)
        assert abs(e - pe) < 0.4, (regions, times)


def test_speech_regions_other_rate_and_silence():
    from scipy.signal import resample_poly

    x, times = media.speech_track(media.SHORT_SENTENCES[:2])
    x8 = resample_poly(x, 1, 2).astype(np.float32)  # 8 kHz
    regions = speech_regions(x8, 8000)
    assert len(regions) == 2
    assert abs(regions[0][0] - times[0][0]) < 0.4
    assert speech_regions(np.zeros(SAMPLE_RATE * 2, np.float32)) == []
    assert speech_regions(np.zeros(10, np.float32)) == []


def test_speech_regions_options_matter():
    x, _ = media.speech_track(media.SHORT_SENTENCES, gap_s=0.8)
    # a minimum silence longer than the gaps joins all sentences into one region
    assert len(speech_regions(x, min_silence_duration_ms=1500)) == 1


# ---------------------------------------------------------------- group_regions


def test_group_regions_merges_close_neighbours():
    r = [(0.0, 1.0), (1.2, 2.0), (5.0, 6.0)]
    assert group_regions(r, max_len_s=10, max_gap_s=0.5) == [(0.0, 2.0), (5.0, 6.0)]
    assert group_regions(r, max_len_s=10, max_gap_s=5) == [(0.0, 6.0)]
    assert group_regions(r, max_len_s=10, max_gap_s=0.1) == r


def test_group_regions_respects_max_len():
    r = [(0.0, 3.0), (3.1, 6.0), (6.1, 9.0)]
    out = group_regions(r, max_len_s=6.5, max_gap_s=1)
    assert out == [(0.0, 6.0), (6.1, 9.0)]
    assert all(e - s <= 6.5 for s, e in out)


def test_group_regions_cuts_long_region():
    out = group_regions([(0.0, 25.0)], max_len_s=10, max_gap_s=1)
    assert len(out) == 3
    assert out[0][0] == 0.0 and out[-1][1] == 25.0
    assert all(e - s <= 10 + 1e-9 for s, e in out)
    assert all(a[1] == pytest.approx(b[0]) for a, b in zip(out, out[1:]))  # contiguous


def test_group_regions_edge_cases():
    assert group_regions([], 10, 1) == []
    assert group_regions([(2.0, 2.0), (3.0, 1.0)], 10, 1) == []  # empty / inverted dropped
    assert group_regions([(5.0, 6.0), (0.0, 1.0)], 10, 0.1) == [(0.0, 1.0), (5.0, 6.0)]  # unsorted
    assert group_regions([(0.0, 2.0), (1.0, 3.0)], 10, 0) == [(0.0, 3.0)]  # overlap merged
    out = group_regions([(0.0, 2.0), (1.0, 3.0)], 2.5, 0)  # overlap that cannot merge: no overlap out
    assert out == [(0.0, 2.0), (2.0, 3.0)]
    assert group_regions([(0.0, 10.0)], 10, 1) == [(0.0, 10.0)]  # exactly max_len: not cut
    with pytest.raises(ValueError):
        group_regions([(0, 1)], 0, 1)


# ---------------------------------------------------------------- split_segment_words


def _words(spec):
    """'text@start-end ...' → [(text, start, end)]"""
    out = []
    for tok in spec.split():
        text, span = tok.rsplit("@", 1)
        s, e = span.split("-")
        out.append((text, float(s), float(e)))
    return out


def _texts(pieces):
    return [" ".join(w[0] for w in p) for p in pieces]


def test_split_short_utterance_untouched():
    w = _words("hello@0-0.5 there@0.6-1.0")
    assert split_segment_words(w, 5) == [w]
    assert split_segment_words([], 5) == []


def test_split_prefers_largest_gap():
    w = _words("a@0-1 b@1.1-2 c@2.1-3 d@4.0-5 e@5.1-6")  # 1 s pause before d
    assert _texts(split_segment_words(w, 4)) == ["a b c", "d e"]


def test_split_prefers_punctuation_over_balance():
    w = _words("I@0-0.5 won.@0.55-1 Then@1.05-1.5 we@1.55-2 left@2.05-2.5 home@2.55-3 happily@3.05-3.6")
    assert _texts(split_segment_words(w, 3)) == ["I won.", "Then we left home happily"]


def test_split_pieces_fit_and_cover_all_words():
    rng = np.random.default_rng(0)
    t, w = 0.0, []
    for i in range(60):
        d = float(rng.uniform(0.15, 0.6))
        w.append((f"w{i}", t, t + d))
        t += d + float(rng.uniform(0.0, 0.4))
    pieces = split_segment_words(w, 4.0)
    assert [x for p in pieces for x in p] == w
    assert all(p[-1][2] - p[0][1] <= 4.0 for p in pieces)
    assert len(pieces) >= int(np.ceil((w[-1][2] - w[0][1]) / 4.0))


def test_split_single_overlong_word_kept():
    w = _words("a@0-1 loooong@1-9 b@9-10")
    pieces = split_segment_words(w, 3)
    assert _texts(pieces) == ["a", "loooong", "b"]
    with pytest.raises(ValueError):
        split_segment_words(w, 0)
