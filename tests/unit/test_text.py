import numpy as np
import pytest

from emopulse.labels import EMOTIONS, SENTIMENTS
from emopulse.processing.text import (
    EMOTION_DESCRIPTIONS,
    TEXT_EMOTION_CLASSIFIER,
    TEXT_SENTIMENT_CLASSIFIER,
    build_prototypes,
    compound_to_probs,
    prototype_emotion_probs,
    vader_sentiment_probs,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I love this, it is absolutely wonderful!", "positive"),
        ("This is terrible, I hate it.", "negative"),
        ("The meeting is on Tuesday at three.", "neutral"),
        ("", "neutral"),
    ],
)
def test_vader_sentiment_top_class(text, expected):
    p = vader_sentiment_probs(text)
    assert p.shape == (3,)
    assert p.sum() == pytest.approx(1.0, abs=1e-6)
    assert SENTIMENTS[int(np.argmax(p))] == expected


def test_compound_mapping_agrees_with_vader_thresholds_and_is_monotone():
    assert SENTIMENTS[int(np.argmax(compound_to_probs(0.06)))] == "positive"
    assert SENTIMENTS[int(np.argmax(compound_to_probs(0.04)))] == "neutral"
    assert SENTIMENTS[int(np.argmax(compound_to_probs(-0.06)))] == "negative"
    pos = [compound_to_probs(c)[0] for c in np.linspace(-1, 1, 21)]
    assert all(b >= a for a, b in zip(pos, pos[1:]))


def test_prototype_probs_pick_most_similar_prototype():
    rng = np.random.default_rng(0)
    protos = rng.normal(size=(7, 384)).astype(np.float32)
    texts = protos[[3, 0, 6]] * 5 + rng.normal(scale=0.1, size=(3, 384)).astype(np.float32)
    p = prototype_emotion_probs(texts, protos, temperature=0.05)
    assert p.shape == (3, 7)
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-5)
    assert list(p.argmax(-1)) == [3, 0, 6]
    # Higher temperature flattens the distribution.
    flat = prototype_emotion_probs(texts, protos, temperature=10.0)
    assert flat.max() < p.max()
    with pytest.raises(ValueError):
        prototype_emotion_probs(texts, protos, temperature=0)


def test_build_prototypes_uses_every_emotion_description():
    seen = []

    def fake_embed(sentences):
        seen.extend(sentences)
        return np.tile(np.eye(384, dtype=np.float32)[len(seen) % 384], (len(sentences), 1))

    protos = build_prototypes(fake_embed)
    assert protos.shape == (7, 384)
    np.testing.assert_allclose(np.linalg.norm(protos, axis=1), 1.0, atol=1e-5)
    assert set(seen) == {s for e in EMOTIONS for s in EMOTION_DESCRIPTIONS[e]}
    assert all(len(EMOTION_DESCRIPTIONS[e]) >= 2 for e in EMOTIONS)


def test_untrained_labels():
    assert "untrained" in TEXT_EMOTION_CLASSIFIER and "untrained" in TEXT_SENTIMENT_CLASSIFIER
