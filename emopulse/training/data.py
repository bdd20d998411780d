"""Readers: labelled utterances from the MELD layouts and from a generic manifest.

Three inputs give the same ``Example`` list:

- ``meld``: MELD as distributed: ``{train,dev,test}_sent_emo.csv`` with clips
  ``dia{D}_utt{U}.mp4`` in per-split folders (``train_splits/``, ``dev_splits_complete/``,
  ``output_repeated_splits_test/`` upstream; ``train/``, ``dev/``, ``test/`` also accepted).
- ``nkululeko``: nkululeko's ``meld.csv`` (text + labels + split, no media).
- ``manifest``: CSV or JSONL with ``path, start, end, text, emotion, sentiment`` (optional
  ``split``, ``dialogue``, ``speaker``).

Missing or undecodable clips never stop a read: the example keeps ``media=None`` and the
``ReadReport`` counts and lists it.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from emopulse.labels import EMOTIONS, SENTIMENTS

SPLITS = ("train", "dev", "test")
FORMATS = ("meld", "nkululeko", "manifest")
MELD_CSV = {"train": "train_sent_emo.csv", "dev": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}
MELD_CLIP_DIRS = {
    "train": ("train_splits", "train"),
    "dev": ("dev_splits_complete", "dev_splits", "dev"),
    "test": ("output_repeated_splits_test", "test_splits", "test"),
}
_EMOTION_ALIASES = {"angry": "anger", "happy": "joy", "happiness": "joy", "sad": "sadness",
                    "surprised": "surprise", "fearful": "fear", "disgusted": "disgust"}


@dataclass
class Example:
    id: str
    text: str
    emotion: int | None
    sentiment: int | None
    split: str = "train"
    dialogue: str = ""
    order: int = 0
    speaker: str = ""
    media: str | None = None     # path to an audio/video clip, None when missing/undecodable
    start: float | None = None   # seconds inside ``media`` (None: the whole clip)
    end: float | None = None
    context: list[str] = field(default_factory=list)  # previous utterances, oldest first


@dataclass
class ReadReport:
    total: int = 0
    by_split: dict = field(default_factory=dict)
    missing: list = field(default_factory=list)       # ids whose clip does not exist
    undecodable: list = field(default_factory=list)   # ids whose clip exists but cannot be decoded
    unlabelled: list = field(default_factory=list)    # rows with an unknown label (skipped)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(missing_count=len(self.missing), undecodable_count=len(self.undecodable),
                 unlabelled_count=len(self.unlabelled))
        return d

    def summary(self) -> str:
        return (f"{self.total} utterances ({', '.join(f'{k} {v}' for k, v in self.by_split.items())}); "
                f"missing clips {len(self.missing)}, undecodable clips {len(self.undecodable)}, "
                f"skipped rows with unknown labels {len(self.unlabelled)}")


def emotion_index(label: str | None) -> int | None:
    if label is None or str(label).strip() == "":
        return None
    s = str(label).strip().lower()
    s = _EMOTION_ALIASES.get(s, s)
    return EMOTIONS.index(s) if s in EMOTIONS else None


def sentiment_index(label: str | None) -> int | None:
    if label is None or str(label).strip() == "":
        return None
    s = str(label).strip().lower()
    return SENTIMENTS.index(s) if s in SENTIMENTS else None


def clean_text(text: str) -> str:
    """MELD's CSVs carry mojibake for typographic quotes/dashes (cp1252 read as UTF-8)."""
    t = str(text or "")
    for bad, good in (("\u0092", "'"), ("\u0091", "'"), ("\u0093", '"'), ("\u0094", '"'),
                      ("\u0097", "-"), ("\u0096", "-"), ("\u0085", "..."), ("\u2019", "'"),
                      ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\u2014", "-"),
                      ("\u2026", "..."), ("\u00a0", " ")):
        t = t.replace(bad, good)
    return re.sub(r"\s+", " ", t).strip()


def _time_s(value) -> float | None:
    """'00:16:16,059' or '12.5' -> seconds; '' -> None."""
    if value is None or str(value).strip() == "":
        return None
    s = str(value).strip().replace(",", ".")
    if ":" in s:
        secs = 0.0
        for part in s.split(":"):
            secs = secs * 60 + float(part)
        return secs
    return float(s)


def add_context(examples: list[Example], n: int = 2) -> list[Example]:
    """Fill each example's ``context`` with up to ``n`` previous utterances of its dialogue."""
    by_dialogue: dict[tuple[str, str], list[Example]] = {}
    for ex in examples:
        if ex.dialogue != "":
            by_dialogue.setdefault((ex.split, ex.dialogue), []).append(ex)
    for items in by_dialogue.values():
        items.sort(key=lambda e: e.order)
        for i, ex in enumerate(items):
            ex.context = [e.text for e in items[max(0, i - n):i]] if n > 0 else []
    return examples


def _finish(examples: list[Example], report: ReadReport, context: int) -> tuple[list[Example], ReadReport]:
    report.total = len(examples)
    report.by_split = dict(Counter(e.split for e in examples))
    return add_context(examples, context), report


