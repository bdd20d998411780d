"""Triton Python model: FACE [64, 64] normalised grayscale -> EXPRESSION [7] (EMOTIONS order)."""

import os
import sys
from pathlib import Path

# tritonserver's Python stub runs an isolated interpreter that ignores PYTHONPATH: add its entries
# and the repo root (models/<name>/1/model.py -> three levels up) to sys.path ourselves.
for _p in [*os.environ.get("PYTHONPATH", "").split(os.pathsep), str(Path(__file__).resolve().parents[3])]:
    if _p and _p not in sys.path:
        sys.path.append(_p)

import numpy as np
import torch
import triton_python_backend_utils as pb_utils

from emopulse.processing.fer import emotion_probs, load_mini_xception
from emopulse.processing.device import instance_device
from emopulse.triton_batch import execute_batched  # noqa: E402
from emopulse.weights import fer_weights, sha256_file


class TritonPythonModel:
    def initialize(self, args):
        torch.set_num_threads(int(os.environ.get("EMOPULSE_FACE_THREADS") or 1))
        path = fer_weights()
        self.device = instance_device(args)
        self.model = load_mini_xception(path).to(self.device)
        pb_utils.Logger.log_info(
            f"face_expression: loaded FER2013 mini-Xception from {path} (sha256 {sha256_file(path)})")

    def execute(self, requests):
        return execute_batched(requests, "face_expression", ("FACE",), lambda x: {
            "EXPRESSION": emotion_probs(self.model, x["FACE"].reshape(-1, 64, 64).astype(np.float32), self.device)})
