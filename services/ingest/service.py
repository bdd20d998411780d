"""Ingest: live streams in.

Every live stream has a lease in the KV bucket "streams"; one ingest process holds it and renews it.
The holder reads the source (a pulled URL, or what the gateway pushed), records its pictures and
audio to storage, finds where each utterance ends while audio keeps coming, transcribes it with
Whisper on Triton, and publishes it on utterances.<stream>: from there on a stream's utterance is a
file's utterance (audiotext, vision, fusion, Subscribe). Interim transcripts (`partial`) and state
changes (`stream_state`) go straight to results.<stream>.

When a holder dies its lease expires and another process takes the stream over where the lease
says it got to; the utterances already published tell it the next index, so none is doubled.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time

from nats.js.errors import BadRequestError, KeyNotFoundError, KeyWrongLastSequenceError

from emopulse.runtime import bus, speakers
from emopulse.runtime.service import Runtime
from emopulse.v1 import events_pb2 as ev
from services.ingest.stream import MODEL, LiveStream


class Ingest:
    models = (MODEL, speakers.MODEL)

    def __init__(self, runtime: Runtime):
        self.rt = runtime
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.leases = None
        self.held: dict[str, asyncio.Task] = {}

    async def run(self, stopping: asyncio.Event) -> None:
        self.leases = await bus.bucket(self.rt.js, bus.STREAMS_BUCKET, self.rt.settings)
        wake = asyncio.Event()

        async def woken(_msg) -> None:
            wake.set()
        sub = await self.rt.nc.subscribe(bus.STREAMS_WAKE, cb=woken)
        try:
            while not stopping.is_set():
                if await self.rt.dependencies.ready():
                    try:
                        await self.claim(stopping)
                    except Exception as exc:  # NATS away: the next pass tries again
                        self.rt.log.warning("looking for streams failed: %s", exc)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(wake.wait(), 1.0)
                wake.clear()
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            # Each stream finishes what it heard and hands its lease back, so another replica takes it at once.
            if self.held:
                await asyncio.wait(set(self.held.values()), timeout=self.rt.settings.shutdown_drain_s)
            for task in self.held.values():
                task.cancel()
            await asyncio.gather(*self.held.values(), return_exceptions=True)

    async def claim(self, stopping: asyncio.Event) -> None:
        """Take every stream nobody holds (or whose holder stopped renewing), up to this process's share."""
        for key in await bus.kv_keys(self.rt.js, bus.STREAMS_BUCKET):
            if len(self.held) >= self.rt.settings.streams_per_ingest:
                return
            if key in self.held:
                continue
            try:
                entry = await self.leases.get(key)
            except KeyNotFoundError:
                continue
            lease = ev.StreamLease.FromString(entry.value or b"")
            now = time.time()
            if lease.owner and lease.expires_at > now:
                continue
            previous = ev.StreamLease()
            previous.CopyFrom(lease)
            lease.owner, lease.expires_at = self.owner, now + self.rt.settings.lease_ttl_s
            try:
                revision = await self.leases.update(key, lease.SerializeToString(), last=entry.revision)
            except (KeyWrongLastSequenceError, BadRequestError):
                continue  # another replica was quicker
            session = LiveStream(self.rt, self.leases, self.owner, key, previous, lease, revision)
            task = asyncio.create_task(session.run(stopping))
            self.held[key] = task
            task.add_done_callback(lambda _t, k=key: self.held.pop(k, None))


def build(runtime: Runtime) -> Ingest:
    return Ingest(runtime)
