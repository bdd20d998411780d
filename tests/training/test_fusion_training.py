"""Fusion-head training end to end on a small dataset in the real MELD video layout.

The dataset (tests/training/synthetic.py) carries each label in the words, the voice and the face;
one listed clip is missing and one is corrupt. Checks: reading and reporting, the feature cache
(resume), that the trained head clearly beats the majority baseline on the held-out split,
reproducibility, that the report's figures are scikit-learn's on the saved predictions, and that
the exported version loads and answers in a real tritonserver with the fusion interface.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from emopulse.labels import EMOTIONS, SENTIMENTS
from emopulse.training import export, features, fusion_head, train_fusion
from emopulse.training.data import read
from tests.training.conftest import copy_model
from tests.triton_server import tritonserver
from tests.training.synthetic import CORRUPT_ID, MISSING_ID, make_dataset

TEXT_VERSION = "2"   # the shipped text classifier, as the services use it


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("meld_layout"))


@pytest.fixture(scope="module")
def run(dataset, tmp_path_factory):
    base = tmp_path_factory.mktemp("fusion_run")
    hist = train_fusion.run(dataset["root"], base / "run", base / "cache", fmt="meld", text_version=TEXT_VERSION,
                            progress=False, log=lambda *a: None)
    return {"dir": base / "run", "cache": base / "cache", "history": hist}


def test_reader_parses_meld_layout_and_reports_bad_clips(dataset):
    examples, report = read(dataset["root"])            # auto: a folder is the MELD layout
    assert report.by_split == dataset["counts"]
    assert report.missing == [MISSING_ID]
    assert report.undecodable == [CORRUPT_ID]
    by_id = {e.id: e for e in examples}
    assert by_id[MISSING_ID].media is None and by_id[CORRUPT_ID].media is None
    assert all(e.media for e in examples if e.id not in (MISSING_ID, CORRUPT_ID))
    assert {e.id: EMOTIONS[e.emotion] for e in examples} == dataset["labels"]
    # previous utterances of the same dialogue become the context
    assert by_id["train/dia0_utt2"].context == [by_id["train/dia0_utt0"].text, by_id["train/dia0_utt1"].text]
    assert by_id["train/dia1_utt0"].context == []


def test_manifest_and_nkululeko_readers(tmp_path, dataset):
    clip = next((Path(dataset["root"]) / "train_splits").glob("*.mp4"))
    rows = [{"path": str(clip), "start": "0.1", "end": "1.0", "text": "so happy", "emotion": "joy", "sentiment": "positive"},
            {"path": "nope.mp4", "start": "", "end": "", "text": "hmm", "emotion": "neutral", "sentiment": "neutral"},
            {"path": "", "start": "", "end": "", "text": "odd", "emotion": "bored", "sentiment": ""}]
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    csv_path = tmp_path / "m.csv"
    csv_path.write_text("path,start,end,text,emotion,sentiment\n" +
                        "\n".join(",".join(r.values()) for r in rows) + "\n")
    for path in (jsonl, csv_path):
        ex, rep = read(path)
        assert [e.text for e in ex] == ["so happy", "hmm"]
        assert (ex[0].start, ex[0].end, ex[0].emotion) == (0.1, 1.0, EMOTIONS.index("joy"))
        assert rep.missing == ["row1"] and rep.unlabelled == ["row2"]
    nk = tmp_path / "meld.csv"
    nk.write_text("file,Utterance,speaker,emotion,sentiment,Dialogue_ID,Utterance_ID,StartTime,EndTime,split\n"
                  "a.wav,Hi there.,Ross,neutral,neutral,3,0,,,dev\n"
                  "b.wav,Oh my God!,Rachel,surprise,positive,3,1,,,dev\n")
    ex, rep = read(nk)
    assert [(e.id, e.split, SENTIMENTS[e.sentiment]) for e in ex] == [("dev/dia3_utt0", "dev", "neutral"),
                                                                      ("dev/dia3_utt1", "dev", "positive")]
    assert ex[1].context == ["Hi there."]


def test_feature_cache_resumes(run, dataset):
    stats = run["history"]["feature_stats"]
    n = sum(dataset["counts"].values())
    assert stats["text"]["computed"] == n and stats["audio"]["absent"] == 2
    absent = json.loads((run["dir"] / "absent.json").read_text())
    assert set(absent["audio"]) == {MISSING_ID, CORRUPT_ID}
    examples, _ = read(dataset["root"])
    again = features.extract(examples, run["cache"], text_version=TEXT_VERSION, progress=False)
    assert all(s["computed"] == 0 for s in again.stats.values()), again.stats
    # an interrupted run: drop three cached audio entries, only those are recomputed, identically
    # (entries are content-addressed: clips with identical bytes share one)
    files = sorted((Path(run["cache"]) / "audio").rglob("*.npz"))[:3]
    for f in files:
        f.unlink()
    audio = features.AudioEncoder()
    dropped = {f.stem for f in files}
    expected = sum(1 for e in examples if e.media and audio.key(e) in dropped)
    resumed = features.extract(examples, run["cache"], text_version=TEXT_VERSION, progress=False)
    assert resumed.stats["audio"]["computed"] == expected >= 3 and resumed.stats["text"]["computed"] == 0
    assert all(f.is_file() for f in files)
    for k in again.inputs:
        np.testing.assert_array_equal(again.inputs[k], resumed.inputs[k])
    # the vision features saw the face on the joy clips only
    joy = again.emotion == EMOTIONS.index("joy")
    assert again.inputs["PRESENT"][joy & (again.split == "test"), 2].all()
    assert not again.inputs["PRESENT"][~joy, 2].any()


def test_training_clearly_beats_majority_on_held_out(run):
    rep = json.loads((run["dir"] / "eval" / "report.json").read_text())
    head = rep["systems"]["fusion head (all modalities)"]
    for h in ("emotion", "sentiment"):
        assert head[h]["system"]["n"] == 15
        assert head[h]["system"]["weighted_f1"] >= 0.8, (h, head[h]["system"])
        assert head[h]["system"]["weighted_f1"] >= head[h]["majority"]["weighted_f1"] + 0.4
    assert "fusion head, audio only" in rep["systems"] and "fusion head, vision only" in rep["systems"]
    assert (run["dir"] / "eval" / "report.md").read_text().count("| majority baseline") == 1
    assert (run["dir"] / "eval" / "confusion_fusion_head__all_modalities_emotion.png").stat().st_size > 1000


def test_training_is_reproducible(run, dataset):
    examples, _ = read(dataset["root"])
    table = features.extract(examples, run["cache"], text_version=TEXT_VERSION, progress=False)
    splits = train_fusion._split(table, 7)
    cfg = fusion_head.FusionTrainConfig(max_epochs=15, patience=15)
    a, _ = fusion_head.train(splits["train"], splits["dev"], cfg, log=lambda *x: None)
    b, _ = fusion_head.train(splits["train"], splits["dev"], cfg, log=lambda *x: None)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert np.array_equal(va.numpy(), vb.numpy()), k


def test_evaluation_matches_sklearn_on_saved_predictions(run):
    rep = json.loads((run["dir"] / "eval" / "report.json").read_text())
    for name, r in rep["systems"].items():
        pred = np.load(r["predictions"])
        for h in ("emotion", "sentiment"):
            y, p = pred[f"{h}_true"], pred[f"{h}_probs"].argmax(1)
            assert r[h]["system"]["weighted_f1"] == pytest.approx(f1_score(y, p, average="weighted"), abs=1e-12)
            assert r[h]["system"]["accuracy"] == pytest.approx(accuracy_score(y, p), abs=1e-12)
            assert np.array(r[h]["system"]["confusion"]).sum() == len(y)


def test_exported_version_loads_in_tritonserver(run, dataset, tmp_path):
    import tritonclient.grpc as grpcclient

    repo = tmp_path / "models"
    copy_model("fusion", repo, versions=("1",))
    out = export.export_fusion(run["dir"], repo=repo)
    assert out.name == "2" and (out / "MODEL_CARD.md").is_file() and (repo / "fusion" / "1").is_dir()
    with pytest.raises(FileExistsError):
        export.export_fusion(run["dir"], repo=repo, version=2)
    examples, _ = read(dataset["root"])
    table = features.extract(examples, run["cache"], text_version=TEXT_VERSION, progress=False)
    test = table.subset(table.split == "test")
    model, _ = fusion_head.load(out)
    want_e, want_s = fusion_head.predict_inputs(model, test.inputs)
    dtypes = {"HAS_EMOTION": "BOOL", "HAS_SENTIMENT": "BOOL", "PRESENT": "BOOL"}
    with tritonserver(repo) as (client, _, _):
        assert client.is_model_ready("fusion", "2")
        inputs = []
        for name, arr in test.inputs.items():
            arr = arr.astype(bool) if name in dtypes else arr.astype(np.float32)
            t = grpcclient.InferInput(name, list(arr.shape), dtypes.get(name, "FP32"))
            t.set_data_from_numpy(arr)
            inputs.append(t)
        res = client.infer("fusion", inputs, outputs=[grpcclient.InferRequestedOutput("EMOTION"),
                                                     grpcclient.InferRequestedOutput("SENTIMENT")])
        assert res.get_response().model_version == "2"
        np.testing.assert_allclose(res.as_numpy("EMOTION"), want_e, atol=1e-5)
        np.testing.assert_allclose(res.as_numpy("SENTIMENT"), want_s, atol=1e-5)


@pytest.mark.slow
def test_exported_version_serves_the_running_pipeline(run, tmp_path, talking_clip):
    """Export the trained head into a copy of models/, run the whole stack on it: results say fusion:2."""
    import shutil

    from emopulse.client import Client
    from emopulse.stack import REPO_ROOT, Stack

    repo = tmp_path / "models"
    shutil.copytree(REPO_ROOT / "models", repo, ignore=shutil.ignore_patterns("__pycache__"))
    export.export_fusion(run["dir"], repo=repo)
    stack = Stack.new(tmp_path / "stack", model_repository=repo)
    try:
        stack.start(progress=lambda msg: None)
        with Client(stack.gateway) as client:
            events = list(client.subscribe(client.upload(talking_clip[0]).id, timeout=240))
    finally:
        stack.stop()
    results = [e.result for e in events if e.HasField("result")]
    assert events[-1].HasField("summary") and len(results) == 3
    for r in results:
        assert r.model_versions["fusion"] == "fusion:2"
        assert sum(r.emotion) == pytest.approx(1, abs=1e-5) and sum(r.sentiment) == pytest.approx(1, abs=1e-5)
