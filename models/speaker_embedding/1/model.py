"""Triton Python model: AUDIO float32 [B, samples] (16 kHz mono windows) -> EMBEDDING float32 [B, 256]."""

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
import torch
import triton_python_backend_utils as pb_utils

from emopulse.processing.device import instance_device
from emopulse.processing.speaker_encoder import EMBEDDING_DIM, embed_windows, load_voice_encoder
from emopulse.triton_batch import execute_batched  # noqa: E402
from emopulse.weights import sha256_file, speaker_encoder_weights


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        dims = pb_utils.get_output_config_by_name(config, "EMBEDDING")["dims"]
        if [int(d) for d in dims] != [EMBEDDING_DIM]:
            raise ValueError(f"config.pbtxt EMBEDDING dims {dims} != [{EMBEDDING_DIM}]")
        torch.set_num_threads(int(os.environ.get("EMOPULSE_SPEAKER_THREADS") or 1))
        path = speaker_encoder_weights()
        self.device = instance_device(args)
        self.model = load_voice_encoder(path, self.device)
        pb_utils.Logger.log_info(
            f"speaker_embedding: loaded GE2E (resemblyzer) from {path} (sha256 {sha256_file(path)})")

    def execute(self, requests):
        return execute_batched(requests, "speaker_embedding", ("AUDIO",), lambda x: {
            "EMBEDDING": embed_windows(self.model, x["AUDIO"].astype(np.float32), self.device)})
