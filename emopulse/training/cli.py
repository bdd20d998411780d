"""``emopulse train | evaluate | export``: wired into ``emopulse.cli`` with ``add_commands(sub)``.

    emopulse train text   --data meld.csv --out runs/text            [--epochs 3 --context 2 --threads 1]
    emopulse train fusion --data MELD_DIR --format meld --out runs/fusion --cache ~/.cache/emopulse/features
    emopulse evaluate --run runs/text                     # re-derive report.json/.md + PNGs from predictions
    emopulse evaluate --data meld.csv --model text --version 2 --split test --out eval/   # a shipped version
    emopulse export text   --run runs/text   [--version N] [--overwrite]   # -> models/text_classifier/N/
    emopulse export fusion --run runs/fusion [--version N] [--overwrite]   # -> models/fusion/N/

Each sets ``run`` (argparse default; ``--run`` is stored as ``run_dir``) to a function ``(args) -> int`` as the other commands do.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from emopulse.training.data import FORMATS


def _data_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--data", required=required, help="MELD folder, nkululeko meld.csv, or a CSV/JSONL manifest")
    p.add_argument("--format", default="auto", choices=("auto", *FORMATS), help="input layout (default: auto)")
    p.add_argument("--context", type=int, default=2, help="previous utterances of a dialogue used as context")


def _guard(fn):
    def run(args) -> int:
        try:
            return fn(args)
        except (FileNotFoundError, FileExistsError, ValueError) as exc:
            print(f"emopulse {args.command}: {exc}", file=sys.stderr)
            return 2
    return run


def cmd_train(args) -> int:
    if args.model == "text":
        from emopulse.training import train_text

        cfg = train_text.TextTrainConfig(epochs=args.epochs, threads=args.threads, seed=args.seed,
                                         max_steps=args.max_steps)
        out = train_text.run(args.data, args.out, cfg, fmt=args.format, context=args.context)
        _evaluate_run(out)
        print(f"trained text classifier in {out}; export with `emopulse export text --run {out}`")
        return 0
    from emopulse.training import fusion_head, train_fusion
    from emopulse.weights import cache_dir

    cfg = fusion_head.FusionTrainConfig(seed=args.seed, modalities=tuple(args.modalities.split(",")))
    hist = train_fusion.run(args.data, args.out, args.cache or cache_dir() / "features", fmt=args.format, cfg=cfg,
                            text_version=args.text_version, context=args.context)
    print(json.dumps(hist["eval"], indent=2))
    print(f"trained fusion head in {args.out}; export with `emopulse export fusion --run {args.out}`")
    return 0


def _evaluate_run(run_dir: Path, out: Path | None = None) -> dict:
    """Report for a run folder's saved predictions (text: test with/without context; fusion: eval split)."""
    from emopulse.training import evaluate

    run_dir = Path(run_dir)
    pred = run_dir / "predictions"
    if (pred / "test.npz").is_file() and (pred / "test_nocontext.npz").is_file():   # a text run
        systems = {"text_classifier (fine-tuned, with context)": pred / "test.npz",
                   "text_classifier (fine-tuned, no context)": pred / "test_nocontext.npz"}
        extra = pred / "test_v1.npz"
        if extra.is_file():
            systems["text_classifier v1 (zero-shot + VADER)"] = extra
        return evaluate.evaluate_predictions(systems, out or run_dir / "eval", title="text classifier, MELD test",
                                             train_labels=pred / "train_labels.npz", split="test",
                                             note="Majority baseline: the most frequent class of MELD train.")
    hist = json.loads((run_dir / "history.json").read_text())
    report = json.loads((run_dir / "eval" / "report.json").read_text())
    systems = {name: r["predictions"] for name, r in report["systems"].items()}
    return evaluate.evaluate_predictions(systems, out or run_dir / "eval", title=report["title"],
                                         train_labels=pred / "train_labels.npz", split=hist["eval_split"],
                                         note=report.get("note", ""))


