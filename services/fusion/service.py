"""Fusion: join the utterance with its text, audio and vision features, fuse them on Triton, publish
the result, and finish the job when every utterance is fused.

State lives in a KV bucket and changes only by compare-and-set, so any number of replicas can run:
  <job>.<index>  FusionRecord: the utterance, its features, and the result once one replica's CAS won;
  <job>          FusionJob: the transcript's end, the set of fused indices (counts derive from it), and
                 the reactions answered (a job ends when its utterances are fused and its reactions answered).
The deadline is the utterance message itself, redelivered at the deadline to whichever replica is
alive; it then fuses what is there and names the modalities that timed out. Publishing is idempotent
(message ids), so every step is safe to repeat after a crash.
"""
from __future__ import annotations

import asyncio
import dataclasses
import time

import numpy as np
from prometheus_client import Counter, Gauge, Histogram

from emopulse.labels import MODALITIES, SENTIMENTS
from emopulse.processing import fusion
from emopulse.runtime import bus, metrics
from emopulse.runtime.service import Runtime
from emopulse.v1 import events_pb2 as ev
from emopulse.v1 import results_pb2 as pb

MODEL = "fusion"
BUCKET = bus.FUSION_BUCKET
FALLBACK = "fallback: late fusion in the fusion service, the fusion model failed"

FUSED = Counter("emopulse_fusion_utterances_fused_total", "Utterances fused")
ABSENT = Counter("emopulse_fusion_modality_absent_total", "Modalities absent from a fused utterance", ["modality", "why"])
RESULT_LAG = Histogram("emopulse_fusion_result_lag_seconds", "From the utterance being cut to its result",
                       buckets=metrics.LATENCY_BUCKETS)
LIVE_SENTIMENT = Gauge("emopulse_live_sentiment",
                       "Sentiment of the results this fusion process fused lately (moving average)", ["sentiment"])
LIVE_WEIGHT = 0.2  # weight of the newest result in the moving average


