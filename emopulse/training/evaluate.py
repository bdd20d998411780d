"""Honest evaluation: metrics from saved predictions, majority baseline, ablations, reports.

``evaluate_predictions`` reads one or more ``.npz`` prediction files (as written by
``train_text.save_predictions`` / ``fusion_head``) and writes ``report.json``, ``report.md`` and
one confusion-matrix PNG per head and system. Every metric is computed by scikit-learn on the
saved arrays, so the report can be re-derived from the files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emopulse.labels import EMOTIONS, SENTIMENTS
from emopulse.training.metrics import classification, majority

HEADS = {"emotion": EMOTIONS, "sentiment": SENTIMENTS}


def load_predictions(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def score(pred: dict[str, np.ndarray], majority_class: dict[str, int] | None = None) -> dict:
    """Per head: the system's metrics and the majority baseline's (train majority when given,
    else the evaluated split's own majority, which flatters the baseline)."""
    out = {}
    for head, labels in HEADS.items():
        y = pred[f"{head}_true"]
        p = pred[f"{head}_probs"].argmax(axis=1)
        maj = (majority_class or {}).get(head, majority(y, len(labels)))
        out[head] = {"system": classification(y, p, labels),
                     "majority": classification(y, np.full_like(y, maj), labels),
                     "majority_class": labels[maj]}
    return out


def plot_confusion(matrix, labels, title: str, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, dtype=float)
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.1 * len(labels) + 2, 1.0 * len(labels) + 1.5))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{int(m[i, j])}\n{norm[i, j]:.0%}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def markdown(report: dict) -> str:
    lines = [f"# Evaluation: {report.get('title', '')}", ""]
    if report.get("note"):
        lines += [report["note"], ""]
    lines += ["| system | split | n | emotion wF1 | emotion acc | emotion macro F1 | sentiment wF1 | sentiment acc | sentiment macro F1 |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, sys_ in report["systems"].items():
        for who in ("system", "majority"):
            e, s = sys_["emotion"][who], sys_["sentiment"][who]
            label = name if who == "system" else f"majority baseline ({sys_['emotion']['majority_class']} / {sys_['sentiment']['majority_class']})"
            if who == "majority" and name != next(iter(report["systems"])):
                continue
            lines.append(f"| {label} | {sys_.get('split', '')} | {e['n']} | {_pct(e['weighted_f1'])} | {_pct(e['accuracy'])} | "
                         f"{_pct(e['macro_f1'])} | {_pct(s['weighted_f1'])} | {_pct(s['accuracy'])} | {_pct(s['macro_f1'])} |")
    for name, sys_ in report["systems"].items():
        lines += ["", f"## {name}", ""]
        for head in HEADS:
            m = sys_[head]["system"]
            lines += [f"### {head}", "", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
            for lab, v in m["per_class"].items():
                lines.append(f"| {lab} | {_pct(v['precision'])} | {_pct(v['recall'])} | {_pct(v['f1'])} | {v['support']} |")
            if sys_.get("plots", {}).get(head):
                lines += ["", f"![{name} {head} confusion matrix]({sys_['plots'][head]})"]
            lines.append("")
    return "\n".join(lines) + "\n"


def evaluate_predictions(systems: dict[str, str | Path], out_dir: str | Path, title: str = "",
                         train_labels: str | Path | None = None, note: str = "", split: str = "test") -> dict:
    """``systems``: name -> predictions .npz. Writes report.json, report.md, confusion PNGs."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    maj = None
    if train_labels:
        tl = load_predictions(train_labels)
        maj = {h: majority(tl[f"{h}_true"], len(labels)) for h, labels in HEADS.items()}
    report = {"title": title, "note": note, "majority_from": "train labels" if maj else "evaluated split",
              "systems": {}}
    for name, path in systems.items():
        res = score(load_predictions(path), maj)
        res["split"] = split
        res["predictions"] = str(path)
        res["plots"] = {}
        for head, labels in HEADS.items():
            slug = "".join(c if c.isalnum() else "_" for c in name).strip("_")
            png = plot_confusion(res[head]["system"]["confusion"], labels, f"{name}: {head} ({split})",
                                 out_dir / f"confusion_{slug}_{head}.png")
            res["plots"][head] = png.name
        report["systems"][name] = res
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "report.md").write_text(markdown(report))
    return report
