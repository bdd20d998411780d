"""Faults that are not crashes: every vision worker stalls (fused around after the deadline), and a job
is cancelled mid-way (its stream ends, and no summary follows). Crashes: test_reliability.py."""
from __future__ import annotations

import os
import signal
import time

import pytest

from emopulse.v1 import results_pb2 as pb
from tests.stack_fixtures import FUSION_DEADLINE_S

pytestmark = pytest.mark.slow


def test_stalled_vision_is_fused_without_after_the_deadline(client, stack, talking_clip):
    stalled = [pid for name, pid in stack.pids.items() if name.split("-")[0] == "vision"]
    for pid in stalled:
        os.killpg(pid, signal.SIGSTOP)
    try:
        started = time.time()
        events = list(client.subscribe(client.upload(talking_clip[0]).id, timeout=300))
        elapsed = time.time() - started
    finally:
        for pid in stalled:
            os.killpg(pid, signal.SIGCONT)
    results = [e.result for e in events if e.HasField("result")]
    assert events[-1].HasField("summary") and len(results) == 3
    assert elapsed >= FUSION_DEADLINE_S
    for r in results:
        assert list(r.timed_out) == ["vision"]
        vision = r.modalities[2]
        assert not vision.present and "timed out" in vision.absent_reason
        assert sum(r.emotion) == pytest.approx(1, abs=1e-5)


def test_cancel_mid_job_ends_the_stream(client, long_clip):
    job = client.upload(long_clip)
    cancelled = client.cancel(job.id)
    assert cancelled.state == pb.CANCELLED and cancelled.reason
    events = list(client.subscribe(job.id, timeout=60))
    assert events[-1].HasField("ended") and events[-1].ended.state == pb.CANCELLED
    time.sleep(3)
    assert client.get_job(job.id).state == pb.CANCELLED
    replay = list(client.subscribe(job.id, timeout=60))
    assert not any(e.HasField("summary") for e in replay), "no summary follows a cancel"
