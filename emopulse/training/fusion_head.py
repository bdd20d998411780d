"""Trainable fusion head (fusion v2+), with the fusion model's fixed Triton interface.

Per modality m (text, audio, vision): x_m = [embedding_m, emotion_probs_m * has_emotion_m,
sentiment_probs_m * has_sentiment_m], standardised with training statistics, projected
(Linear -> ReLU) and zeroed where the modality is absent. The projections and the presence flags
are concatenated -> hidden layer (ReLU, dropout) -> emotion [7] and sentiment [3] heads.

Training: class-weighted cross-entropy on both heads, modality dropout (each present modality is
hidden with probability p, never all of an example's), AdamW, early stopping on dev
(emotion wF1 + sentiment wF1), fixed seed and deterministic ops: the same data and config give
the same weights. WEIGHTS (late-fusion weights) is accepted and ignored, like the embeddings in v1.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from emopulse.labels import EMOTIONS, MODALITIES, SENTIMENTS
from emopulse.training.features import EMBEDDING_DIMS, FeatureTable
from emopulse.training.metrics import weighted_f1

WEIGHTS_FILE = "model.safetensors"
META_FILE = "meta.json"
_NE, _NS = len(EMOTIONS), len(SENTIMENTS)


@dataclass
class FusionTrainConfig:
    proj_dim: int = 64
    hidden: int = 128
    dropout: float = 0.3
    modality_dropout: float = 0.2
    lr: float = 2e-3
    weight_decay: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 200
    patience: int = 20
    class_weight_power: float = 0.5
    seed: int = 7
    modalities: tuple[str, ...] = MODALITIES   # which modalities the head may use (ablations)


def modality_inputs(x: dict[str, np.ndarray | torch.Tensor]) -> list[torch.Tensor]:
    """Fusion-interface tensors -> per-modality raw feature vectors [B, D_m] (float32)."""
    t = {k: torch.as_tensor(np.asarray(v)) for k, v in x.items()}
    out = []
    for j, m in enumerate(MODALITIES):
        has_e = t["HAS_EMOTION"][:, j:j + 1].float()
        has_s = t["HAS_SENTIMENT"][:, j:j + 1].float()
        out.append(torch.cat([t[f"EMBEDDING_{m.upper()}"].float(), t["EMOTION_PROBS"][:, j].float() * has_e,
                              t["SENTIMENT_PROBS"][:, j].float() * has_s], dim=1))
    return out


class FusionHead(nn.Module):
    def __init__(self, proj_dim: int = 64, hidden: int = 128, dropout: float = 0.3,
                 use: tuple[str, ...] = MODALITIES):
        super().__init__()
        dims = [EMBEDDING_DIMS[m] + _NE + _NS for m in MODALITIES]
        self.register_buffer("use", torch.tensor([m in use for m in MODALITIES]))
        for m, d in zip(MODALITIES, dims):
            self.register_buffer(f"mean_{m}", torch.zeros(d))
            self.register_buffer(f"std_{m}", torch.ones(d))
        self.proj = nn.ModuleList([nn.Sequential(nn.Linear(d, proj_dim), nn.ReLU()) for d in dims])
        self.body = nn.Sequential(nn.Linear(proj_dim * len(dims) + len(dims), hidden), nn.ReLU(), nn.Dropout(dropout))
        self.emotion = nn.Linear(hidden, _NE)
        self.sentiment = nn.Linear(hidden, _NS)

    def forward(self, feats: list[torch.Tensor], present: torch.Tensor):
        present = present.float() * self.use.float()
        parts = []
        for j, (m, f) in enumerate(zip(MODALITIES, feats)):
            z = (f - getattr(self, f"mean_{m}")) / getattr(self, f"std_{m}")
            parts.append(self.proj[j](z) * present[:, j:j + 1])
        h = self.body(torch.cat([*parts, present], dim=1))
        return self.emotion(h), self.sentiment(h)

    def set_normalisation(self, feats: list[torch.Tensor], present: torch.Tensor) -> None:
        for j, (m, f) in enumerate(zip(MODALITIES, feats)):
            rows = f[present[:, j].bool()]
            if len(rows) > 1:
                getattr(self, f"mean_{m}").copy_(rows.mean(0))
                getattr(self, f"std_{m}").copy_(rows.std(0).clamp(min=1e-3))


@torch.inference_mode()
def predict_inputs(model: FusionHead, x: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Fusion-interface arrays -> (emotion [B,7], sentiment [B,3]) probabilities, float32."""
    model.eval()
    feats = modality_inputs(x)
    present = torch.as_tensor(np.asarray(x["PRESENT"])).bool()
    emo, sen = model(feats, present)
    return torch.softmax(emo, -1).numpy().astype(np.float32), torch.softmax(sen, -1).numpy().astype(np.float32)


