"""Fixtures of the integration tests."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from emopulse.stack import _bin, free_port, tcp_open


@pytest.fixture
def nats_url(tmp_path):
    """A real JetStream server on a free port, its store in a temp dir."""
    port = free_port()
    proc = subprocess.Popen([_bin("nats-server"), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 20
    while not tcp_open(port):
        assert time.time() < deadline, "nats-server did not start"
        time.sleep(0.05)
    yield f"nats://127.0.0.1:{port}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