class Fusion:
    models = (MODEL,)

    def __init__(self, runtime: Runtime):
        self.rt = runtime
        self.kv = None
        self.weights = runtime.settings.weights()
        self.deadline_s = runtime.settings.fusion_deadline_s
        self.live_sentiment = np.full(len(SENTIMENTS), 1 / len(SENTIMENTS))

    async def run(self, stopping: asyncio.Event) -> None:
        self.kv = await bus.bucket(self.rt.js, BUCKET, self.rt.settings)
        utterances = self.rt.consumer("UTTERANCES", "utterances.>", "fusion-utterances", self.on_utterance,
                                      self.give_up_utterance)
        # One consumer for every feature; reaction answers (features.reaction.<job>) are told by subject.
        features = dataclasses.replace(self.rt.consumer("FEATURES", "features.>", "fusion", self.on_any_feature,
                                                        self.give_up_any_feature), with_subject=True)
        await asyncio.gather(utterances.run(stopping), features.run(stopping))

    # ---- state (compare-and-set) -------------------------------------------------------------
    async def _record(self, job_id: str, index: int, change) -> ev.FusionRecord:
        record, _ = await bus.cas(self.kv, f"{job_id}.{index}", ev.FusionRecord.FromString, change)
        return record

    async def _job_record(self, job_id: str, change=lambda r: False) -> ev.FusionJob:
        record, _ = await bus.cas(self.kv, job_id, ev.FusionJob.FromString, change)
        return record

    async def _live(self, job_id: str) -> bool:
        job = await self.rt.jobs.get(job_id)
        return job is not None and job.state not in bus.TERMINAL

    # ---- handlers ----------------------------------------------------------------------------
    async def on_utterance(self, data: bytes) -> float | None:
        event = ev.UtteranceEvent.FromString(data)
        if event.HasField("done"):
            await self.on_done(event.done)
            return None
        u = event.utterance
        if not await self._live(u.job_id):
            return None
        record = await self._record(u.job_id, u.index, lambda r: fusion.add_part(r, utterance=u))
        if record.HasField("result"):
            await self._published(record.result)
        elif not fusion.missing_modalities(record):
            await self._fuse(record)
        else:
            # A dependency outage paused every worker: the wait for features restarts when it ends.
            deadline = max(u.cut_at, self.rt.dependencies.unready_at) + self.deadline_s
            if time.time() < deadline:
                return deadline - time.time()  # this message comes back at the deadline
            await self._fuse(record)
        return None

    async def on_any_feature(self, subject: str, data: bytes) -> None:
        if subject.startswith("features.reaction."):
            await self.on_reaction(data)
        else:
            await self.on_feature(data)

    async def give_up_any_feature(self, subject: str, data: bytes, error: BaseException) -> None:
        if subject.startswith("features.reaction."):
            await self.on_reaction(data)  # recording an answer needs no model: a failure here is the bus's
        else:
            await self.give_up_feature(data, error)

    async def on_reaction(self, data: bytes) -> None:
        """One reaction answered: noted once; the job may be complete now."""
        answer = ev.ReactionFeature.FromString(data)
        if not await self._live(answer.job_id):
            return
        record, added = await bus.cas(self.kv, answer.job_id, ev.FusionJob.FromString,
                                      lambda r: fusion.add_reaction(r, answer))
        if added:  # progress: the watchdog sees the job move while vision reads its reactions
            await self.rt.jobs.update(answer.job_id, lambda j: None)
        await self.check_complete(answer.job_id, record)

    async def on_feature(self, data: bytes) -> None:
        f = ev.Feature.FromString(data)
        if not await self._live(f.job_id):
            return
        record = await self._record(f.job_id, f.index, lambda r: fusion.add_part(r, feature=f.result))
        if record.HasField("result"):
            await self._published(record.result)
        elif record.HasField("utterance") and not fusion.missing_modalities(record):
            await self._fuse(record)

    async def on_done(self, done: ev.TranscriptDone) -> None:
        def set_done(r: ev.FusionJob) -> bool:
            if r.HasField("done"):
                return False
            r.done.CopyFrom(done)
            return True
        await self.check_complete(done.job_id, await self._job_record(done.job_id, set_done))

    # ---- when a message keeps failing: fuse what is there rather than drop the utterance ----
    async def give_up_utterance(self, data: bytes, error: BaseException) -> None:
        event = ev.UtteranceEvent.FromString(data)
        if event.HasField("done"):
            await self.rt.jobs.end(event.done.job_id, pb.FAILED, f"could not finish the job: {error}")
            self.rt.log.error("job failed at the end: %s", error, extra={"job_id": event.done.job_id})
            return
        u = event.utterance
        if await self._live(u.job_id):
            record = await self._record(u.job_id, u.index, lambda r: fusion.add_part(r, utterance=u))
            await self._fuse(record, use_model=False)

    async def give_up_feature(self, data: bytes, error: BaseException) -> None:
        f = ev.Feature.FromString(data)
        if await self._live(f.job_id):
            record = await self._record(f.job_id, f.index, lambda r: fusion.add_part(r, feature=f.result))
            if record.HasField("utterance") and not record.HasField("result"):
                await self._fuse(record, use_model=False)

    # ---- fusing ------------------------------------------------------------------------------
    async def _fuse(self, record: ev.FusionRecord, use_model: bool = True) -> None:
        """Fuse the parts there are; the first replica to store a result wins, the others publish it."""
        u, features = record.utterance, fusion.features_of(record)
        if use_model:
            started = time.perf_counter()
            out, version = await self.rt.triton.infer(MODEL, fusion.fusion_inputs(features, self.weights),
                                                      ["EMOTION", "SENTIMENT"])
            metrics.STAGE_SECONDS.labels("fusion").observe(time.perf_counter() - started)
            emotion, sentiment = out["EMOTION"][0], out["SENTIMENT"][0]
        else:
            (emotion, sentiment), version = fusion.local_fusion(features, self.weights), FALLBACK
        result = fusion.utterance_result(u, features, emotion, sentiment, {"fusion": version},
                                         f"timed out after {self.deadline_s:g}s")

        def claim(r: ev.FusionRecord) -> bool:
            if r.HasField("result"):
                return False
            r.result.CopyFrom(result)
            return True
        stored, won = await bus.cas(self.kv, f"{u.job_id}.{u.index}", ev.FusionRecord.FromString, claim)
        if won:
            self._count(stored.result, u)
        await self._published(stored.result)

    def _count(self, result: pb.UtteranceResult, u: ev.Utterance) -> None:
        FUSED.inc()
        for entry, modality in zip(result.modalities, MODALITIES):
            if not entry.present:
                ABSENT.labels(modality, "timeout" if modality in result.timed_out else "absent").inc()
        if u.cut_at:
            RESULT_LAG.observe(max(0.0, time.time() - u.cut_at))
        self.live_sentiment = (1 - LIVE_WEIGHT) * self.live_sentiment + LIVE_WEIGHT * np.asarray(result.sentiment)
        for label, value in zip(SENTIMENTS, self.live_sentiment):
            LIVE_SENTIMENT.labels(label).set(value)
        self.rt.log.info("fused", extra={"job_id": u.job_id, "index": u.index})

    async def _published(self, result: pb.UtteranceResult) -> None:
        """Publish a stored result and account for it; every step is idempotent, so it runs again
        whenever a redelivered message finds the result already stored."""
        job_id, index = result.job_id, result.index
        await self.rt.publish(bus.results_subject(job_id), pb.JobEvent(job_id=job_id, result=result),
                              f"result:{job_id}:{index}")

        def add(r: ev.FusionJob) -> bool:
            if index in r.fused:
                return False
            fused = sorted({*r.fused, index})
            del r.fused[:]
            r.fused.extend(fused)
            return True
        record = await self._job_record(job_id, add)
        count = len(record.fused)
        job = await self.rt.jobs.update(job_id, lambda j: setattr(j, "utterances_fused", max(j.utterances_fused, count)))
        if job is not None and job.state not in bus.TERMINAL:
            progress = pb.Progress(stage="fusing", utterances_fused=job.utterances_fused,
                                   utterances_total=job.utterances_total, duration_s=job.duration_s)
            await self.rt.publish(bus.results_subject(job_id), pb.JobEvent(job_id=job_id, progress=progress),
                                  f"progress:{job_id}:fused:{index}")
        await self.check_complete(job_id, record)

    async def check_complete(self, job_id: str, record: ev.FusionJob) -> None:
        """When every utterance of a transcribed job is fused and every reaction answered: mark SUCCEEDED,
        then publish the summary."""
        if not record.HasField("done") or len(record.fused) < record.done.utterance_count \
                or not fusion.reactions_answered(record):
            return
        done = record.done
        results = [(await self._record(job_id, i, lambda r: False)).result for i in range(done.utterance_count)]

        def succeed(j: pb.Job) -> None:
            j.state, j.utterances_fused, j.utterances_total = pb.SUCCEEDED, len(results), done.utterance_count
        # The record first, then the summary that ends every stream: a client that saw the summary
        # finds the job SUCCEEDED. A job cancelled or failed meanwhile stays so, and gets no summary.
        job = await self.rt.jobs.update(job_id, succeed)
        if job is None or job.state != pb.SUCCEEDED:
            return
        reactions = [r for r in record.reactions if r.index < done.reaction_count]
        summary = fusion.summarise(results, done.duration_s, done.language, done.note, reactions)
        await self.rt.publish(bus.results_subject(job_id), pb.JobEvent(job_id=job_id, summary=summary), f"summary:{job_id}")
        await asyncio.to_thread(self.rt.store.delete_spans, job_id)
        self.rt.log.info("job succeeded: %d utterances, %d reactions", len(results), len(reactions),
                         extra={"job_id": job_id})


def build(runtime: Runtime) -> Fusion:
    return Fusion(runtime)
