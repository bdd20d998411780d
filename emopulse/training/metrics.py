"""Classification metrics (scikit-learn), kept apart so training and evaluation share them."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def weighted_f1(y_true, y_pred) -> float:
    return float(f1_score(y_true, y_pred, average="weighted", zero_division=0))


def classification(y_true, y_pred, labels: tuple[str, ...]) -> dict:
    """Weighted/macro F1, accuracy, per-class P/R/F1/support and the confusion matrix (rows = true)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    idx = list(range(len(labels)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=idx, zero_division=0)
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else 0.0,
        "weighted_f1": weighted_f1(y_true, y_pred) if len(y_true) else 0.0,
        "macro_f1": float(f1_score(y_true, y_pred, labels=np.unique(y_true), average="macro", zero_division=0))
        if len(y_true) else 0.0,  # over the classes that occur
        "per_class": {lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                            "support": int(s[i])} for i, lab in enumerate(labels)},
        "confusion": confusion_matrix(y_true, y_pred, labels=idx).tolist(),
        "labels": list(labels),
    }


def majority(y_train, n: int) -> int:
    """The most frequent class of the training labels."""
    return int(np.bincount(np.asarray(y_train), minlength=n).argmax())
