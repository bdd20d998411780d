"""The consume loop and shared state on a real nats-server (no Triton): compare-and-set under racing
writers, a durable timer, an outage that pauses work without spending deliveries, input errors that
still fail fast, the max-deliveries advisory, and the job watchdog."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid

import pytest

from emopulse.runtime import bus
from emopulse.runtime.settings import Settings
from emopulse.runtime.watchdog import check_jobs
from emopulse.v1 import events_pb2 as ev
from emopulse.v1 import results_pb2 as pb


SETTINGS = Settings(ack_wait_s=2.0, shutdown_grace_s=0.2, shutdown_drain_s=0.5, max_deliver=3, outage_budget_s=30)


@pytest.fixture
async def js(nats_url):
    nc = await bus.connect(nats_url, "test")
    js = nc.jetstream()
    await bus.ensure_streams(js, SETTINGS)
    yield js
    await nc.close()


class Gate:
    """Stands in for Triton's readiness, which the test switches (the consumer asks it before fetching)."""

    def __init__(self):
        self.up = True
        self.unready_at = 0.0

    async def ready(self) -> bool:
        return self.up

    async def wait_ready(self, stopping=None, poll_s: float = 0.1) -> None:
        while not self.up and not (stopping and stopping.is_set()):
            await asyncio.sleep(poll_s)


def consumer(js, handler, give_up, gate=None, durable=None, **overrides) -> bus.Consumer:
    options = dict(ack_wait_s=SETTINGS.ack_wait_s, max_deliver=SETTINGS.max_deliver,
                   outage_budget_s=SETTINGS.outage_budget_s, drain_s=SETTINGS.shutdown_drain_s)
    options.update(overrides)
    return bus.Consumer(js, "test", "JOBS", "jobs.created", durable or f"d{uuid.uuid4().hex[:8]}", handler, give_up,
                        gate or Gate(), concurrency=2, **options)


async def publish_job(js, job_id: str) -> None:
    await bus.publish(js, bus.jobs_subject(), ev.JobCreated(job=pb.Job(id=job_id)), f"job:{job_id}", "test")


async def until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_cas_under_racing_writers_loses_no_update(js):
    kv = await bus.bucket(js, "race", SETTINGS)

    def add(i):
        def change(r: ev.FusionJob) -> bool:
            if i in r.fused:
                return False
            r.fused.append(i)
            return True
        return change

    written = await asyncio.gather(*(bus.cas(kv, "job", ev.FusionJob.FromString, add(i)) for i in range(40)))
    assert all(w for _, w in written)
    final, again = await bus.cas(kv, "job", ev.FusionJob.FromString, add(7))
    assert sorted(final.fused) == list(range(40)) and not again  # every writer counted once, a repeat is a no-op


async def test_a_handler_that_asks_for_later_is_redelivered_then(js):
    seen, stopping = [], asyncio.Event()

    async def handler(data):
        seen.append(time.monotonic())
        return 1.5 if len(seen) == 1 else None

    task = asyncio.create_task(consumer(js, handler, None).run(stopping))
    await publish_job(js, "timer")
    await until(lambda: len(seen) == 2)
    stopping.set()
    await task
    assert 1.3 <= seen[1] - seen[0] < 6  # came back at the asked time, not after ack_wait * n


async def test_an_outage_pauses_work_and_costs_no_delivery(js):
    gate, calls, given_up, stopping = Gate(), [], [], asyncio.Event()

    async def handler(data):
        calls.append(time.monotonic())
        if len(calls) <= 6:  # Triton went away mid-message, and refuses connections a while after
            gate.up = gate.up and len(calls) > 1
            raise ConnectionRefusedError("connect failed: Connection refused")

    async def give_up(data, exc):
        given_up.append(exc)

    async def restore():
        await asyncio.sleep(3 * SETTINGS.ack_wait_s)
        gate.up = True

    task = asyncio.create_task(consumer(js, handler, give_up, gate).run(stopping))
    await publish_job(js, "outage")
    await asyncio.gather(until(lambda: len(calls) >= 1), restore())
    assert len(calls) == 1, "nothing retried while the dependency was down"
    await until(lambda: len(calls) == 7)
    await asyncio.sleep(0.5)
    stopping.set()
    await task
    # Six outage failures in a row, three deliveries allowed: it still succeeded, nothing given up.
    assert not given_up and len(calls) == 7


