"""speaker_embedding (GE2E) in a real tritonserver over a repository holding only that model.

Voice prints of espeak-ng speech: unit length, two voices further apart than two sentences of one
voice, and the same numbers as the model code called in-process.
"""

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tests.triton_server import tritonserver

grpcclient = pytest.importorskip("tritonclient.grpc")

REPO = Path(__file__).resolve().parents[2]
RATE = 16_000
WINDOW = int(1.6 * RATE)


@pytest.fixture(scope="module")
def triton(tmp_path_factory):
    repo = tmp_path_factory.mktemp("speaker-models")
    shutil.copytree(REPO / "models" / "speaker_embedding", repo / "speaker_embedding",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with tritonserver(repo) as (client, log_path, _):
        yield client, log_path


def embed(client, windows: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(windows, dtype=np.float32)
    inp = grpcclient.InferInput("AUDIO", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    return client.infer("speaker_embedding", [inp]).as_numpy("EMBEDDING")


def windows_of(audio: np.ndarray, hop: int = WINDOW // 2) -> np.ndarray:
    audio = np.pad(audio, (0, max(0, WINDOW - len(audio))))
    return np.stack([audio[i:i + WINDOW] for i in range(0, len(audio) - WINDOW + 1, hop)])


def voice_print(client, audio: np.ndarray) -> np.ndarray:
    e = embed(client, windows_of(audio)).mean(0)
    return e / np.linalg.norm(e)


@pytest.fixture(scope="module")
def speech():
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    from tests.conversations import VOICES, speak_words

    a, b = VOICES[0], VOICES[1]
    s1 = "I think the budget for the project is far too small, and nobody wants to say it."
    s2 = "The museum is free on the first Sunday of every month, so we could go together."
    return {"a1": speak_words(s1, a)[0], "a2": speak_words(s2, a)[0], "b1": speak_words(s1, b)[0]}


def test_model_is_ready_and_says_where_its_weights_come_from(triton):
    client, log_path = triton
    assert client.is_model_ready("speaker_embedding")
    log = log_path.read_text(errors="replace")
    assert "speaker_embedding: loaded GE2E (resemblyzer)" in log and "pretrained.pt" in log


def test_shape_and_unit_norm(triton, speech):
    client, _ = triton
    w = windows_of(speech["a1"])[:3]
    e = embed(client, w)
    assert e.shape == (3, 256) and e.dtype == np.float32 and np.isfinite(e).all()
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert (e >= 0).all()  # GE2E ends in a ReLU
    short = embed(client, speech["a1"][None, :RATE // 2])  # another length, 0.5 s
    assert short.shape == (1, 256)
    np.testing.assert_allclose(np.linalg.norm(short, axis=1), 1.0, atol=1e-5)
    silent = embed(client, np.zeros((1, WINDOW), np.float32))
    assert not silent.any()  # no voice, no voice print


def test_two_voices_are_further_apart_than_two_sentences_of_one_voice(triton, speech):
    client, _ = triton
    a1, a2, b1 = (voice_print(client, speech[k]) for k in ("a1", "a2", "b1"))
    same, other = float(a1 @ a2), float(a1 @ b1)
    print(f"cosine: same voice {same:.3f}, other voice, same words {other:.3f}")
    assert same > other + 0.15
    assert same > 0.75


def test_batched_requests_match_single_ones_and_the_in_process_model(triton, speech):
    client, _ = triton
    from emopulse.processing.speaker_encoder import embed_windows, load_voice_encoder
    from emopulse.weights import speaker_encoder_weights

    w = windows_of(speech["a2"])[:4]
    together = embed(client, w)
    with ThreadPoolExecutor(4) as pool:  # concurrent requests: the dynamic batcher may join them
        alone = np.concatenate(list(pool.map(lambda i: embed(client, w[i:i + 1]), range(len(w)))))
    np.testing.assert_allclose(alone, together, atol=1e-4)
    local = embed_windows(load_voice_encoder(speaker_encoder_weights()), w)
    np.testing.assert_allclose(local, together, atol=1e-4)
