"""Utterance-level audio embedding from log-mel and prosody statistics (pure numpy).

No speech-emotion weights exist offline, so the audio "embedding" is hand-made features that a
trained fusion head can use later. Layout of ``audio_embedding`` (AUDIO_EMBEDDING_DIM = 91):

  [0:40]   mean over frames of log-mel energies (40 bands, 0-8 kHz, 25 ms Hann / 10 ms hop)
  [40:80]  std over frames of the same
  [80:83]  frame log10 RMS energy: mean, std, max
  [83:85]  zero-crossing rate per sample: mean, std
  [85]     voiced fraction (frames with an autocorrelation pitch, of all frames)
  [86:89]  pitch over voiced frames, in octaves relative to 100 Hz: mean, std, range (max - min)
  [89]     speaking-rate proxy: energy-envelope peaks (syllable nuclei) per second of active audio
  [90]     log(1 + duration in seconds)

Empty, very short or silent input gives finite values (zeros where a statistic is undefined).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from emopulse.labels import SAMPLE_RATE

N_MELS = 40
FRAME_LEN = 400  # 25 ms at 16 kHz
HOP = 160  # 10 ms
N_FFT = 512
PITCH_FRAME_LEN = 640  # 40 ms: room for two periods at 60 Hz... nearly; fmin 70 Hz
PITCH_FMIN = 70.0
PITCH_FMAX = 400.0
VOICING_THRESHOLD = 0.5  # normalised autocorrelation peak
ENERGY_FLOOR = 1e-5
LOG_MEL_FLOOR = 1e-10
AUDIO_EMBEDDING_DIM = 2 * N_MELS + 11

FEATURE_NAMES: tuple[str, ...] = (
    tuple(f"logmel_mean_{i}" for i in range(N_MELS))
    + tuple(f"logmel_std_{i}" for i in range(N_MELS))
    + (
        "energy_mean", "energy_std", "energy_max", "zcr_mean", "zcr_std", "voiced_fraction",
        "pitch_mean_oct", "pitch_std_oct", "pitch_range_oct", "syllable_rate", "log_duration",
    )
)
assert len(FEATURE_NAMES) == AUDIO_EMBEDDING_DIM


def frame_signal(x: np.ndarray, frame_len: int, hop: int) -> np.ndarray:
    """Split a 1-D signal into overlapping frames [n_frames, frame_len] (a copy).

    The tail is zero-padded so every sample lands in a frame; an input shorter than one frame
    (even empty) gives a single zero-padded frame.
    """
    if frame_len <= 0 or hop <= 0:
        raise ValueError("frame_len and hop must be positive")
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    n = len(x)
    n_frames = 1 + max(0, -(-(n - frame_len) // hop))
    padded = np.zeros((n_frames - 1) * hop + frame_len, dtype=np.float32)
    padded[:n] = x
    idx = np.arange(frame_len)[None, :] + hop * np.arange(n_frames)[:, None]
    return padded[idx]


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=4)
def mel_filterbank(
    n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE,
    fmin: float = 0.0, fmax: float | None = None,
) -> np.ndarray:
    """Triangular HTK-mel filterbank [n_mels, n_fft//2 + 1] (peak 1 per filter)."""
    fmax = sample_rate / 2 if fmax is None else fmax
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    hz = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    up = (freqs[None, :] - lower) / np.maximum(centre - lower, 1e-9)
    down = (upper - freqs[None, :]) / np.maximum(upper - centre, 1e-9)
    fb = np.clip(np.minimum(up, down), 0.0, None)
    return fb.astype(np.float32)


def log_mel(frames: np.ndarray) -> np.ndarray:
    """Frames [T, FRAME_LEN] -> natural-log mel power [T, N_MELS]."""
    window = np.hanning(frames.shape[1]).astype(np.float32)
    spec = np.abs(np.fft.rfft(frames * window, n=N_FFT, axis=1)) ** 2
    return np.log(spec @ mel_filterbank().T + LOG_MEL_FLOOR).astype(np.float32)


def pitch_track(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Autocorrelation pitch per 10 ms frame: (f0 Hz [T], voiced bool [T]); f0 is 0 where unvoiced."""
    frames = frame_signal(x, PITCH_FRAME_LEN, HOP).astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    n = frames.shape[1]
    spec = np.fft.rfft(frames, n=2 * n, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :n]
    # Unbias (divide by the number of overlapping samples) so long lags are not penalised, then
    # normalise by lag 0.
    ac = ac / (n - np.arange(n))[None, :]
    energy = ac[:, 0]
    lo = int(sample_rate / PITCH_FMAX)
    hi = min(int(sample_rate / PITCH_FMIN), n // 2)
    norm = ac[:, lo : hi + 1] / np.maximum(energy[:, None], 1e-12)
    best = np.argmax(norm, axis=1)
    peak = norm[np.arange(len(norm)), best]
    # Prefer the shortest lag whose peak is close to the best (avoids sub-octave errors).
    close = norm >= 0.9 * peak[:, None]
    local_max = np.zeros_like(close)
    local_max[:, 1:-1] = (norm[:, 1:-1] >= norm[:, :-2]) & (norm[:, 1:-1] >= norm[:, 2:])
    cand = close & local_max
    first = np.where(cand.any(axis=1), np.argmax(cand, axis=1), best)
    # Parabolic interpolation around the chosen lag.
    i = np.clip(first, 1, norm.shape[1] - 2)
    rows = np.arange(len(norm))
    a, b, c = norm[rows, i - 1], norm[rows, i], norm[rows, i + 1]
    denom = a - 2 * b + c
    shift = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / np.where(denom == 0, 1, denom), 0.0)
    lag = lo + i + np.clip(shift, -1, 1)
    rms = np.sqrt(np.maximum(energy, 0))
    loud = rms > max(ENERGY_FLOOR * 10, 0.03 * float(rms.max(initial=0.0)))
    voiced = (norm[rows, first] >= VOICING_THRESHOLD) & loud & (energy > 0)
    f0 = np.where(voiced, sample_rate / np.maximum(lag, 1e-6), 0.0)
    return f0.astype(np.float32), voiced


def _syllable_rate(log_energy: np.ndarray, active: np.ndarray, hop_s: float) -> float:
    """Peaks of the smoothed log-energy envelope per second of active audio."""
    if active.sum() < 3:
        return 0.0
    k = np.ones(5) / 5
    env = np.convolve(log_energy, k, mode="same")
    peaks = np.zeros_like(active)
    peaks[1:-1] = (env[1:-1] > env[:-2]) & (env[1:-1] >= env[2:]) & active[1:-1]
    # Keep peaks that rise at least 0.1 (log10, i.e. 2 dB) above the lower neighbouring valley
    # within 100 ms and are at least 100 ms apart.
    idx = np.flatnonzero(peaks)
    kept: list[int] = []
    for p in idx:
        left = env[max(0, p - 10) : p + 1].min()
        right = env[p : p + 11].min()
        if env[p] - max(left, right) < 0.1:
            continue
        if kept and p - kept[-1] < 10:
            if env[p] > env[kept[-1]]:
                kept[-1] = p
            continue
        kept.append(int(p))
    return len(kept) / (active.sum() * hop_s)


def audio_embedding(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """float32 mono 16 kHz samples -> float32 [AUDIO_EMBEDDING_DIM] (see module docstring)."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"expected {SAMPLE_RATE} Hz audio, got {sample_rate}")
    x = np.nan_to_num(np.asarray(samples, dtype=np.float32).reshape(-1))
    out = np.zeros(AUDIO_EMBEDDING_DIM, dtype=np.float32)
    if x.size == 0:
        return out
    duration = x.size / sample_rate
    frames = frame_signal(x, FRAME_LEN, HOP)
    lm = log_mel(frames)
    out[0:N_MELS] = lm.mean(axis=0)
    out[N_MELS : 2 * N_MELS] = lm.std(axis=0)

    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    log_e = np.log10(rms + ENERGY_FLOOR)
    out[80:83] = (log_e.mean(), log_e.std(), log_e.max())
    signs = np.signbit(frames)
    zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
    out[83:85] = (zcr.mean(), zcr.std())

    f0, voiced = pitch_track(x, sample_rate)
    out[85] = voiced.mean() if voiced.size else 0.0
    if voiced.any():
        octaves = np.log2(f0[voiced] / 100.0)
        out[86:89] = (octaves.mean(), octaves.std(), octaves.max() - octaves.min())
    active = (log_e > log_e.max() - 1.5) & (rms > ENERGY_FLOOR * 10)  # within 30 dB of the peak
    out[89] = _syllable_rate(log_e, active, HOP / sample_rate)
    out[90] = np.log1p(duration)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