async def test_input_errors_fail_fast_and_become_the_outcome(js):
    calls, given_up, stopping = [], [], asyncio.Event()

    async def handler(data):
        calls.append(1)
        raise ValueError("the file has no audio track")

    async def give_up(data, exc):
        given_up.append((ev.JobCreated.FromString(data).job.id, str(exc)))

    task = asyncio.create_task(consumer(js, handler, give_up).run(stopping))
    await publish_job(js, "bad")
    await until(lambda: given_up, timeout=30)
    stopping.set()
    await task
    assert len(calls) == SETTINGS.max_deliver and given_up == [("bad", "the file has no audio track")]


async def test_an_outage_longer_than_the_budget_is_recorded(js):
    gate, given_up, stopping = Gate(), [], asyncio.Event()

    async def handler(data):
        gate.up = False
        raise ConnectionRefusedError("Connection refused")

    async def give_up(data, exc):
        given_up.append(str(exc))

    task = asyncio.create_task(consumer(js, handler, give_up, gate, outage_budget_s=1.0).run(stopping))
    await publish_job(js, "long-outage")
    await asyncio.sleep(1.5)
    gate.up = True
    await until(lambda: given_up)
    stopping.set()
    await task
    assert "unavailable for" in given_up[0]


async def test_a_worker_that_dies_on_its_last_delivery_still_gives_up(js):
    """A worker takes the message and dies (no ack, no nak, no give-up: what SIGKILL leaves), every
    time; after the last delivery JetStream's max-deliveries advisory makes a live worker record it."""
    given_up, stopping = [], asyncio.Event()

    async def give_up(data, exc):
        given_up.append((ev.JobCreated.FromString(data).job.id, str(exc)))

    worker = consumer(js, None, give_up, durable="dies")
    dying = await js.pull_subscribe(worker.subject, durable=worker.durable, stream=worker.stream, config=worker.config())
    await publish_job(js, "doomed")
    for delivery in range(1, SETTINGS.max_deliver + 1):
        [msg] = await dying.fetch(batch=1, timeout=SETTINGS.ack_wait_s + 5)
        assert msg.metadata.num_delivered == delivery
    survivor = asyncio.create_task(worker.run(stopping))
    await until(lambda: given_up, timeout=30)
    stopping.set()
    await survivor
    assert given_up == [("doomed", f"its worker stopped {SETTINGS.max_deliver} times while handling it")]


async def test_watchdog_requeues_an_unpublished_job_and_fails_a_stalled_one(js, tmp_path):
    class Rt:
        settings = Settings(requeue_after_s=1, stall_timeout_s=600, data_dir=str(tmp_path))
        jobs = bus.JobStore(js, "test")
        log = logging.getLogger("test")

        @staticmethod
        async def publish(subject, message, msg_id):
            await bus.publish(js, subject, message, msg_id, "test")

    from emopulse.runtime.storage import MediaStore
    Rt.store = MediaStore(Rt.settings)
    now = time.time()
    orphan = pb.Job(id="orphan", state=pb.QUEUED, created_at=now - 5, updated_at=now - 5)
    stalled = pb.Job(id="stalled", state=pb.RUNNING, created_at=now - 2000, updated_at=now - 700)
    for job in (orphan, stalled):
        await Rt.jobs.create(job)
    done = await check_jobs(Rt, now=now)
    assert done == {"requeued": ["orphan"], "failed": ["stalled"], "expired": []}
    assert (await check_jobs(Rt, now=now))["requeued"] == ["orphan"]  # republished ...
    info = await js.stream_info("JOBS")
    assert info.state.messages == 1  # ... and JetStream kept one copy
    failed = await Rt.jobs.get("stalled")
    assert failed.state == pb.FAILED and "no progress for" in failed.reason
    sub = await js.subscribe(bus.results_subject("stalled"), ordered_consumer=True)
    ended = pb.JobEvent.FromString((await sub.next_msg(timeout=5)).data)
    assert ended.ended.state == pb.FAILED


async def test_watchdog_keeps_a_job_whose_reactions_vision_is_still_reading(js, tmp_path):
    class Rt:
        settings = Settings(stall_timeout_s=600, data_dir=str(tmp_path))
        jobs = bus.JobStore(js, "test")
        log = logging.getLogger("test")

    Rt.js = js
    now = time.time()
    await Rt.jobs.create(pb.Job(id="waiting", state=pb.RUNNING, created_at=now - 2000, updated_at=now - 700))
    fusion_kv = await bus.bucket(js, bus.FUSION_BUCKET, SETTINGS)
    await fusion_kv.put("waiting", ev.FusionJob(done=ev.TranscriptDone(job_id="waiting", reaction_count=2),
                                                reacted=[0]).SerializeToString())
    await bus.publish(js, bus.reactions_subject("waiting"), ev.ReactionRequest(job_id="waiting", index=1),
                      "reaction:waiting:1", "test")
    vision = await js.pull_subscribe("reactions.>", durable=bus.VISION_REACTIONS, stream="UTTERANCES")
    assert len(await vision.fetch(1, timeout=5)) == 1  # vision took a reaction just now: a queue, not a stall
    assert (await check_jobs(Rt, now=now))["failed"] == []
    # Vision has taken nothing for longer than the stall timeout: the job fails as usual.
    assert (await check_jobs(Rt, now=now + 700))["failed"] == ["waiting"]


