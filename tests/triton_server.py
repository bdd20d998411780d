"""A real tritonserver (the one nvidia-pytriton ships) over a model repository, for tests."""
from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import tritonclient.grpc as grpcclient

from emopulse.stack import free_port
from emopulse.tritonserver import serve


@contextlib.contextmanager
def tritonserver(model_repository: Path, timeout: float = 300, env: dict[str, str] | None = None):
    """Start it on free loopback ports; yield (gRPC client, log path, seconds to ready); always stop it."""
    grpc_port = free_port()
    with contextlib.ExitStack() as running:
        try:
            log_path, ready_s = running.enter_context(
                serve(model_repository, free_port(), grpc_port, free_port(), timeout=timeout, env=env))
        except RuntimeError as exc:
            pytest.fail(str(exc))
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_port}")
        running.callback(client.close)
        yield client, log_path, ready_s
