"""Thin async client for the Triton models: numpy in, numpy out, explicit timeouts."""
from __future__ import annotations

import time

import numpy as np
import tritonclient.grpc.aio as grpcclient
from tritonclient.utils import np_to_triton_dtype

from emopulse.runtime import metrics


# gRPC's reconnect backoff grows to minutes by default: after a Triton restart the work would wait
# that long. Reconnect within a second instead (the server is local to the cluster).
CHANNEL_ARGS = [
    ("grpc.max_send_message_length", 2**31 - 1),
    ("grpc.max_receive_message_length", 2**31 - 1),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


class Triton:
    def __init__(self, url: str, timeout_s: float):
        self.url = url
        self.timeout_s = timeout_s
        self.client = grpcclient.InferenceServerClient(url, channel_args=CHANNEL_ARGS)

    async def infer(self, model: str, inputs: dict[str, np.ndarray], outputs: list[str]) -> tuple[dict[str, np.ndarray], str]:
        """One request; returns the named outputs and "<model>:<version>" that produced them."""
        request = []
        for name, array in inputs.items():
            tensor = grpcclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(array)
            request.append(tensor)
        started = time.perf_counter()
        result = await self.client.infer(model, request,
                                         outputs=[grpcclient.InferRequestedOutput(n) for n in outputs],
                                         client_timeout=self.timeout_s)
        metrics.MODEL_SECONDS.labels(model).observe(time.perf_counter() - started)
        response = result.get_response()
        return {n: result.as_numpy(n) for n in outputs}, f"{response.model_name}:{response.model_version}"

    async def ready(self, models: tuple[str, ...]) -> bool:
        try:
            if not await self.client.is_server_ready(client_timeout=2):
                return False
            for model in models:
                if not await self.client.is_model_ready(model, client_timeout=2):
                    return False
            return True
        except Exception:
            return False

    async def close(self) -> None:
        await self.client.close()


def strings(values: list[str]) -> np.ndarray:
    """A batch of strings as Triton's BYTES tensor [N, 1]."""
    return np.array([[v.encode()] for v in values], dtype=object)
