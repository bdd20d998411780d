"""NATS JetStream: the streams, subjects and job store every service shares, and the consume loop.

Subjects say what happened:
  jobs.created                 JobCreated        -> transcriber
  utterances.<job>             UtteranceEvent    -> audiotext, vision, fusion
  features.<modality>.<job>    Feature           -> fusion
  results.<job>                JobEvent          -> gateway Subscribe (replayed from the start)
Every publish carries a Nats-Msg-Id derived from (job, utterance, modality), so JetStream drops a
duplicate that a redelivered handler publishes again.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, KeyValueConfig, StorageType, StreamConfig
from nats.js.errors import BadRequestError, KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError
from nats.aio.msg import Msg

from emopulse.runtime import metrics
from emopulse.v1 import results_pb2 as pb

log = logging.getLogger(__name__)

DUPLICATE_WINDOW_S = 15 * 60
STREAMS = {
    "JOBS": ["jobs.>"],
    "UTTERANCES": ["utterances.>"],
    "FEATURES": ["features.>"],
    "RESULTS": ["results.>"],
}
JOBS_BUCKET = "jobs"
TERMINAL = {pb.SUCCEEDED, pb.FAILED, pb.CANCELLED}


def jobs_subject() -> str:
    return "jobs.created"


def utterances_subject(job_id: str) -> str:
    return f"utterances.{job_id}"


def features_subject(modality: str, job_id: str) -> str:
    return f"features.{modality}.{job_id}"


def results_subject(job_id: str) -> str:
    return f"results.{job_id}"


async def connect(url: str, name: str) -> nats.NATS:
    return await nats.connect(url, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                              connect_timeout=5)


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """Create the streams and buckets if missing (idempotent, any service may start first)."""
    for name, subjects in STREAMS.items():
        config = StreamConfig(name=name, subjects=subjects, storage=StorageType.FILE,
                              duplicate_window=DUPLICATE_WINDOW_S, num_replicas=replicas)
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.update_stream(config)
    await js.create_key_value(KeyValueConfig(bucket=JOBS_BUCKET, history=1, storage=StorageType.FILE, replicas=replicas))


async def publish(js: JetStreamContext, subject: str, message, msg_id: str, service: str) -> None:
    await js.publish(subject, message.SerializeToString(), headers={"Nats-Msg-Id": msg_id})
    metrics.EVENTS_PUBLISHED.labels(service, subject.split(".", 1)[0]).inc()


class JobStore:
    """Job records in a KV bucket. Terminal states are final: a late writer never revives a job."""

    def __init__(self, js: JetStreamContext, service: str):
        self.js = js
        self.service = service
        self._kv = None

    async def _bucket(self):
        if self._kv is None:
            self._kv = await self.js.key_value(JOBS_BUCKET)
        return self._kv

    async def create(self, job: pb.Job) -> None:
        await (await self._bucket()).create(job.id, job.SerializeToString())

    async def get(self, job_id: str) -> pb.Job | None:
        if not job_id or not all(c.isalnum() or c in "-_" for c in job_id):
            return None
        try:
            entry = await (await self._bucket()).get(job_id)
        except KeyNotFoundError:
            return None
        return pb.Job.FromString(entry.value) if entry.value else None

    async def update(self, job_id: str, change: Callable[[pb.Job], None]) -> pb.Job | None:
        """Apply change() with compare-and-set; returns the stored job, unchanged if it was terminal."""
        kv = await self._bucket()
        while True:
            try:
                entry = await kv.get(job_id)
            except KeyNotFoundError:
                return None
            job = pb.Job.FromString(entry.value)
            if job.state in TERMINAL:
                return job
            change(job)
            job.updated_at = time.time()
            try:
                await kv.update(job_id, job.SerializeToString(), last=entry.revision)
            except KeyWrongLastSequenceError:
                continue
            if job.state in TERMINAL:
                metrics.JOBS_FINISHED.labels(pb.JobState.Name(job.state)).inc()
                metrics.JOB_SECONDS.observe(max(0.0, job.updated_at - job.created_at))
            return job

    async def end(self, job_id: str, state: int, reason: str = "") -> pb.Job | None:
        """Move a job to a terminal state; FAILED/CANCELLED also end its result stream."""
        before = await self.get(job_id)
        if before is None or before.state in TERMINAL:
            return before

        def change(job: pb.Job) -> None:
            job.state = state
            job.reason = reason

        job = await self.update(job_id, change)
        if job is not None and job.state == state and state != pb.SUCCEEDED:
            event = pb.JobEvent(job_id=job_id, ended=job)
            await publish(self.js, results_subject(job_id), event, f"end:{job_id}", self.service)
        return job

    async def list(self) -> list[pb.Job]:
        kv = await self._bucket()
        try:
            keys = await kv.keys()
        except NoKeysError:
            return []
        jobs = [await self.get(k) for k in keys]
        return sorted((j for j in jobs if j is not None), key=lambda j: j.created_at, reverse=True)


Handler = Callable[[bytes], Awaitable[None]]
GiveUp = Callable[[bytes, BaseException], Awaitable[None]]


@dataclass
class Consumer:
    """A durable pull consumer: explicit acks, bounded redelivery, heartbeats while a message runs.

    A handler that raises is retried (nak with backoff) until max_deliver; then give_up() records the
    failure as the message's outcome (a FAILED job, an absent feature) and the message is acked.
    """
    js: JetStreamContext
    service: str
    stream: str
    subject: str
    durable: str
    handler: Handler
    give_up: GiveUp
    concurrency: int = 4
    ack_wait_s: float = 60.0
    max_deliver: int = 5

    async def run(self, stopping: asyncio.Event) -> None:
        config = ConsumerConfig(durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT,
                                deliver_policy=DeliverPolicy.ALL, ack_wait=self.ack_wait_s,
                                max_deliver=self.max_deliver, max_ack_pending=10_000,
                                filter_subject=self.subject)
        sub = await self.js.pull_subscribe(self.subject, durable=self.durable, stream=self.stream, config=config)
        slots = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task] = set()
        while not stopping.is_set():
            await slots.acquire()  # one free slot, one message: a busy worker leaves work to others
            try:
                msgs = await sub.fetch(batch=1, timeout=1.0)
            except (NatsTimeout, asyncio.TimeoutError):
                slots.release()
                continue
            except Exception as exc:  # connection trouble: nats-py reconnects, we retry
                slots.release()
                log.warning("fetch failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                task = asyncio.create_task(self._handle(msg, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=self.ack_wait_s)
        # Leave the inbox before the connection drains (the durable consumer stays on the server).
        with contextlib.suppress(Exception):
            await sub.unsubscribe()

    async def _handle(self, msg: Msg, slots: asyncio.Semaphore) -> None:
        delivered = msg.metadata.num_delivered
        metrics.EVENTS_CONSUMED.labels(self.service, self.stream).inc()
        if delivered > 1:
            metrics.REDELIVERIES.labels(self.service, self.stream).inc()
        metrics.IN_FLIGHT.labels(self.service).inc()
        beat = asyncio.create_task(self._heartbeat(msg))
        try:
            await self.handler(msg.data)
            await msg.ack()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            metrics.FAILURES.labels(self.service, type(exc).__name__).inc()
            if delivered >= self.max_deliver:
                log.exception("giving up after %d deliveries", delivered)
                with contextlib.suppress(Exception):
                    await self.give_up(msg.data, exc)
                await msg.ack()
            else:
                log.warning("handler failed (delivery %d of %d): %s", delivered, self.max_deliver, exc)
                await msg.nak(delay=min(0.5 * 2 ** delivered, 10))
        finally:
            beat.cancel()
            metrics.IN_FLIGHT.labels(self.service).dec()
            slots.release()

    async def _heartbeat(self, msg: Msg) -> None:
        """Tell JetStream the message is still being worked on, so ack_wait bounds only dead workers."""
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(self.ack_wait_s / 3)
                await msg.in_progress()
