"""Faults: a worker killed mid-job is restarted and the job still completes, each utterance once;
a worker that stalls is fused around after the deadline; a job can be cancelled mid-way."""
from __future__ import annotations

import os
import signal
import threading
import re
import time
import urllib.request

import pytest

from emopulse.v1 import results_pb2 as pb
from tests import media
from tests.stack_fixtures import FUSION_DEADLINE_S

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def long_clip(media_dir):
    path, _ = media.make_talking_clip(media_dir / "long.mp4", media.SAMPLE_SENTENCES + media.SHORT_SENTENCES)
    return path


def run_with_kill(client, stack, clip, victim):
    """Upload, SIGKILL `victim` once the first result is out, restart it; return all events."""
    job = client.upload(clip)
    events = []
    for event in client.subscribe(job.id, timeout=300):
        events.append(event)
        if event.HasField("result") and event.result.index == 0:
            stack.kill(victim, signal.SIGKILL)
            threading.Thread(target=stack.start_service, args=(victim,), daemon=True).start()
    return job, events


@pytest.mark.parametrize("victim", ["vision", "fusion"])
def test_killed_worker_restarts_and_job_completes_exactly_once(client, stack, long_clip, victim):
    job, events = run_with_kill(client, stack, long_clip, victim)
    results = [e.result for e in events if e.HasField("result")]
    expected = len(media.SAMPLE_SENTENCES) + len(media.SHORT_SENTENCES)
    assert events[-1].HasField("summary"), events[-1]
    assert [r.index for r in results] == list(range(expected))
    assert events[-1].summary.utterance_count == expected
    assert client.get_job(job.id).state == pb.SUCCEEDED
    # A late subscriber sees the same: each utterance exactly once.
    replay = [e.result.index for e in client.subscribe(job.id, timeout=60) if e.HasField("result")]
    assert replay == list(range(expected))
    time.sleep(0.5)
    assert stack.status()[victim] == "serving"
    # The restarted process did part of this job (the only one running): the kill was mid-job.
    assert consumed(stack, victim) > 0


def consumed(stack, service) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{stack.ports.metrics[service]}/metrics", timeout=5).read().decode()
    return sum(float(v) for v in re.findall(r'^emopulse_events_consumed_total\{[^}]*\} (\S+)$', text, re.M))


def test_stalled_vision_is_fused_without_after_the_deadline(client, stack, talking_clip):
    pid = stack.pids["vision"]
    os.killpg(pid, signal.SIGSTOP)
    try:
        started = time.time()
        events = list(client.subscribe(client.upload(talking_clip[0]).id, timeout=300))
        elapsed = time.time() - started
    finally:
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
    time.sleep(2)
    assert client.get_job(job.id).state == pb.CANCELLED