def cmd_evaluate(args) -> int:
    from emopulse.training import evaluate

    if args.run_dir:
        rep = _evaluate_run(Path(args.run_dir), Path(args.out) if args.out else None)
    else:
        if not (args.data and args.out):
            raise ValueError("give --run DIR, or --data PATH and --out DIR")
        from emopulse.training.data import read
        from emopulse.training.features import TextEncoder
        from emopulse.training.train_text import save_predictions

        examples, report = read(args.data, args.format, context=args.context, check_media=False)
        print(report.summary(), file=sys.stderr)
        split = [e for e in examples if e.split == args.split and e.emotion is not None and e.sentiment is not None]
        train = [e for e in examples if e.split == "train" and e.emotion is not None and e.sentiment is not None]
        if not split:
            raise ValueError(f"no labelled utterances in split {args.split!r}")
        enc = TextEncoder(str(args.version), use_context=args.context > 0)
        feats = enc.encode(split)
        out = Path(args.out)
        import numpy as np

        path = save_predictions(out / f"{args.split}_text_v{args.version}.npz", split,
                                np.stack([f["emotion"] for f in feats]), np.stack([f["sentiment"] for f in feats]))
        labels = save_predictions(out / "train_labels.npz", train, np.zeros((len(train), 7), np.float32),
                                  np.zeros((len(train), 3), np.float32)) if train else None
        rep = evaluate.evaluate_predictions({f"text_classifier v{args.version}": path}, out, split=args.split,
                                            title=f"text_classifier v{args.version} on {args.data}", train_labels=labels)
    for name, r in rep["systems"].items():
        print(f"{name}: emotion wF1 {r['emotion']['system']['weighted_f1']:.3f} acc {r['emotion']['system']['accuracy']:.3f}; "
              f"sentiment wF1 {r['sentiment']['system']['weighted_f1']:.3f} acc {r['sentiment']['system']['accuracy']:.3f}")
    return 0


def cmd_export(args) -> int:
    from emopulse.training import export

    repo = Path(args.repo)
    if args.model == "text":
        out = export.export_text(args.run_dir, repo=repo, version=args.version, overwrite=args.overwrite)
    else:
        out = export.export_fusion(args.run_dir, repo=repo, version=args.version, overwrite=args.overwrite)
    print(f"exported {out} (restart tritonserver to serve it; the previous version stays for rollback)")
    return 0


def add_commands(subparsers) -> None:
    """Add ``train``, ``evaluate`` and ``export`` to an argparse subparsers object."""
    from emopulse.training.export import MODELS

    train = subparsers.add_parser("train", help="train the text classifier or the fusion head")
    train.add_argument("model", choices=("text", "fusion"))
    _data_args(train)
    train.add_argument("--out", required=True, help="run folder (weights, predictions, history, eval)")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--epochs", type=int, default=3, help="text: training epochs")
    train.add_argument("--threads", type=int, default=1, help="text: torch threads")
    train.add_argument("--max-steps", type=int, default=None, help=argparse.SUPPRESS)
    train.add_argument("--cache", help="fusion: feature cache folder (default <cache dir>/features)")
    train.add_argument("--text-version", default="2", help="fusion: text classifier version for text features")
    train.add_argument("--modalities", default="text,audio,vision", help="fusion: modalities the head may use")
    train.set_defaults(run=_guard(_with_seed(cmd_train)))

    ev = subparsers.add_parser("evaluate", help="metrics, confusion matrices and reports (JSON + Markdown)")
    ev.add_argument("--run", dest="run_dir", help="a train run folder: report from its saved predictions")
    _data_args(ev, required=False)
    ev.add_argument("--model", default="text", choices=("text",), help="with --data: which model to run")
    ev.add_argument("--version", type=int, default=2, help="with --data: text_classifier version")
    ev.add_argument("--split", default="test")
    ev.add_argument("--out", help="report folder")
    ev.set_defaults(run=_guard(cmd_evaluate))

    ex = subparsers.add_parser("export", help="a trained run -> a new Triton model version (+ model card)")
    ex.add_argument("model", choices=("text", "fusion"))
    ex.add_argument("--run", dest="run_dir", required=True, help="a train run folder")
    ex.add_argument("--repo", default=str(MODELS), help="Triton model repository (default: models/)")
    ex.add_argument("--version", type=int, default=None, help="default: the next free version")
    ex.add_argument("--overwrite", action="store_true")
    ex.set_defaults(run=_guard(cmd_export))


def _with_seed(fn):
    def run(args) -> int:
        if args.seed is None:
            args.seed = 13 if args.model == "text" else 7
        return fn(args)
    return run
