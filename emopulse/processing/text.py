"""Text emotion and sentiment: untrained defaults (pure functions).

- Sentiment: the VADER lexicon's compound score mapped to (positive, neutral, negative).
- Emotion: zero-shot, cosine similarity of the MiniLM sentence embedding to prototype embeddings
  of a few example sentences per emotion, softmaxed with a temperature.

Neither was trained on emotion data; they are placeholders until trained heads replace them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from emopulse.labels import EMOTIONS, SENTIMENTS

TEXT_EMOTION_CLASSIFIER = "zero-shot: MiniLM similarity to emotion descriptions (untrained)"
TEXT_SENTIMENT_CLASSIFIER = "VADER lexicon (untrained)"

# VADER's own convention: compound >= 0.05 positive, <= -0.05 negative, otherwise neutral.
VADER_NEUTRAL_THRESHOLD = 0.05
VADER_SHARPNESS = 4.0
DEFAULT_TEMPERATURE = 0.05

# A few sentences per emotion, in the first person like the utterances they are compared with.
EMOTION_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "anger": (
        "I am so angry and furious right now.",
        "This is outrageous, I am sick of it and I won't take it anymore!",
        "Stop it! You make me mad, get out of here.",
    ),
    "disgust": (
        "That is disgusting, it makes me sick.",
        "Ew, gross, I can't even look at it.",
        "I find what you did revolting and repulsive.",
    ),
    "fear": (
        "I am scared and afraid of what might happen.",
        "I'm terrified, please help me, I'm so nervous.",
        "Oh no, I'm worried something terrible is going to happen.",
    ),
    "joy": (
        "I am so happy and excited, this is wonderful!",
        "That's great news, I love it, thank you so much!",
        "We had a fantastic time and I feel great.",
    ),
    "neutral": (
        "Okay, I will see you at the office tomorrow.",
        "The meeting is on Tuesday at three.",
        "Can you pass me the file, please?",
    ),
    "sadness": (
        "I feel so sad and lonely, I miss her.",
        "I'm sorry, it's really depressing and I want to cry.",
        "Everything went wrong and I feel heartbroken.",
    ),
    "surprise": (
        "Wow, really? I can't believe it!",
        "What? Oh my god, that's so unexpected!",
        "No way, are you serious? That's amazing, I had no idea.",
    ),
}
assert tuple(EMOTION_DESCRIPTIONS) == EMOTIONS


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def compound_to_probs(compound: float) -> np.ndarray:
    """Map VADER's compound score c in [-1, 1] to probabilities (positive, neutral, negative).

    softmax(k * [c, 2*t - |c|, -c]) with t = 0.05 and k = 4: the argmax agrees with VADER's own
    thresholds (positive iff c >= t, negative iff c <= -t), a text without sentiment words (c = 0)
    leans neutral (~0.43 vs ~0.28/0.28), and confidence rises smoothly with |c|
    (c = 0.64, "I love this", -> ~0.98 positive).
    """
    c = float(np.clip(np.nan_to_num(compound), -1.0, 1.0))
    logits = VADER_SHARPNESS * np.array(
        [c, 2 * VADER_NEUTRAL_THRESHOLD - abs(c), -c], dtype=np.float64
    )
    e = np.exp(logits - logits.max())
    return (e / e.sum()).astype(np.float32)


def vader_sentiment_probs(text: str) -> np.ndarray:
    """Sentiment probabilities [3] in SENTIMENTS order (positive, neutral, negative), sum 1."""
    assert SENTIMENTS == ("positive", "neutral", "negative")
    if not text or not text.strip():
        return compound_to_probs(0.0)
    return compound_to_probs(_vader().polarity_scores(text)["compound"])


def _l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def build_prototypes(
    embed: Callable[[Sequence[str]], np.ndarray],
    descriptions: dict[str, Sequence[str]] = EMOTION_DESCRIPTIONS,
) -> np.ndarray:
    """Prototype embeddings [7, D]: the normalised mean of each emotion's description embeddings.

    `embed` maps a list of sentences to embeddings [N, D] (e.g. MiniLM mean-pooled).
    """
    protos = []
    for emotion in EMOTIONS:
        vecs = _l2_normalise(embed(list(descriptions[emotion])))
        protos.append(vecs.mean(axis=0))
    return _l2_normalise(np.stack(protos))


def prototype_emotion_probs(
    text_embeddings: np.ndarray,
    prototype_embeddings: np.ndarray,
    temperature: float = DEFAULT_TEMPERATURE,
) -> np.ndarray:
    """Softmax over cosine similarity / temperature: [N, D] x [7, D] -> [N, 7] (EMOTIONS order)."""
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    t = _l2_normalise(np.atleast_2d(text_embeddings))
    p = _l2_normalise(prototype_embeddings)
    logits = (t @ p.T).astype(np.float64) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
