"""Triton Python model: TEXT -> MiniLM EMBEDDING [384], zero-shot EMOTION [7], VADER SENTIMENT [3]."""

import os
import sys
from pathlib import Path

# tritonserver's Python stub runs an isolated interpreter that ignores PYTHONPATH: add its entries
# and the repo root (models/<name>/1/model.py -> three levels up) to sys.path ourselves.
for _p in [*os.environ.get("PYTHONPATH", "").split(os.pathsep), str(Path(__file__).resolve().parents[3])]:
    if _p and _p not in sys.path:
        sys.path.append(_p)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
import triton_python_backend_utils as pb_utils
from transformers import AutoModel, AutoTokenizer

from emopulse.processing.text import (
    DEFAULT_TEMPERATURE,
    TEXT_EMOTION_CLASSIFIER,
    TEXT_SENTIMENT_CLASSIFIER,
    build_prototypes,
    prototype_emotion_probs,
    vader_sentiment_probs,
)
from emopulse.weights import minilm_dir, sha256_file

MAX_TOKENS = 256


def _text(value):
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


CLASSIFIER = f"emotion: {TEXT_EMOTION_CLASSIFIER}; sentiment: {TEXT_SENTIMENT_CLASSIFIER}".encode()


class TritonPythonModel:
    def initialize(self, args):
        torch.set_num_threads(int(os.environ.get("EMOPULSE_TEXT_THREADS") or 1))
        model_dir = minilm_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
        self.prototypes = build_prototypes(self.embed)
        self.temperature = float(os.environ.get("EMOPULSE_TEXT_TEMPERATURE") or DEFAULT_TEMPERATURE)
        sha = sha256_file(model_dir / "model.safetensors")
        pb_utils.Logger.log_info(
            f"text_classifier: loaded all-MiniLM-L6-v2 from {model_dir} (model.safetensors sha256 "
            f"{sha}); emotion: {TEXT_EMOTION_CLASSIFIER}; sentiment: {TEXT_SENTIMENT_CLASSIFIER}"
        )

    def embed(self, texts):
        """sentence-transformers semantics: mean pooling over attention mask, then L2 normalise."""
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_TOKENS,
                               return_tensors="pt")
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.numpy().astype(np.float32)

    def execute(self, requests):
        texts, counts = [], []
        for request in requests:
            arr = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy().reshape(-1)
            texts.extend(_text(v) for v in arr)
            counts.append(arr.size)
        responses = []
        try:
            emb = self.embed(texts) if texts else np.zeros((0, 384), np.float32)
            emotion = prototype_emotion_probs(emb, self.prototypes, self.temperature)
            sentiment = np.stack([vader_sentiment_probs(t) for t in texts]) if texts else np.zeros((0, 3), np.float32)
        except Exception as exc:
            err = pb_utils.TritonError(f"text_classifier: {type(exc).__name__}: {exc}")
            return [pb_utils.InferenceResponse(error=err) for _ in requests]
        start = 0
        for n in counts:
            sl = slice(start, start + n)
            start += n
            responses.append(pb_utils.InferenceResponse([
                pb_utils.Tensor("EMBEDDING", emb[sl]),
                pb_utils.Tensor("EMOTION", emotion[sl].astype(np.float32)),
                pb_utils.Tensor("SENTIMENT", sentiment[sl].astype(np.float32)),
                pb_utils.Tensor("CLASSIFIER", np.array([[CLASSIFIER]] * n, dtype=object)),
            ]))
        return responses
