"""Guard for the shipped text classifier (text_classifier version 2, MiniLM fine-tuned on MELD).

Not a benchmark (the MELD figures are in models/text_classifier/2/MODEL_CARD.md): a fixed handful
of MELD dev utterances, hard-coded here so the test needs no download, that the trained weights get
right with a clear margin. Loaded in-process and through a real tritonserver (version 2 served by
the config's version policy; with and without the optional CONTEXT input).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from emopulse.labels import EMOTIONS, SENTIMENTS
from emopulse.training import textmodel
from emopulse.weights import minilm_dir
from tests.triton_server import tritonserver

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "text_classifier"
V2 = MODEL / "2"

# (utterance, previous utterances of its dialogue, emotion, sentiment): MELD dev split (ids in comments).
HANDFUL = [
    ("You're a genius!",                                               # dev dia1_utt1
     ["Or! Or, we could go to the bank, close our accounts and cut them off at the source."], "joy", "positive"),
    ("Oh we did, but my mom got us the greatest gift of all.",         # dev dia7_utt1
     ["Wow! It looks like we got a lot of good stuff."], "joy", "positive"),
    ("On the touchy.",                                                 # dev dia1_utt8
     ["Ohh, you guys, remember that cute client I told you about? I bit him.", "Where?!"], "neutral", "neutral"),
    ("Nooo! Nooooo! You lent me Monica's earrings?! I'm not allowed to borrow her stuff!",   # dev dia11_utt10
     ["Tell her to wear her own earrings.", "These"], "anger", "negative"),
    ("Chandler's a girl!",                                             # dev dia13_utt15
     ["They musta read the sonogram wrong.", "Cause they, 'cause they thought it was a boy, but Chandler's a girl!"],
     "surprise", "positive"),
    ("We're so sorry.",                                                # dev dia16_utt10
     ["I do know.", "It makes him miss the bowl, but whatever."], "sadness", "negative"),
    ("This is disgusting!",                                            # dev dia20_utt5
     ["It's my new perfume. Why don't you come closer where you can", "Oh, y'know Joey, you are sick!"],
     "disgust", "negative"),
    ("My marriage, I think my marriage is um, is kinda over.",         # dev dia23_utt2
     ["Hi. Where is everybody?", "Oh, it's already closed, Chris gave me the keys to lock up-what is wrong?"],
     "sadness", "negative"),
]


@pytest.fixture(scope="module")
def loaded():
    import torch

    torch.set_num_threads(1)
    return textmodel.load(V2, minilm_dir())


def test_shipped_files_card_and_config():
    meta = json.loads((V2 / "meta.json").read_text())
    weights = V2 / "model.safetensors"
    assert weights.stat().st_size < 100e6
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == meta["weights_sha256"]
    assert meta["labels"] == {"emotion": list(EMOTIONS), "sentiment": list(SENTIMENTS)}
    card = (V2 / "MODEL_CARD.md").read_text()
    assert "GPL-3.0" in card and "nkululeko" in card
    assert f"{100 * meta['test']['test']['emotion_wf1']:.1f}" in card
    assert (MODEL / "1" / "model.py").is_file(), "version 1 stays for rollback"
    config = (MODEL / "config.pbtxt").read_text()
    assert re.search(r"version_policy:\s*{\s*latest:\s*{\s*num_versions:\s*1", config)
    assert re.search(r'name: "CONTEXT"\s+data_type: TYPE_STRING\s+dims: \[ 1 \]\s+optional: true', config)
    for name, dims in (("EMBEDDING", 384), ("EMOTION", 7), ("SENTIMENT", 3)):
        assert re.search(rf'name: "{name}"\s+data_type: TYPE_FP32\s+dims: \[ {dims} \]', config)


def _predict(loaded, with_context=True):
    tok, model, _ = loaded
    return textmodel.predict(tok, model, [h[0] for h in HANDFUL], [h[1] if with_context else [] for h in HANDFUL])


def test_in_process_gets_the_handful_right(loaded):
    emb, emo, sen = _predict(loaded)
    assert emb.shape == (len(HANDFUL), 384) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4)
    assert np.allclose(emo.sum(1), 1, atol=1e-5) and np.allclose(sen.sum(1), 1, atol=1e-5)
    got = [(EMOTIONS[e], SENTIMENTS[s]) for e, s in zip(emo.argmax(1), sen.argmax(1))]
    assert got == [(h[2], h[3]) for h in HANDFUL]
    # a mix of classes; version 1 (zero-shot + VADER) gets only 3 of these 8 right on both heads
    assert len({h[2] for h in HANDFUL}) >= 4


def test_tritonserver_serves_version_2(loaded, tmp_path):
    import tritonclient.grpc as grpcclient

    repo = tmp_path / "models"
    (repo / "text_classifier").mkdir(parents=True)
    (repo / "text_classifier" / "config.pbtxt").write_text((MODEL / "config.pbtxt").read_text())
    for v in ("1", "2"):
        (repo / "text_classifier" / v).symlink_to(MODEL / v, target_is_directory=True)
    _, emo_ctx, sen_ctx = _predict(loaded, with_context=True)
    emb, emo, _ = _predict(loaded, with_context=False)
    with tritonserver(repo) as (client, _, _):
        assert client.is_model_ready("text_classifier", "2")
        assert not client.is_model_ready("text_classifier", "1")
        texts = np.array([[h[0].encode()] for h in HANDFUL], dtype=object)
        t = grpcclient.InferInput("TEXT", list(texts.shape), "BYTES")
        t.set_data_from_numpy(texts)
        outs = [grpcclient.InferRequestedOutput(n) for n in ("EMBEDDING", "EMOTION", "SENTIMENT")]
        res = client.infer("text_classifier", [t], outputs=outs)          # an existing caller: no CONTEXT
        assert res.get_response().model_version == "2"
        np.testing.assert_allclose(res.as_numpy("EMBEDDING"), emb, atol=1e-4)
        np.testing.assert_allclose(res.as_numpy("EMOTION"), emo, atol=1e-4)
        ctx = np.array([[textmodel.context_text(h[1]).encode()] for h in HANDFUL], dtype=object)
        c = grpcclient.InferInput("CONTEXT", list(ctx.shape), "BYTES")
        c.set_data_from_numpy(ctx)
        res = client.infer("text_classifier", [t, c], outputs=outs)
        np.testing.assert_allclose(res.as_numpy("EMOTION"), emo_ctx, atol=1e-4)
        np.testing.assert_allclose(res.as_numpy("SENTIMENT"), sen_ctx, atol=1e-4)
        got = [(EMOTIONS[e], SENTIMENTS[s]) for e, s in
               zip(res.as_numpy("EMOTION").argmax(1), res.as_numpy("SENTIMENT").argmax(1))]
        assert got == [(h[2], h[3]) for h in HANDFUL]
