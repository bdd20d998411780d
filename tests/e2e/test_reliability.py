"""Crashes and outages on the whole stack: every job ends, nothing is lost or doubled.

The fault matrix SIGKILLs each component at a seeded random point mid-job and restarts it on the same
ports and store. Each run is checked on the raw `results.<job>` subject (Subscribe drops repeats, so it
would hide a double), against the job record's counters, and for modalities fused without (a lost
feature would show as "timed out"). Two vision and two fusion replicas run the whole time. The matrix
is printed at the end of the test run (and written to $EMOPULSE_FAULT_REPORT when set).
"""
from __future__ import annotations

import asyncio
import collections
import random
import signal
import threading
import time

import nats
import pytest
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import DeliverPolicy

from emopulse.runtime import bus
from emopulse.v1 import results_pb2 as pb
from tests import media

pytestmark = pytest.mark.slow

EXPECTED = len(media.SAMPLE_SENTENCES) + len(media.SHORT_SENTENCES)
COMPONENTS = ["transcriber", "audiotext", "vision", "fusion", "gateway", "nats", "triton"]
SEEDS = [1, 2]
JOB_BOUND_S = 240  # a job with one crash (Triton reloads every model) ends within this


def raw_events(stack, job_id: str) -> list[pb.JobEvent]:
    """Every message on results.<job>, read straight from JetStream."""
    async def read():
        nc = await nats.connect(stack.nats_url)
        try:
            sub = await nc.jetstream().subscribe(bus.results_subject(job_id), ordered_consumer=True,
                                                 deliver_policy=DeliverPolicy.ALL)
            events = []
            while True:
                try:
                    events.append(pb.JobEvent.FromString((await sub.next_msg(timeout=2)).data))
                except NatsTimeout:
                    return events
        finally:
            await nc.close()
    return asyncio.run(read())


def check_exactly_once(client, stack, job_id: str, expected: int = EXPECTED) -> pb.Job:
    raw = raw_events(stack, job_id)
    counts = collections.Counter(e.result.index for e in raw if e.HasField("result"))
    assert sorted(counts) == list(range(expected)), f"results on the bus: {sorted(counts)}"
    assert set(counts.values()) == {1}, f"an utterance was published twice: {counts}"
    assert sum(e.HasField("summary") for e in raw) == 1
    job = client.get_job(job_id)
    assert job.state == pb.SUCCEEDED, job
    assert job.utterances_fused == job.utterances_total == expected
    fused = [e.progress.utterances_fused for e in raw if e.HasField("progress") and e.progress.stage == "fusing"]
    assert max(fused) == expected
    return job


def whisper_requests(stack) -> float:
    """Requests Whisper has answered since Triton (re)started; 0 while it is down."""
    import re
    import urllib.request
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{stack.ports.triton_metrics}/metrics", timeout=5).read().decode()
    except OSError:
        return 0.0
    return sum(float(v) for v in re.findall(r'^nv_inference_request_success\{model="speech_to_text"[^}]*\} (\S+)$', text, re.M))


def killed_and_restarted(stack, victim: str, pause_s: float, restarted: dict) -> None:
    time.sleep(pause_s)
    started = time.time()
    stack.start_component(victim)
    restarted["at"], restarted["took"] = time.time(), time.time() - started


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("victim", COMPONENTS)
def test_fault_matrix(client, stack, long_clip, victim, seed, fault_report):
    rng = random.Random(f"{victim}:{seed}")
    whisper_before = whisper_requests(stack)
    kill_after = rng.randint(1, EXPECTED)   # events seen by the subscriber before the kill
    pause_s = rng.uniform(1.0, 3.0)         # how long the component stays dead
    started = time.time()
    job = client.upload(long_clip)
    events, killed_at, restarted, after_kill = [], None, {}, None
    restart = None
    for event in client.subscribe(job.id, timeout=JOB_BOUND_S):
        events.append(event)
        if killed_at is None and len(events) == kill_after:
            stack.kill(victim, signal.SIGKILL)
            killed_at = time.time()
            restart = threading.Thread(target=killed_and_restarted, args=(stack, victim, pause_s, restarted))
            restart.start()
        elif killed_at is not None and after_kill is None and (event.HasField("result") or event.HasField("summary")):
            after_kill = time.time()
    restart.join(timeout=300)
    ended = time.time()
    assert events[-1].HasField("summary"), events[-1]
    results = [e.result for e in events if e.HasField("result")]
    assert [r.index for r in results] == list(range(EXPECTED))
    assert not [r.index for r in results if r.timed_out], "a feature was lost and fused around"
    check_exactly_once(client, stack, job.id)
    if victim == "transcriber":  # resumed from its checkpoint: at most one chunk transcribed twice
        chunks = sum(e.HasField("progress") and e.progress.stage == "transcribing" for e in raw_events(stack, job.id))
        assert whisper_requests(stack) - whisper_before <= chunks + 1
    fault_report.append({"fault": f"SIGKILL {victim}", "seed": seed, "killed_after_events": kill_after,
                         "down_s": round(pause_s, 1), "restart_s": round(restarted.get("took", 0), 1),
                         "outcome": "SUCCEEDED, each utterance once", "job_s": round(ended - started, 1),
                         "next_result_after_kill_s": round((after_kill or ended) - killed_at, 1)})