async def test_watchdog_deletes_an_ended_streams_recording_after_its_retention(js, tmp_path):
    from emopulse.runtime.storage import MediaStore

    class Rt:
        settings = Settings(stream_retention_s=3600, data_dir=str(tmp_path))
        jobs = bus.JobStore(js, "test")
        store = MediaStore(settings)
        log = logging.getLogger("test")

    now = time.time()
    for name, age in (("old", 3700), ("recent", 600)):
        await Rt.jobs.create(pb.Job(id=name, state=pb.SUCCEEDED, created_at=now - age - 60, updated_at=now - age,
                                    stream=pb.Stream(url="rtsp://x/y", state=pb.STREAM_ENDED)))
        Rt.store.put_object(f"{Rt.store.recording(name)}frames/0000000500.jpg", b"jpeg")
    assert (await check_jobs(Rt, now=now))["expired"] == ["old"]
    assert Rt.store.list_names(Rt.store.recording("old")) == []
    assert Rt.store.list_names(Rt.store.recording("recent")) == ["streams/recent/frames/0000000500.jpg"]


async def test_every_job_is_listed_while_jobs_are_being_written(js):
    """nats-py's KV keys() can end early (or find no key at all) while keys are written; listing
    must not depend on it: ListJobs, the watchdog and ingest's stream claims all list this way."""
    store = bus.JobStore(js, "test")
    for i in range(200):
        await store.create(pb.Job(id=f"busy{i:03d}", created_at=i))
    writing = True

    async def churn():
        while writing:
            for i in range(5):
                await store.update(f"busy{i:03d}", lambda j: setattr(j, "media_seconds_done", j.media_seconds_done + 1))
    task = asyncio.create_task(churn())
    try:
        for _ in range(10):
            listed = {j.id for j in await store.all()}
            assert {f"busy{i:03d}" for i in range(200)} <= listed
    finally:
        writing = False
        await task


async def test_a_buckets_values_are_read_in_one_pass_as_gets_would_see_them(js):
    kv = await bus.bucket(js, "listing", SETTINGS)
    assert await bus.kv_values(js, "listing") == {}
    for i in range(50):
        await kv.put(f"k{i}", f"v{i}".encode())
    for i in range(10):
        await kv.put(f"k{i}", f"changed{i}".encode())  # the latest value counts
    await kv.delete("k10")
    await kv.purge("k11")
    values = await bus.kv_values(js, "listing")
    assert set(values) == {f"k{i}" for i in range(50)} - {"k10", "k11"}
    for key, value in values.items():
        assert (await kv.get(key)).value == value
    await kv.put("k10", b"back")
    assert (await bus.kv_values(js, "listing"))["k10"] == b"back"


async def test_job_pages_are_stable_and_complete(js):
    store = bus.JobStore(js, "test")
    for i in range(25):
        await store.create(pb.Job(id=f"j{i:02d}", created_at=1000 + i))
    assert not await store.create(pb.Job(id="j03", created_at=5))  # an existing id is not replaced
    seen, token = [], ""
    while True:
        page, token = await store.page(10, token)
        seen += [j.id for j in page]
        if not token:
            break
        await store.create(pb.Job(id=f"new{len(seen)}", created_at=5000 + len(seen)))  # newer: not in later pages
    assert seen == [f"j{i:02d}" for i in reversed(range(25))]


def test_settings_refuse_timeouts_in_the_wrong_order():
    from emopulse.runtime.settings import SettingsError
    with pytest.raises(SettingsError, match="SHUTDOWN_DRAIN_S"):
        Settings.from_env({"EMOPULSE_SHUTDOWN_DRAIN_S": "30"})
    with pytest.raises(SettingsError, match="OUTAGE_BUDGET_S"):
        Settings.from_env({"EMOPULSE_OUTAGE_BUDGET_S": "2000"})