def _class_weights(y: np.ndarray, n: int, power: float) -> torch.Tensor:
    counts = np.bincount(y[y >= 0], minlength=n).astype(np.float64) + 1.0
    w = (counts.sum() / counts) ** power
    return torch.tensor(w / w.mean(), dtype=torch.float32)


def _score(model, table: FeatureTable) -> tuple[float, float]:
    emo, sen = predict_inputs(model, table.inputs)
    return weighted_f1(table.emotion, emo.argmax(1)), weighted_f1(table.sentiment, sen.argmax(1))


def train(train: FeatureTable, dev: FeatureTable, cfg: FusionTrainConfig = FusionTrainConfig(), log=print):
    """Returns (best model in eval mode, history)."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    gen = torch.Generator().manual_seed(cfg.seed)
    feats = modality_inputs(train.inputs)
    present = torch.as_tensor(train.inputs["PRESENT"]).bool()
    y_e, y_s = torch.as_tensor(train.emotion), torch.as_tensor(train.sentiment)
    model = FusionHead(cfg.proj_dim, cfg.hidden, cfg.dropout, tuple(cfg.modalities))
    model.set_normalisation(feats, present)
    loss_e = nn.CrossEntropyLoss(weight=_class_weights(train.emotion, _NE, cfg.class_weight_power), ignore_index=-1)
    loss_s = nn.CrossEntropyLoss(weight=_class_weights(train.sentiment, _NS, cfg.class_weight_power), ignore_index=-1)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = len(y_e)
    best, best_score, since, history = None, -1.0, 0, {"config": asdict(cfg), "epochs": []}
    for epoch in range(cfg.max_epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        losses = []
        for s in range(0, n, cfg.batch_size):
            idx = order[s:s + cfg.batch_size]
            p = present[idx].clone()
            if cfg.modality_dropout > 0:
                drop = torch.rand(p.shape, generator=gen) < cfg.modality_dropout
                keep = p & ~drop
                none_left = keep.sum(1) == 0
                keep[none_left] = p[none_left]          # never hide every modality of an example
                p = keep
            emo, sen = model([f[idx] for f in feats], p)
            loss = loss_e(emo, y_e[idx]) + loss_s(sen, y_s[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        e_f1, s_f1 = _score(model, dev)
        history["epochs"].append({"epoch": epoch + 1, "loss": float(np.mean(losses)),
                                  "dev_emotion_wf1": e_f1, "dev_sentiment_wf1": s_f1})
        if e_f1 + s_f1 > best_score + 1e-9:
            best_score, best, since = e_f1 + s_f1, copy.deepcopy(model.state_dict()), 0
            history["best_epoch"] = epoch + 1
        else:
            since += 1
            if since >= cfg.patience:
                break
    model.load_state_dict(best)
    history["best_dev"] = {"emotion_wf1": history["epochs"][history["best_epoch"] - 1]["dev_emotion_wf1"],
                           "sentiment_wf1": history["epochs"][history["best_epoch"] - 1]["dev_sentiment_wf1"]}
    log(f"fusion head: best epoch {history['best_epoch']} of {len(history['epochs'])}, dev "
        f"emotion wF1 {history['best_dev']['emotion_wf1']:.3f}, sentiment wF1 {history['best_dev']['sentiment_wf1']:.3f}")
    return model.eval(), history


def save(model: FusionHead, out_dir: str | Path, meta: dict) -> Path:
    from safetensors.torch import save_file

    from emopulse.weights import sha256_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().contiguous() if v.is_floating_point() else v.contiguous()
             for k, v in model.state_dict().items()}
    save_file(state, str(out_dir / WEIGHTS_FILE), metadata={"format": "pt"})
    meta = dict(meta, weights_sha256=sha256_file(out_dir / WEIGHTS_FILE))
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return out_dir / WEIGHTS_FILE


def load(weights_dir: str | Path) -> tuple[FusionHead, dict]:
    from safetensors.torch import load_file

    weights_dir = Path(weights_dir)
    meta = json.loads((weights_dir / META_FILE).read_text())
    a = meta["architecture"]
    model = FusionHead(a["proj_dim"], a["hidden"], a["dropout"], tuple(a["modalities"]))
    model.load_state_dict(load_file(str(weights_dir / WEIGHTS_FILE)))
    return model.eval(), meta


def architecture(cfg: FusionTrainConfig) -> dict:
    return {"proj_dim": cfg.proj_dim, "hidden": cfg.hidden, "dropout": cfg.dropout, "modalities": list(cfg.modalities)}
