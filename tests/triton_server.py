"""A real tritonserver (the one nvidia-pytriton ships) over a model repository, for tests."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
import tritonclient.grpc as grpcclient

from emopulse.stack import free_port
from emopulse.tritonserver import triton_command, wait_ready


@contextlib.contextmanager
def tritonserver(model_repository: Path, timeout: float = 300, env: dict[str, str] | None = None):
    """Start it on free loopback ports; yield (gRPC client, log path, seconds to ready); always stop it."""
    work = Path(tempfile.mkdtemp(prefix="emopulse-triton-"))
    http, grpc_port, metrics = free_port(), free_port(), free_port()
    argv, server_env = triton_command(model_repository, work, http, grpc_port, metrics)
    server_env.update(env or {})
    log_path = work / "tritonserver.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(argv, env=server_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            ready_s = wait_ready(http, timeout=timeout, process=proc)
        except Exception:
            log.flush()
            pytest.fail(f"tritonserver not ready:\n{log_path.read_text(errors='replace')[-6000:]}")
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_port}")
        try:
            yield client, log_path, ready_s
        finally:
            client.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()
        shutil.rmtree(work, ignore_errors=True)
