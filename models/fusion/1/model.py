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

import triton_python_backend_utils as pb_utils

from emopulse.processing.fusion import late_fusion  # noqa: E402
from emopulse.triton_batch import execute_batched  # noqa: E402

_INPUTS = ("EMOTION_PROBS", "HAS_EMOTION", "SENTIMENT_PROBS", "HAS_SENTIMENT", "PRESENT", "WEIGHTS")


class TritonPythonModel:
    def initialize(self, args):
        pb_utils.Logger.log_info("fusion v1: late fusion (weighted average), no weights loaded")

    def execute(self, requests):
        return execute_batched(requests, "fusion", _INPUTS, fuse)


def fuse(x: dict) -> dict:
    present = x["PRESENT"].astype(bool)
    emotion, sentiment = late_fusion(x["EMOTION_PROBS"], x["HAS_EMOTION"].astype(bool) & present,
                                     x["SENTIMENT_PROBS"], x["HAS_SENTIMENT"].astype(bool) & present, x["WEIGHTS"])
    return {"EMOTION": emotion, "SENTIMENT": sentiment}
