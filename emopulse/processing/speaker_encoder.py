"""GE2E speaker encoder (resemblyzer's VoiceEncoder) in plain torch: audio windows -> 256-d voice prints.

The weights are ``resemblyzer/pretrained.pt`` inside the PyPI wheel (installed --no-deps, never
imported: its audio code needs librosa and webrtcvad). What resemblyzer does is reimplemented here:

- mel: librosa.feature.melspectrogram defaults as resemblyzer calls it: 16 kHz, n_fft = win = 400
  (25 ms), hop 160 (10 ms), periodic Hann window, centred frames with zero padding, power 2, 40
  Slaney-scale mel bands with Slaney area normalisation, no log;
- network: 3-layer LSTM (40 -> 256), the last layer's final hidden state, linear 256 + ReLU, L2 norm.

A window of N samples gives N // 160 frames (1.6 s -> 160, resemblyzer's partial utterance).
resemblyzer first raises the whole file's loudness to -30 dBFS (never lowers it); ``embed_windows``
does that per window, so a live stream's windows are treated like a file's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
EMBEDDING_DIM = 256
TARGET_DBFS = -30.0
_INT16_MAX = 2**15 - 1


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa htk=False): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] triangular filters, as librosa.filters.mel(sr, n_fft, n_mels)."""
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return weights.astype(np.float32)


class MelFrames(nn.Module):
    """[B, N] audio -> [B, N // HOP, N_MELS] power mel frames (resemblyzer's wav_to_mel_spectrogram)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("window", torch.hann_window(N_FFT, periodic=True), persistent=False)
        self.register_buffer("fbank", torch.from_numpy(mel_filterbank()), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(audio, N_FFT, HOP, N_FFT, self.window, center=True, pad_mode="constant",
                          return_complex=True)
        power = spec.real**2 + spec.imag**2  # [B, freq, frames]
        mel = torch.matmul(self.fbank, power).transpose(1, 2)
        return mel[:, : audio.shape[-1] // HOP]


class VoiceEncoder(nn.Module):
    """GE2E: mel frames [B, T, 40] -> L2-normalised embeddings [B, 256] (non-negative, ReLU)."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(N_MELS, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, EMBEDDING_DIM)
        self.relu = nn.ReLU()

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        raw = self.relu(self.linear(hidden[-1]))
        return raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-12)


def load_voice_encoder(path: str | Path, device: str = "cpu") -> VoiceEncoder:
    """The encoder with resemblyzer's trained weights (its GE2E similarity scalars are not needed)."""
    state = torch.load(str(path), map_location="cpu", weights_only=True)["model_state"]
    model = VoiceEncoder()
    model.load_state_dict({k: v for k, v in state.items() if not k.startswith("similarity_")})
    return model.to(device).eval()


def raise_loudness(audio: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Scale each row up to ``target_dbfs`` RMS, never down (resemblyzer's normalize_volume, increase_only)."""
    audio = np.asarray(audio, dtype=np.float32)
    rms = np.sqrt(np.mean((audio.astype(np.float64) * _INT16_MAX) ** 2, axis=-1, keepdims=True))
    change_db = target_dbfs - 20 * np.log10(np.maximum(rms, 1e-9) / _INT16_MAX)
    gain = np.where((change_db > 0) & (rms > 1e-6), 10 ** (change_db / 20), 1.0)
    return (audio * gain).astype(np.float32)


_MEL = MelFrames()


@torch.no_grad()
def embed_windows(model: VoiceEncoder, audio: np.ndarray, device: str = "cpu", normalise: bool = True) -> np.ndarray:
    """float32 [B, N] 16 kHz windows (N >= 400) -> float32 [B, 256], each row of L2 norm 1.

    A silent window has no voice print: its row is all zeros (norm 0), so callers can drop it.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 2 or audio.shape[1] < N_FFT:
        raise ValueError(f"audio must be [batch, samples >= {N_FFT}], got {list(audio.shape)}")
    silent = np.sqrt(np.mean(audio.astype(np.float64) ** 2, axis=1)) < 1e-6
    if normalise:
        audio = raise_loudness(audio)
    x = torch.from_numpy(audio)
    mels = _MEL(x).to(device)
    emb = model(mels).float().cpu().numpy()
    emb[silent] = 0.0
    return np.ascontiguousarray(emb, dtype=np.float32)
