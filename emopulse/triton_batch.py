"""Inside tritonserver's Python backend: run one computation over every request of a dynamic batch.

Only importable there (needs triton_python_backend_utils).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import triton_python_backend_utils as pb_utils


def execute_batched(requests, model: str, inputs: tuple[str, ...],
                    compute: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]):
    """Concatenate the named inputs of all requests, compute once, answer each request with its rows.
    A failure answers every request with the error instead of crashing the model."""
    parts = {name: [] for name in inputs}
    counts = []
    for request in requests:
        for name in inputs:
            parts[name].append(pb_utils.get_input_tensor_by_name(request, name).as_numpy())
        counts.append(parts[inputs[0]][-1].shape[0])
    try:
        outputs = compute({name: np.concatenate(arrays) for name, arrays in parts.items()})
    except Exception as exc:
        error = pb_utils.TritonError(f"{model}: {type(exc).__name__}: {exc}")
        return [pb_utils.InferenceResponse(error=error) for _ in requests]
    responses, start = [], 0
    for n in counts:
        responses.append(pb_utils.InferenceResponse(
            [pb_utils.Tensor(name, value[start:start + n]) for name, value in outputs.items()]))
        start += n
    return responses
