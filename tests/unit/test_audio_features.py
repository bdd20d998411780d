import numpy as np
import pytest

from emopulse.labels import SAMPLE_RATE
from emopulse.processing.audio_features import (
    AUDIO_EMBEDDING_DIM,
    FEATURE_NAMES,
    audio_embedding,
    frame_signal,
    mel_filterbank,
    pitch_track,
)

IDX = {name: i for i, name in enumerate(FEATURE_NAMES)}


def tone(freq, seconds=1.0, amp=0.5):
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_frame_signal_shapes_and_content():
    x = np.arange(1000, dtype=np.float32)
    f = frame_signal(x, 400, 160)
    assert f.shape == (1 + int(np.ceil((1000 - 400) / 160)), 400)
    np.testing.assert_array_equal(f[1, :5], [160, 161, 162, 163, 164])
    assert f[-1, -1] == 0  # zero-padded tail
    assert frame_signal(np.zeros(0, np.float32), 400, 160).shape == (1, 400)
    assert frame_signal(np.ones(10, np.float32), 400, 160).shape == (1, 400)


def test_mel_filterbank_covers_spectrum():
    fb = mel_filterbank()
    assert fb.shape == (40, 257)
    assert (fb >= 0).all() and (fb <= 1.0 + 1e-6).all()
    assert (fb.sum(axis=1) > 0).all()  # no empty band, even the narrow low ones
    centres = fb.argmax(axis=1)
    assert (np.diff(centres) >= 0).all() and centres[-1] > 200  # ascending, reaching ~8 kHz


@pytest.mark.parametrize("freq", [110.0, 180.0, 260.0])
def test_pitch_of_a_tone(freq):
    f0, voiced = pitch_track(tone(freq))
    assert voiced.mean() > 0.9
    assert np.median(f0[voiced]) == pytest.approx(freq, rel=0.03)
    emb = audio_embedding(tone(freq))
    assert 100 * 2 ** emb[IDX["pitch_mean_oct"]] == pytest.approx(freq, rel=0.03)


def test_embedding_shape_and_dtype():
    emb = audio_embedding(tone(200.0))
    assert emb.shape == (AUDIO_EMBEDDING_DIM,) and emb.dtype == np.float32
    assert len(FEATURE_NAMES) == AUDIO_EMBEDDING_DIM


@pytest.mark.parametrize(
    "samples",
    [np.zeros(0, np.float32), np.zeros(7, np.float32), np.zeros(SAMPLE_RATE, np.float32),
     np.full(SAMPLE_RATE, np.nan, np.float32), np.ones(3, np.float32)],
    ids=["empty", "tiny", "silence", "nan", "three-samples"],
)
def test_degenerate_input_is_finite(samples):
    emb = audio_embedding(samples)
    assert emb.shape == (AUDIO_EMBEDDING_DIM,)
    assert np.isfinite(emb).all()
    assert emb[IDX["voiced_fraction"]] == 0.0


def test_louder_and_noisier_signals_differ_as_expected():
    rng = np.random.default_rng(0)
    quiet, loud = audio_embedding(tone(200, amp=0.05)), audio_embedding(tone(200, amp=0.5))
    assert loud[IDX["energy_mean"]] > quiet[IDX["energy_mean"]] + 0.9  # 10x amplitude = +1 log10
    noise = audio_embedding((0.3 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32))
    assert noise[IDX["zcr_mean"]] > loud[IDX["zcr_mean"]]
    assert noise[IDX["voiced_fraction"]] < 0.2
    assert audio_embedding(tone(200, seconds=2))[IDX["log_duration"]] == pytest.approx(np.log1p(2), abs=1e-4)


def test_syllable_rate_counts_bursts():
    # 8 tone bursts of 60 ms separated by 190 ms gaps: ~4 bursts per second of audio.
    burst = np.concatenate([tone(150, 0.06), np.zeros(int(0.19 * SAMPLE_RATE), np.float32)])
    x = np.tile(burst, 8)
    emb = audio_embedding(x)
    # The rate is per second of *active* audio (the bursts, ~8 x 60-80 ms): 8 peaks / ~0.6 s.
    assert 8 <= emb[IDX["syllable_rate"]] <= 20
    # A steady tone has no syllable structure.
    assert audio_embedding(tone(150, 2.0))[IDX["syllable_rate"]] < 2
