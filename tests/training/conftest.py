"""Helpers for the training tests: a small model repository for a real tritonserver."""

from __future__ import annotations

import shutil
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]


def copy_model(name: str, dest_repo: Path, versions=("1",)) -> Path:
    """models/<name>/config.pbtxt + the given versions, copied into ``dest_repo``."""
    src = REPO / "models" / name
    dst = dest_repo / name
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "config.pbtxt", dst / "config.pbtxt")
    for v in versions:
        shutil.copytree(src / v, dst / v, ignore=shutil.ignore_patterns("__pycache__"))
    return dst
