"""Triton Python-backend models for trained versions; each version's model.py only imports one.

Imported inside tritonserver's Python stub only (needs ``triton_python_backend_utils``).
``TextClassifierModel``: text_classifier v2+ (fine-tuned MiniLM). ``FusionHeadModel``: fusion v2+
(trained fusion head). Weights and meta.json sit beside the version's model.py; the sha256 of the
weights is checked against meta.json at load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
import triton_python_backend_utils as pb_utils

from emopulse.processing.device import instance_device
from emopulse.triton_batch import execute_batched
from emopulse.weights import sha256_file

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _text(value) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def version_dir(args) -> Path:
    """models/<name>/<version>/ from the args Triton passes to initialize()."""
    return Path(args["model_repository"]) / str(args["model_version"])


def checked_meta(here: Path, weights_file: str) -> tuple[dict, str]:
    meta = json.loads((here / "meta.json").read_text())
    sha = sha256_file(here / weights_file)
    want = meta.get("weights_sha256")
    if want and sha != want:
        raise RuntimeError(f"{here / weights_file}: sha256 {sha} does not match meta.json ({want})")
    return meta, sha


def _errors(requests, name: str, exc: Exception):
    err = pb_utils.TritonError(f"{name}: {type(exc).__name__}: {exc}")
    return [pb_utils.InferenceResponse(error=err) for _ in requests]


class TextClassifierModel:
    """TEXT (+ optional CONTEXT) -> EMBEDDING [384], EMOTION [7], SENTIMENT [3]."""

    def initialize(self, args):
        from emopulse.training import textmodel
        from emopulse.weights import minilm_dir

        torch.set_num_threads(int(os.environ.get("EMOPULSE_TEXT_THREADS") or 1))
        here = version_dir(args)
        _, sha = checked_meta(here, textmodel.WEIGHTS_FILE)
        self.textmodel = textmodel
        self.tokenizer, self.model, self.meta = textmodel.load(here, minilm_dir())
        self.device = instance_device(args)
        self.model.to(self.device)
        self.max_tokens = int(self.meta.get("max_tokens", textmodel.MAX_TOKENS))
        pb_utils.Logger.log_info(f"text_classifier v{args['model_version']}: {textmodel.CLASSIFIER}; "
                                 f"weights {here / textmodel.WEIGHTS_FILE} sha256 {sha}")

    def execute(self, requests):
        texts, contexts, counts = [], [], []
        for request in requests:
            arr = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy().reshape(-1)
            ctx_t = pb_utils.get_input_tensor_by_name(request, "CONTEXT")
            ctx = ctx_t.as_numpy().reshape(-1) if ctx_t is not None else None
            if ctx is None or ctx.size != arr.size:
                ctx = [b""] * arr.size
            texts.extend(_text(v) for v in arr)
            contexts.extend(_text(v) for v in ctx)
            counts.append(arr.size)
        try:
            emb, emotion, sentiment = self.textmodel.predict(self.tokenizer, self.model, texts, contexts,
                                                             max_tokens=self.max_tokens, device=self.device)
        except Exception as exc:
            return _errors(requests, "text_classifier", exc)
        responses, start = [], 0
        for n in counts:
            sl = slice(start, start + n)
            start += n
            responses.append(pb_utils.InferenceResponse([
                pb_utils.Tensor("EMBEDDING", emb[sl]),
                pb_utils.Tensor("EMOTION", emotion[sl]),
                pb_utils.Tensor("SENTIMENT", sentiment[sl]),
                pb_utils.Tensor("CLASSIFIER", np.array([[self.textmodel.CLASSIFIER.encode()]] * n, dtype=object)),
            ]))
        return responses


FUSION_INPUTS = ("EMBEDDING_TEXT", "EMBEDDING_AUDIO", "EMBEDDING_VISION", "EMOTION_PROBS", "HAS_EMOTION",
                 "SENTIMENT_PROBS", "HAS_SENTIMENT", "PRESENT", "WEIGHTS")


class FusionHeadModel:
    """The fusion interface (see models/fusion/config.pbtxt) -> EMOTION [7], SENTIMENT [3]."""

    def initialize(self, args):
        from emopulse.training import fusion_head

        torch.set_num_threads(int(os.environ.get("EMOPULSE_FUSION_THREADS") or 1))
        here = version_dir(args)
        _, sha = checked_meta(here, fusion_head.WEIGHTS_FILE)
        self.fusion_head = fusion_head
        self.model, self.meta = fusion_head.load(here)   # tiny: stays on the CPU whatever the instance kind
        pb_utils.Logger.log_info(f"fusion v{args['model_version']}: trained fusion head; weights sha256 {sha}")

    def execute(self, requests):
        def predict(x):
            emotion, sentiment = self.fusion_head.predict_inputs(self.model, x)
            return {"EMOTION": emotion, "SENTIMENT": sentiment}
        return execute_batched(requests, "fusion", FUSION_INPUTS, predict)
