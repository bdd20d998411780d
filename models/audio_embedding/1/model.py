"""Triton Python model: AUDIO float32 [-1] (16 kHz mono) -> EMBEDDING float32 [91]."""

import os
import sys
from pathlib import Path

# tritonserver's Python stub runs an isolated interpreter that ignores PYTHONPATH: add its entries
# and the repo root (models/<name>/1/model.py -> three levels up) to sys.path ourselves.
for _p in [*os.environ.get("PYTHONPATH", "").split(os.pathsep), str(Path(__file__).resolve().parents[3])]:
    if _p and _p not in sys.path:
        sys.path.append(_p)

import json

import numpy as np
import triton_python_backend_utils as pb_utils

from emopulse.processing.audio_features import AUDIO_EMBEDDING_DIM, audio_embedding


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        dims = pb_utils.get_output_config_by_name(config, "EMBEDDING")["dims"]
        if [int(d) for d in dims] != [AUDIO_EMBEDDING_DIM]:
            raise ValueError(f"config.pbtxt EMBEDDING dims {dims} != [{AUDIO_EMBEDDING_DIM}]")
        pb_utils.Logger.log_info(
            f"audio_embedding: no weights (log-mel + prosody statistics, {AUDIO_EMBEDDING_DIM}-d)")

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                audio = pb_utils.get_input_tensor_by_name(request, "AUDIO").as_numpy().reshape(-1)
                emb = audio_embedding(audio.astype(np.float32))
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("EMBEDDING", emb)]))
            except Exception as exc:
                responses.append(pb_utils.InferenceResponse(
                    error=pb_utils.TritonError(f"audio_embedding: {type(exc).__name__}: {exc}")))
        return responses