def test_triton_down_two_minutes_pauses_the_job_and_it_succeeds(client, stack, long_clip, fault_report):
    started = time.time()
    job = client.upload(long_clip)
    events, down = [], None
    for event in client.subscribe(job.id, timeout=JOB_BOUND_S + 120):
        events.append(event)
        if down is None and event.HasField("result"):
            stack.kill("triton", signal.SIGKILL)
            down = threading.Thread(target=killed_and_restarted, args=(stack, "triton", 120, {}))
            down.start()
            outage_at = time.time()
            # While Triton is away the job waits: it is neither failed nor finished.
            time.sleep(60)
            assert client.get_job(job.id).state == pb.RUNNING
    down.join(timeout=300)
    assert events[-1].HasField("summary"), events[-1]
    results = [e.result for e in events if e.HasField("result")]
    assert [r.index for r in results] == list(range(EXPECTED))
    assert not [r.index for r in results if r.timed_out]
    check_exactly_once(client, stack, job.id)
    fault_report.append({"fault": "tritonserver down 120 s", "seed": 0, "outcome": "SUCCEEDED, each utterance once",
                         "job_s": round(time.time() - started, 1),
                         "after_outage_s": round(time.time() - outage_at - 120, 1)})


def test_a_retried_request_makes_one_job(client, stack, talking_clip):
    first = client.upload(talking_clip[0], request_id="retry-me")
    again = client.upload(talking_clip[0], request_id="retry-me")
    assert again.id == first.id
    other = client.upload(talking_clip[0])
    assert other.id != first.id
    for job in (first, other):
        assert list(client.subscribe(job.id, timeout=120))[-1].HasField("summary")
    assert sum(j.request_id == "retry-me" for j in client.list_jobs()) == 1


def test_list_jobs_pages(client, stack, talking_clip):
    while len(client.list_jobs()) < 3:
        client.upload(talking_clip[0])
    everything = client.list_jobs()
    pages, token = [], ""
    from emopulse.v1 import api_pb2
    while True:
        page = client.stub.ListJobs(api_pb2.ListJobsRequest(limit=2, page_token=token))
        pages.append([j.id for j in page.jobs])
        token = page.next_page_token
        if not token:
            break
    assert all(len(p) <= 2 for p in pages) and [i for p in pages for i in p] == [j.id for j in everything]
    assert len(everything) >= 3


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


TRANSCRIBER_PEAK_MB = 640  # the transcriber's peak RSS, whatever the media's length


@pytest.fixture(scope="module")
def two_hours(media_root):
    """2 h of audio under the media root (speech every 5 minutes, AAC at 12 kbps, about 1.2 MB)."""
    return media.make_long_audio(media_root / "two-hours.m4a", hours=2.0)


def test_a_two_hour_file_transcribes_in_bounded_memory(client, stack, two_hours, fault_report):
    """Decoded block by block, the transcriber's peak memory stays far below the ~1.7 GB that
    whole-file decoding and VAD take."""
    path, placed = two_hours
    pid = stack.pids["transcriber"]
    before = rss_mb(pid)
    started = time.time()
    job = client.analyze_reference("two-hours.m4a", language="en")
    events = list(client.subscribe(job.id, timeout=900))
    assert events[-1].HasField("summary"), events[-1]
    peak = rss_mb(pid, "VmHWM")
    done = client.get_job(job.id)
    assert done.state == pb.SUCCEEDED and done.duration_s == pytest.approx(7200, abs=2)
    assert done.utterances_total >= len(placed) // 2  # Whisper may join a pair of sentences into one
    assert peak < TRANSCRIBER_PEAK_MB, f"transcriber peak RSS {peak:.0f} MB"
    fault_report.append({"fault": "none: 2-hour file", "outcome": f"SUCCEEDED, {done.utterances_total} utterances",
                         "job_s": round(time.time() - started, 1), "transcriber_rss_before_mb": round(before),
                         "transcriber_peak_rss_mb": round(peak)})


SOAK_JOBS, SOAK_SUBSCRIBERS = 20, 50


