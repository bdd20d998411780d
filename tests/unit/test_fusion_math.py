import numpy as np
import pytest

from emopulse.processing.fusion import late_fusion

E, S = 7, 3


def onehot(k, n):
    v = np.zeros(n, np.float32)
    v[k] = 1.0
    return v


def batch(emotion_rows, has_e, sentiment_rows, has_s, weights):
    return (
        np.asarray([emotion_rows], np.float32),
        np.asarray([has_e], bool),
        np.asarray([sentiment_rows], np.float32),
        np.asarray([has_s], bool),
        np.asarray([weights], np.float32),
    )


def test_weighted_average_of_present_modalities():
    emo = [onehot(0, E), onehot(3, E), onehot(5, E)]
    sen = [onehot(0, S), onehot(2, S), onehot(1, S)]
    e, s = late_fusion(*batch(emo, [True, True, True], sen, [True, True, True], [2, 1, 1]))
    np.testing.assert_allclose(e[0], 0.5 * onehot(0, E) + 0.25 * onehot(3, E) + 0.25 * onehot(5, E), atol=1e-6)
    np.testing.assert_allclose(s[0], [0.5, 0.25, 0.25], atol=1e-6)


def test_missing_modalities_are_ignored_and_weights_renormalised():
    # Audio has garbage probabilities but HAS=False: it must not leak into the result.
    emo = [onehot(3, E), np.full(E, 100.0, np.float32), onehot(3, E) * 0.0 + onehot(1, E)]
    e, s = late_fusion(*batch(emo, [True, False, True], [onehot(0, S)] * 3, [True, False, False], [1, 5, 3]))
    np.testing.assert_allclose(e[0], 0.25 * onehot(3, E) + 0.75 * onehot(1, E), atol=1e-6)
    np.testing.assert_allclose(s[0], onehot(0, S), atol=1e-6)


def test_no_modality_gives_uniform():
    e, s = late_fusion(*batch([onehot(0, E)] * 3, [False] * 3, [onehot(0, S)] * 3, [False] * 3, [1, 1, 1]))
    np.testing.assert_allclose(e[0], np.full(E, 1 / E), atol=1e-6)
    np.testing.assert_allclose(s[0], np.full(S, 1 / S), atol=1e-6)


def test_zero_weights_fall_back_to_equal_weighting():
    e, _ = late_fusion(*batch([onehot(0, E), onehot(1, E), onehot(2, E)], [True, True, False],
                              [onehot(0, S)] * 3, [True] * 3, [0, 0, 0]))
    np.testing.assert_allclose(e[0], 0.5 * onehot(0, E) + 0.5 * onehot(1, E), atol=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_random_batches_always_sum_to_one(seed):
    rng = np.random.default_rng(seed)
    b = 16
    emo = rng.random((b, 3, E)).astype(np.float32)
    sen = rng.random((b, 3, S)).astype(np.float32)
    has_e = rng.random((b, 3)) > 0.5
    has_s = rng.random((b, 3)) > 0.5
    w = rng.random((b, 3)).astype(np.float32)
    e, s = late_fusion(emo, has_e, sen, has_s, w)
    assert e.shape == (b, E) and s.shape == (b, S)
    assert e.dtype == np.float32 and s.dtype == np.float32
    np.testing.assert_allclose(e.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(s.sum(-1), 1.0, atol=1e-5)
    assert (e >= 0).all() and (s >= 0).all()
