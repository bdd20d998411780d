"""Fixtures for the training tests: a real tritonserver over a small model repository."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from emopulse.tritonserver import triton_command, wait_ready

REPO = Path(__file__).resolve().parents[2]


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@contextlib.contextmanager
def tritonserver(model_repository: Path, timeout: float = 120):
    """Start the bundled tritonserver over ``model_repository``; yield a gRPC client; stop it."""
    grpcclient = pytest.importorskip("tritonclient.grpc")
    work = Path(tempfile.mkdtemp(prefix="emopulse-train-triton-"))
    http, grpc_port, metrics = _free_ports(3)
    argv, env = triton_command(model_repository, work, http, grpc_port, metrics)
    log_path = work / "tritonserver.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            wait_ready(http, timeout=timeout, process=proc)
        except Exception:
            log.flush()
            pytest.fail(f"tritonserver not ready:\n{log_path.read_text(errors='replace')[-6000:]}")
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_port}")
        try:
            yield client, log_path
        finally:
            client.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def copy_model(name: str, dest_repo: Path, versions=("1",)) -> Path:
    """models/<name>/config.pbtxt + the given versions, copied into ``dest_repo``."""
    src = REPO / "models" / name
    dst = dest_repo / name
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "config.pbtxt", dst / "config.pbtxt")
    for v in versions:
        shutil.copytree(src / v, dst / v, ignore=shutil.ignore_patterns("__pycache__"))
    return dst
