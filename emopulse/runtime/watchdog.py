"""The job watchdog: every job reaches an end, whatever process died and whenever.

Two repairs, safe to run in every gateway replica at once (job changes are compare-and-set, and a
second publish of the same message id is dropped by JetStream):
  - a QUEUED job whose `jobs.created` may never have been published (the gateway died between
    recording and publishing) is published again while JetStream can still drop the duplicate;
  - a RUNNING job whose record has not moved for stall_timeout_s is FAILED with a reason; every stage
    writes progress to the record (a transcribed chunk, a fused utterance), and outages shorter than
    outage_budget_s < stall_timeout_s only pause it. A job that only waits for its reactions is kept
    while vision is still taking or answering reactions (a long queue is not a stall); every answer
    moves the record too.
It also deletes an ended live stream's recording once stream_retention_s has passed.
"""
from __future__ import annotations

import asyncio
import contextlib
import time

from emopulse.processing.fusion import reactions_answered
from emopulse.runtime import bus
from emopulse.v1 import events_pb2 as ev
from emopulse.v1 import results_pb2 as pb

REQUEUE_MARGIN_S = 60  # stop republishing this long before JetStream forgets the first publish
REPUBLISH_END_S = 60   # a FAILED/CANCELLED job's end event is published again for this long after the end
RETENTION_WINDOW_S = 3600  # an ended stream's recording is deleted on every pass within this after its retention


async def check_jobs(rt, now: float | None = None) -> dict[str, list[str]]:
    """One pass over the job records; returns the ids it requeued, failed and expired (for logs and tests)."""
    s = rt.settings
    now = time.time() if now is None else now
    done = {"requeued": [], "failed": [], "expired": []}
    for job in await rt.jobs.all():
        age, quiet = now - job.created_at, now - max(job.updated_at, job.created_at)
        if job.state == pb.QUEUED and s.requeue_after_s <= age < bus.DUPLICATE_WINDOW_S - REQUEUE_MARGIN_S:
            await rt.publish(bus.jobs_subject(), ev.JobCreated(job=job), f"job:{job.id}")
            done["requeued"].append(job.id)
        elif job.state == pb.RUNNING and quiet >= s.stall_timeout_s and not await _reading_reactions(rt, job.id, now):
            reason = (f"no progress for {quiet:.0f} s (transcribed {job.media_seconds_done:.0f} s of "
                      f"{job.duration_s or 0:.0f} s, fused {job.utterances_fused} utterances); "
                      "the pipeline stalled, submit the media again")
            ended = await rt.jobs.end(job.id, pb.FAILED, reason)
            if ended is not None and ended.state == pb.FAILED:
                rt.log.error("watchdog failed a stalled job", extra={"job_id": job.id})
                done["failed"].append(job.id)
        elif job.state in (pb.FAILED, pb.CANCELLED) and quiet < REPUBLISH_END_S:
            await rt.jobs.publish_end(job)  # mends an end event lost in a crash (a duplicate is dropped)
            await asyncio.to_thread(rt.store.delete_spans, job.id)  # its utterance audio is scratch now
        if job.HasField("stream") and job.state in bus.TERMINAL and \
                s.stream_retention_s <= quiet < s.stream_retention_s + RETENTION_WINDOW_S:
            await asyncio.to_thread(rt.store.delete_prefix, rt.store.recording(job.id))
            done["expired"].append(job.id)
    return done


async def _reading_reactions(rt, job_id: str, now: float) -> bool:
    """Whether the job waits only for reactions while vision's reaction consumer took or answered a
    message within stall_timeout_s (so vision is working through them, not gone)."""
    try:
        entry = await (await rt.js.key_value(bus.FUSION_BUCKET)).get(job_id)
        record = ev.FusionJob.FromString(entry.value or b"")
        if not record.HasField("done") or len(record.fused) < record.done.utterance_count \
                or reactions_answered(record):
            return False
        info = await rt.js.consumer_info("UTTERANCES", bus.VISION_REACTIONS)
    except Exception:  # no fusion record, no vision consumer, NATS away: the usual rule holds
        return False
    active = [seq.last_active.timestamp() for seq in (info.delivered, info.ack_floor) if seq and seq.last_active]
    return bool(active) and now - max(active) < rt.settings.stall_timeout_s


async def watch_jobs(rt, stopping: asyncio.Event, every_s: float | None = None) -> None:
    every_s = every_s or max(1.0, min(10.0, rt.settings.requeue_after_s / 3))
    while not stopping.is_set():
        try:
            await check_jobs(rt)
        except Exception as exc:  # NATS away: the next pass tries again
            rt.log.warning("watchdog pass failed: %s", exc)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stopping.wait(), every_s)
