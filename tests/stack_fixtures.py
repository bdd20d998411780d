"""The whole stack as real processes (nats-server, tritonserver, services) for the tests, once per
session, always torn down. Settings are shortened so faults and deadlines show quickly."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emopulse.client import Client
from emopulse.stack import REPO_ROOT, Stack, free_port, tcp_open

UPLOAD_LIMIT = 4 * 1024 * 1024
FUSION_DEADLINE_S = 25
# Two replicas of vision, fusion and ingest run the whole session: every test also checks they share
# work safely (and a killed ingest has a replica to take its streams over).
WORKERS = {"vision": 2, "fusion": 2, "ingest": 2}
LEASE_TTL_S = 3
RECONNECT_BUDGET_S = 12
USAGE_METER_S = 2


@contextlib.contextmanager
def moto_server(env: dict[str, str] | None = None):
    """A real S3 endpoint (moto_server) on loopback; yields its URL."""
    port = free_port()
    binary = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], env=os.environ | (env or {}),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 30
        while not tcp_open(port):
            assert proc.poll() is None and time.time() < deadline, "moto_server did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """The session's S3 endpoint, with a bucket "media"."""
    import boto3
    with moto_server() as endpoint:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="media")
        yield endpoint


@pytest.fixture(scope="session")
def media_root(tmp_path_factory):
    return tmp_path_factory.mktemp("media-root")


@pytest.fixture(scope="session")
def stack(tmp_path_factory, s3_server, media_root):
    env = {
        "EMOPULSE_ACK_WAIT_S": "4",
        "EMOPULSE_SHUTDOWN_GRACE_S": "1",
        "EMOPULSE_SHUTDOWN_DRAIN_S": "2",
        "EMOPULSE_OUTAGE_BUDGET_S": "240",     # a 2-minute Triton outage must only pause the work
        "EMOPULSE_STALL_TIMEOUT_S": "400",
        "EMOPULSE_AUDIENCE_MAX_MESSAGES": "3000",  # tests/e2e/test_history.py posts 50 a second for a minute, then past it
        "EMOPULSE_REQUEUE_AFTER_S": "5",
        "EMOPULSE_FUSION_DEADLINE_S": str(FUSION_DEADLINE_S),
        "EMOPULSE_UPLOAD_LIMIT_BYTES": str(UPLOAD_LIMIT),
        "EMOPULSE_MEDIA_ROOT": str(media_root),
        "EMOPULSE_S3_ENDPOINT_URL": s3_server,
        "EMOPULSE_S3_ANALYZE_BUCKETS": "media",  # Analyze(s3://media/…) in tests/e2e/test_references.py
        "EMOPULSE_WHISPER_MODEL": "base",
        "EMOPULSE_LEASE_TTL_S": str(LEASE_TTL_S),
        "EMOPULSE_SOURCE_TIMEOUT_S": "2",
        "EMOPULSE_RECONNECT_BUDGET_S": str(RECONNECT_BUDGET_S),
        "EMOPULSE_RECONNECT_MAX_DELAY_S": "1",
        "EMOPULSE_USAGE_METER_S": str(USAGE_METER_S),
    }
    st = Stack.new(tmp_path_factory.mktemp("stack"), env=env, workers=WORKERS)
    try:
        st.start(progress=lambda msg: None)
        yield st
    finally:
        st.stop()


@pytest.fixture(scope="session")
def client(stack):
    with Client(stack.gateway, timeout=30) as c:
        yield c


@contextlib.contextmanager
def extra_gateways(stack: Stack, settings: list[dict[str, str]], ready, timeout_s: float = 60):
    """Gateway replicas beside the stack's own (same NATS, same workers), one per dict of extra
    EMOPULSE_* settings; yields their addresses once ``ready(address, index)`` holds for each."""
    procs, addresses = [], []
    try:
        for extra in settings:
            port = free_port()
            env = stack.service_env("gateway") | {"EMOPULSE_GRPC_PORT": str(port), "EMOPULSE_METRICS_PORT": "0"} | extra
            with open(stack.data_dir / "logs" / f"gateway-extra-{port}.log", "ab") as log:
                procs.append(subprocess.Popen([sys.executable, "-m", "services.gateway"], env=env, cwd=REPO_ROOT,
                                              stdout=log, stderr=subprocess.STDOUT))
            addresses.append(f"127.0.0.1:{port}")
        deadline = time.time() + timeout_s
        while not all(ready(a, i) for i, a in enumerate(addresses)):
            assert time.time() < deadline and all(p.poll() is None for p in procs), "the extra gateways did not start"
            time.sleep(0.2)
        yield addresses
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