def test_soak_many_jobs_and_subscribers_with_faults(client, stack, talking_clip, fault_report):
    """20 jobs and 50 subscribers at once while a vision and a fusion replica are killed and restarted:
    every subscriber gets every result and the summary, each job's results are on the bus once, and the
    processes that were not killed come back to their memory baseline."""
    from emopulse.client import Client
    steady = ["gateway", "transcriber", "audiotext", "vision", "fusion"]
    baseline = {name: rss_mb(stack.pids[name]) for name in steady}
    started = time.time()
    jobs = [client.upload(talking_clip[0]) for _ in range(SOAK_JOBS)]
    outcomes: dict[int, list] = {}

    def subscriber(i: int) -> None:
        with Client(stack.gateway) as own:
            outcomes[i] = list(own.subscribe(jobs[i % SOAK_JOBS].id, timeout=600))

    threads = [threading.Thread(target=subscriber, args=(i,)) for i in range(SOAK_SUBSCRIBERS)]
    for t in threads:
        t.start()
    for victim in ("vision-2", "fusion-2"):
        time.sleep(4)
        stack.kill(victim, signal.SIGKILL)
        stack.start_component(victim)
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a subscriber hung"
    elapsed = time.time() - started
    for i, events in outcomes.items():
        assert events[-1].HasField("summary"), (i, events[-1])
        assert [e.result.index for e in events if e.HasField("result")] == [0, 1, 2]
    assert len(outcomes) == SOAK_SUBSCRIBERS
    for job in jobs:
        check_exactly_once(client, stack, job.id, expected=3)
    time.sleep(5)
    after = {name: rss_mb(stack.pids[name]) for name in steady}
    grown = {name: round(after[name] - baseline[name]) for name in steady}
    assert all(after[n] < baseline[n] * 1.25 + 64 for n in steady), f"memory did not settle: {grown} MB"
    fault_report.append({"fault": "soak: 20 jobs, 50 subscribers, SIGKILL vision-2 and fusion-2",
                         "outcome": "all SUCCEEDED, each utterance once, every subscriber ended",
                         "job_s": round(elapsed, 1), "rss_growth_mb": grown})


def test_a_transcriber_killed_on_every_delivery_ends_the_job(client, stack, two_hours, talking_clip):
    """The transcriber dies each time it takes the job, up to the last delivery: the max-deliveries
    advisory makes the restarted one record the failure, and the next job runs normally."""
    import nats as nats_client
    max_deliver = 5

    async def deliveries() -> int:
        """How many messages the transcriber's consumer has delivered (redeliveries included)."""
        nc = await nats_client.connect(stack.nats_url)
        try:
            return (await nc.jetstream().consumer_info("JOBS", "transcriber")).delivered.consumer_seq
        finally:
            await nc.close()

    seen = asyncio.run(deliveries())
    job = client.analyze_reference("two-hours.m4a")  # decoding alone takes a while: time to kill it
    for _ in range(max_deliver):
        deadline = time.time() + 60
        while asyncio.run(deliveries()) == seen:  # wait for the next delivery of the job, then kill
            assert time.time() < deadline, "the transcriber never took the job"
            time.sleep(0.05)
        seen += 1
        stack.kill("transcriber", signal.SIGKILL)
        stack.start_component("transcriber")
    events = list(client.subscribe(job.id, timeout=120))
    ended = client.get_job(job.id)
    assert events[-1].HasField("ended") and ended.state == pb.FAILED
    assert "stopped 5 times" in ended.reason, ended.reason
    assert list(client.subscribe(client.upload(talking_clip[0]).id, timeout=120))[-1].HasField("summary")


def test_subscribe_ends_with_its_job_even_when_the_last_event_was_lost(client, stack):
    """A job that ended without its final event on the bus (a crash in between): Subscribe still ends."""
    async def record_ended_job() -> str:
        nc = await nats.connect(stack.nats_url)
        try:
            now = time.time()
            job = pb.Job(id=f"lost{int(now * 1000)}", state=pb.SUCCEEDED, created_at=now, updated_at=now)
            await bus.JobStore(nc.jetstream(), "test").create(job)
            return job.id
        finally:
            await nc.close()

    job_id = asyncio.run(record_ended_job())
    started = time.time()
    events = list(client.subscribe(job_id, timeout=60))
    assert len(events) == 1 and events[0].HasField("ended") and events[0].ended.state == pb.SUCCEEDED
    assert time.time() - started < 30


def test_subscribe_resumes_after_a_sequence_number_and_from_now(client, talking_clip):
    job = client.upload(talking_clip[0])
    everything = list(client.subscribe(job.id, timeout=120))
    assert [e.sequence for e in everything] == list(range(1, len(everything) + 1))
    for k in (1, len(everything) // 2, len(everything) - 1):
        rest = list(client.subscribe(job.id, timeout=60, after=k))
        assert [e.SerializeToString() for e in rest] == [e.SerializeToString() for e in everything[k:]]
    assert list(client.subscribe(job.id, timeout=60, after=len(everything) + 5)) == []
    # From now on an ended job: just its last event, so the client learns it has ended.
    [last] = list(client.subscribe(job.id, timeout=60, from_now=True))
    assert last.HasField("summary") and last.sequence == everything[-1].sequence
    # From now on a running job: no event from before the call.
    running = client.upload(talking_clip[0])
    first = next(iter(client.subscribe(running.id, timeout=120)))
    later = list(client.subscribe(running.id, timeout=120, from_now=True))
    assert later[-1].HasField("summary") and later[0].sequence > first.sequence
