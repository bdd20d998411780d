"""Late fusion of per-modality probabilities (pure numpy).

Rows of the modality axis follow ``emopulse.labels.MODALITIES`` (text, audio, vision).
"""

from __future__ import annotations

import numpy as np


def _fuse(probs: np.ndarray, has: np.ndarray, weights: np.ndarray) -> np.ndarray:
    probs = np.nan_to_num(np.asarray(probs, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    probs = np.clip(probs, 0.0, None)
    has = np.asarray(has, dtype=bool)
    w = np.clip(np.nan_to_num(np.asarray(weights, dtype=np.float64), nan=0.0), 0.0, None)
    # A modality's own distribution is renormalised first, so a slightly-off input cannot tilt
    # the mix; a modality whose row sums to 0 counts as absent.
    row_sum = probs.sum(axis=-1, keepdims=True)
    has = has & (row_sum[..., 0] > 0)
    probs = np.divide(probs, row_sum, out=np.zeros_like(probs), where=row_sum > 0)
    w = np.where(has, w, 0.0)  # [B, M]
    w_sum = w.sum(axis=-1, keepdims=True)
    # Weights renormalised over the modalities that have probabilities; where all of those have
    # weight 0, they count equally.
    eq = has.astype(np.float64)
    eq_sum = eq.sum(axis=-1, keepdims=True)
    w = np.where(w_sum > 0, w / np.where(w_sum > 0, w_sum, 1.0), eq / np.where(eq_sum > 0, eq_sum, 1.0))
    fused = np.einsum("bm,bmk->bk", w, probs)
    k = probs.shape[-1]
    nothing = eq_sum[:, 0] == 0
    fused[nothing] = 1.0 / k
    fused /= fused.sum(axis=-1, keepdims=True)
    return fused.astype(np.float32)


def late_fusion(
    emotion_probs: np.ndarray,
    has_emotion: np.ndarray,
    sentiment_probs: np.ndarray,
    has_sentiment: np.ndarray,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted average of the modalities that have probabilities, per head.

    emotion_probs [B,3,7], has_emotion [B,3] bool, sentiment_probs [B,3,3], has_sentiment [B,3]
    bool, weights [B,3] (non-negative; renormalised over the modalities present for each head).
    Returns (emotion [B,7], sentiment [B,3]) float32, each row summing to 1; a head with no
    modality gives the uniform distribution.
    """
    emotion_probs = np.asarray(emotion_probs)
    sentiment_probs = np.asarray(sentiment_probs)
    if emotion_probs.ndim != 3 or sentiment_probs.ndim != 3:
        raise ValueError("emotion_probs and sentiment_probs must be [B, modalities, classes]")
    return (
        _fuse(emotion_probs, has_emotion, weights),
        _fuse(sentiment_probs, has_sentiment, weights),
    )
