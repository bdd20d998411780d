"""Triton Python model, version 1: late fusion of per-modality probabilities (no weights).

A modality counts for a head when it is PRESENT and HAS_<head>; embeddings are unused here.
"""

import os
import sys
from pathlib import Path

# tritonserver's Python stub runs an isolated interpreter that ignores PYTHONPATH: add its entries
# and the repo root (models/<name>/1/model.py -> three levels up) to sys.path ourselves.
for _p in [*os.environ.get("PYTHONPATH", "").split(os.pathsep), str(Path(__file__).resolve().parents[3])]:
    if _p and _p not in sys.path:
        sys.path.append(_p)

import numpy as np
import triton_python_backend_utils as pb_utils

from emopulse.processing.fusion import late_fusion

_INPUTS = ("EMOTION_PROBS", "HAS_EMOTION", "SENTIMENT_PROBS", "HAS_SENTIMENT", "PRESENT", "WEIGHTS")


class TritonPythonModel:
    def initialize(self, args):
        pb_utils.Logger.log_info("fusion v1: late fusion (weighted average), no weights loaded")

    def execute(self, requests):
        parts = {name: [] for name in _INPUTS}
        counts = []
        for request in requests:
            for name in _INPUTS:
                parts[name].append(pb_utils.get_input_tensor_by_name(request, name).as_numpy())
            counts.append(parts["WEIGHTS"][-1].shape[0])
        try:
            x = {name: np.concatenate(v) for name, v in parts.items()}
            present = x["PRESENT"].astype(bool)
            emotion, sentiment = late_fusion(
                x["EMOTION_PROBS"], x["HAS_EMOTION"].astype(bool) & present,
                x["SENTIMENT_PROBS"], x["HAS_SENTIMENT"].astype(bool) & present,
                x["WEIGHTS"],
            )
        except Exception as exc:
            err = pb_utils.TritonError(f"fusion: {type(exc).__name__}: {exc}")
            return [pb_utils.InferenceResponse(error=err) for _ in requests]
        responses, start = [], 0
        for n in counts:
            responses.append(pb_utils.InferenceResponse([
                pb_utils.Tensor("EMOTION", emotion[start:start + n]),
                pb_utils.Tensor("SENTIMENT", sentiment[start:start + n]),
            ]))
            start += n
        return responses
