"""Export trained runs as new Triton model versions (the previous versions stay for rollback).

A version folder holds a tiny ``model.py`` (imports the serving class from
``emopulse.training.serving``), the weights, ``meta.json`` (labels, architecture, weights sha256,
metrics), ``MODEL_CARD.md`` and ``evaluation/`` (report + confusion matrices).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from emopulse.training import cards
from emopulse.weights import sha256_file

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"

MODEL_PY = '''"""Triton Python model: {name} version {version} ({what}). See MODEL_CARD.md beside this file."""

import os
import sys
from pathlib import Path

# tritonserver's Python stub runs an isolated interpreter that ignores PYTHONPATH: add its entries
# and the repo root (models/<name>/<version>/model.py -> three levels up) to sys.path ourselves.
for _p in [*os.environ.get("PYTHONPATH", "").split(os.pathsep), str(Path(__file__).resolve().parents[3])]:
    if _p and _p not in sys.path:
        sys.path.append(_p)

from emopulse.training.serving import {cls} as TritonPythonModel  # noqa: E402,F401
'''


def next_version(model_dir: Path) -> int:
    versions = [int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()]
    return max(versions, default=0) + 1


def _target(repo: Path, name: str, version: int | None, overwrite: bool) -> tuple[Path, Path, int]:
    """(empty staging folder, final version folder, version number) for a new export."""
    model_dir = Path(repo) / name
    if not (model_dir / "config.pbtxt").is_file():
        raise FileNotFoundError(f"{model_dir}/config.pbtxt not found: not a model of this repository")
    version = version or next_version(model_dir)
    if version == 1:
        raise ValueError("version 1 is the untrained default kept for rollback; export to 2 or later")
    out = model_dir / str(version)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists (pass overwrite=True / --overwrite to replace it)")
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp, out, version


def _publish(tmp: Path, out: Path) -> None:
    """Move the finished ``tmp`` folder into place (replacing ``out``): Triton never sees half a version."""
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _copy_eval(eval_dir: Path | None, out: Path) -> dict | None:
    if not eval_dir or not (Path(eval_dir) / "report.json").is_file():
        return None
    shutil.copytree(eval_dir, out / "evaluation")
    return json.loads((Path(eval_dir) / "report.json").read_text())


def export_text(run_dir: str | Path, eval_dir: str | Path | None = None, repo: str | Path = MODELS,
                version: int | None = None, overwrite: bool = False) -> Path:
    """A ``train_text.run`` output folder -> models/text_classifier/<version>/."""
    from emopulse.training import textmodel

    run_dir = Path(run_dir)
    history = json.loads((run_dir / "history.json").read_text())
    tmp, out, version = _target(Path(repo), "text_classifier", version, overwrite)
    shutil.copy2(run_dir / "weights" / textmodel.WEIGHTS_FILE, tmp / textmodel.WEIGHTS_FILE)
    (tmp / textmodel.WEIGHTS_FILE).chmod(0o644)
    sha = sha256_file(tmp / textmodel.WEIGHTS_FILE)
    report = _copy_eval(Path(eval_dir) if eval_dir else run_dir / "eval", tmp)
    meta = json.loads((run_dir / "weights" / textmodel.META_FILE).read_text())
    meta.update(weights_sha256=sha, version=version, training_seconds=history["train_seconds"],
                hardware=history["hardware"], dev={k: history[k] for k in ("dev", "dev_nocontext") if k in history},
                test={k: history[k] for k in ("test", "test_nocontext") if k in history})
    (tmp / textmodel.META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    (tmp / "model.py").write_text(MODEL_PY.format(name="text_classifier", version=version, cls="TextClassifierModel",
                                                  what="MiniLM-L6 fine-tuned on MELD"))
    if report:
        (tmp / "MODEL_CARD.md").write_text(cards.text_card(version, history, report, sha,
                                                           (tmp / textmodel.WEIGHTS_FILE).stat().st_size))
    _publish(tmp, out)
    return out


def export_fusion(run_dir: str | Path, repo: str | Path = MODELS, version: int | None = None,
                  overwrite: bool = False) -> Path:
    """A ``fusion`` training output folder (weights/, history.json, eval/) -> models/fusion/<version>/."""
    from emopulse.training import fusion_head

    run_dir = Path(run_dir)
    history = json.loads((run_dir / "history.json").read_text())
    tmp, out, version = _target(Path(repo), "fusion", version, overwrite)
    for f in (fusion_head.WEIGHTS_FILE, fusion_head.META_FILE):
        shutil.copy2(run_dir / "weights" / f, tmp / f)
        (tmp / f).chmod(0o644)
    meta = json.loads((tmp / fusion_head.META_FILE).read_text())
    if sha256_file(tmp / fusion_head.WEIGHTS_FILE) != meta["weights_sha256"]:
        raise RuntimeError(f"{run_dir}/weights: weights do not match meta.json")
    report = _copy_eval(run_dir / "eval", tmp)
    (tmp / "model.py").write_text(MODEL_PY.format(name="fusion", version=version, cls="FusionHeadModel",
                                                  what="trained fusion head"))
    (tmp / "MODEL_CARD.md").write_text(cards.fusion_card(version, meta, report, history))
    _publish(tmp, out)
    return out
