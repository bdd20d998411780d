"""Fusion-head run: read -> cached features -> train (select on dev) -> predictions -> evaluation.

Output folder: ``weights/`` (model.safetensors + meta.json), ``history.json``, ``read_report.json``,
``absent.json`` (why each absent modality is absent), ``predictions/*.npz`` (the held-out split:
trained head, each modality alone, v1 late fusion) and ``eval/`` (report.json, report.md,
confusion matrices). ``export.export_fusion`` turns it into a
Triton version.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emopulse.labels import MODALITIES
from emopulse.processing.fusion import late_fusion
from emopulse.training import evaluate, fusion_head
from emopulse.training.data import read
from emopulse.training.features import FeatureTable, extract


def _split(table: FeatureTable, seed: int) -> dict[str, FeatureTable]:
    """train/dev/test from the data's own splits; a missing dev is carved (15 %) from train."""
    names = set(table.split.tolist())
    splits = {s: table.subset(table.split == s) for s in ("train", "dev", "test") if s in names}
    if "train" not in splits:
        raise ValueError("the data has no train split")
    if "dev" not in splits:
        rng = np.random.default_rng(seed)
        n = len(splits["train"].ids)
        dev = np.zeros(n, bool)
        dev[rng.permutation(n)[: max(1, int(0.15 * n))]] = True
        splits["dev"], splits["train"] = splits["train"].subset(dev), splits["train"].subset(~dev)
    return splits


def _save(path: Path, table: FeatureTable, emo: np.ndarray, sen: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, ids=np.array(table.ids), emotion_true=table.emotion, sentiment_true=table.sentiment,
                        emotion_probs=emo, sentiment_probs=sen)
    return path


def run(data_path: str | Path, out_dir: str | Path, cache_dir: str | Path, fmt: str = "auto",
        cfg: fusion_head.FusionTrainConfig = fusion_head.FusionTrainConfig(), text_version: str = "2",
        text_weights: str | Path | None = None, context: int = 2, progress: bool = True, log=print) -> dict:
    import torch

    torch.set_num_threads(1)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    examples, report = read(data_path, fmt, context=context)
    log(report.summary())
    (out_dir / "read_report.json").write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    table = extract(examples, cache_dir, text_version=text_version, text_weights=text_weights,
                    use_context=context > 0, progress=progress)
    log(f"features: {json.dumps(table.stats)}")
    # why each absent modality is absent (no media, no face found, audio that does not decode, ...)
    (out_dir / "absent.json").write_text(json.dumps(table.absent, indent=2) + "\n")
    splits = _split(table, cfg.seed)
    model, history = fusion_head.train(splits["train"], splits["dev"], cfg, log)
    held = "test" if "test" in splits else "dev"
    history.update(read_report=report.as_dict(), feature_stats=table.stats,
                   sizes={k: len(v.ids) for k, v in splits.items()}, eval_split=held)
    meta = {"architecture": fusion_head.architecture(cfg), "eval_split": held,
            "data": f"{data_path} (format {fmt}): {report.summary()}",
            "features": f"text {text_version} (context {context}), audio_embedding, face_expression; cache {cache_dir}"}
    fusion_head.save(model, out_dir / "weights", meta)
    model, _ = fusion_head.load(out_dir / "weights")
    t = splits[held]
    pred = out_dir / "predictions"
    systems = {"fusion head (all modalities)": _save(pred / f"{held}.npz", t, *fusion_head.predict_inputs(model, t.inputs))}
    for j, m in enumerate(MODALITIES):
        if t.inputs["PRESENT"][:, j].any():
            x = dict(t.inputs, PRESENT=t.inputs["PRESENT"] & (np.arange(3) == j))
            systems[f"fusion head, {m} only"] = _save(pred / f"{held}_{m}_only.npz", t, *fusion_head.predict_inputs(model, x))
    x = t.inputs
    w = np.tile(np.array([[0.6, 0.2, 0.4]], np.float32), (len(t.ids), 1))
    emo, sen = late_fusion(x["EMOTION_PROBS"], x["HAS_EMOTION"] & x["PRESENT"], x["SENTIMENT_PROBS"],
                           x["HAS_SENTIMENT"] & x["PRESENT"], w)
    systems["fusion v1 (late fusion, default weights)"] = _save(pred / f"{held}_v1_late_fusion.npz", t, emo, sen)
    tr = splits["train"]
    train_labels = _save(pred / "train_labels.npz", tr, np.zeros((len(tr.ids), 7), np.float32),
                         np.zeros((len(tr.ids), 3), np.float32))
    rep = evaluate.evaluate_predictions(systems, out_dir / "eval", title=f"fusion head on {data_path}",
                                        train_labels=train_labels, split=held,
                                        note=f"Held-out split: {held}. Majority baseline: train majority class. "
                                             f"Read: {report.summary()}.")
    history["eval"] = {k: {h: {"weighted_f1": v[h]["system"]["weighted_f1"], "accuracy": v[h]["system"]["accuracy"]}
                           for h in ("emotion", "sentiment")} for k, v in rep["systems"].items()}
    (out_dir / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    return history