def read_nkululeko(path: str | Path, context: int = 2) -> tuple[list[Example], ReadReport]:
    """nkululeko's data/meld/meld.csv (text only: no media)."""
    report, examples = ReadReport(), []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            emo, sen = emotion_index(row.get("emotion")), sentiment_index(row.get("sentiment"))
            d, u = row.get("Dialogue_ID", ""), row.get("Utterance_ID", "0")
            split = (row.get("split") or "train").strip()
            ex_id = f"{split}/dia{d}_utt{u}"
            if emo is None or sen is None:
                report.unlabelled.append(ex_id)
                continue
            examples.append(Example(id=ex_id, text=clean_text(row.get("Utterance", "")), emotion=emo,
                                    sentiment=sen, split=split, dialogue=str(d), order=int(u or 0),
                                    speaker=row.get("speaker", "") or ""))
    return _finish(examples, report, context)


def _find_clip_dir(root: Path, split: str) -> Path | None:
    for name in MELD_CLIP_DIRS[split]:
        if (root / name).is_dir():
            return root / name
    return None


def read_meld(root: str | Path, context: int = 2, check_media: bool = True) -> tuple[list[Example], ReadReport]:
    """MELD as distributed: ``{split}_sent_emo.csv`` + ``dia{D}_utt{U}.mp4`` per split folder."""
    root = Path(root)
    report, examples = ReadReport(), []
    found = False
    for split, name in MELD_CSV.items():
        csv_path = root / name
        if not csv_path.is_file():
            continue
        found = True
        clip_dir = _find_clip_dir(root, split)
        with open(csv_path, newline="", encoding="utf-8", errors="replace") as f:
            for row in csv.DictReader(f):
                d, u = row.get("Dialogue_ID", "").strip(), row.get("Utterance_ID", "").strip()
                ex_id = f"{split}/dia{d}_utt{u}"
                emo = emotion_index(row.get("Emotion") or row.get("emotion"))
                sen = sentiment_index(row.get("Sentiment") or row.get("sentiment"))
                if emo is None or sen is None:
                    report.unlabelled.append(ex_id)
                    continue
                clip = (clip_dir / f"dia{d}_utt{u}.mp4") if clip_dir else None
                ex = Example(id=ex_id, text=clean_text(row.get("Utterance", "")), emotion=emo, sentiment=sen,
                             split=split, dialogue=d, order=int(u or 0), speaker=row.get("Speaker", "") or "",
                             media=str(clip) if clip else None)
                _check_media(ex, report, check_media)
                examples.append(ex)
    if not found:
        raise FileNotFoundError(f"no MELD CSV ({', '.join(MELD_CSV.values())}) in {root}")
    return _finish(examples, report, context)


def _check_media(ex: Example, report: ReadReport, decode: bool) -> None:
    if ex.media is None or not Path(ex.media).is_file():
        report.missing.append(ex.id)
        ex.media = None
        return
    if decode and not clip_decodes(ex.media):
        report.undecodable.append(ex.id)
        ex.media = None


def clip_decodes(path: str | Path) -> bool:
    """True if PyAV opens the file and finds an audio or video stream."""
    import av

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio or container.streams.video)
    except Exception:
        return False


def read_manifest(path: str | Path, context: int = 2, check_media: bool = True) -> tuple[list[Example], ReadReport]:
    """CSV or JSONL manifest: path, start, end, text, emotion, sentiment [, split, dialogue, speaker].

    Relative media paths are resolved against the manifest's folder.
    """
    path = Path(path)
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    report, examples = ReadReport(), []
    for i, row in enumerate(rows):
        ex_id = str(row.get("id") or f"row{i}")
        emo, sen = emotion_index(row.get("emotion")), sentiment_index(row.get("sentiment"))
        if emo is None and sen is None:
            report.unlabelled.append(ex_id)
            continue
        media = row.get("path") or None
        if media and not Path(media).is_absolute():
            media = str(path.parent / media)
        ex = Example(id=ex_id, text=clean_text(row.get("text", "")), emotion=emo, sentiment=sen,
                     split=str(row.get("split") or "train"), dialogue=str(row.get("dialogue") or ""),
                     order=int(row.get("order") or i), speaker=str(row.get("speaker") or ""),
                     media=media, start=_time_s(row.get("start")), end=_time_s(row.get("end")))
        if media:
            _check_media(ex, report, check_media)
        examples.append(ex)
    return _finish(examples, report, context)


def read(path: str | Path, fmt: str = "auto", context: int = 2, check_media: bool = True):
    """Dispatch on ``fmt`` (auto: a folder is MELD, meld.csv-like CSV is nkululeko, else manifest)."""
    path = Path(path)
    if fmt == "auto":
        if path.is_dir():
            fmt = "meld"
        elif path.suffix.lower() == ".csv":
            with open(path, newline="", encoding="utf-8") as f:
                header = next(csv.reader(f), [])
            fmt = "nkululeko" if "Utterance" in header and "split" in header else "manifest"
        else:
            fmt = "manifest"
    if fmt == "meld":
        return read_meld(path, context, check_media)
    if fmt == "nkululeko":
        return read_nkululeko(path, context)
    if fmt == "manifest":
        return read_manifest(path, context, check_media)
    raise ValueError(f"unknown format {fmt!r}: one of {FORMATS} or auto")
