"""Fusion: join the utterance with its text, audio and vision features, fuse them on Triton, publish
the result, and finish the job when every utterance is fused.

The join state lives in a KV bucket (key <job>.<index>.<part>), so a restarted or second fusion
replica picks up where another left off. An utterance whose features do not all arrive within the
deadline is fused with what is there and says which modality timed out.
"""
from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import numpy as np
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import KeyNotFoundError, NoKeysError
from prometheus_client import Counter, Gauge, Histogram

from emopulse.labels import EMOTIONS, MODALITIES, SENTIMENTS
from emopulse.processing.audio_features import AUDIO_EMBEDDING_DIM
from emopulse.runtime import bus, metrics
from emopulse.runtime.service import Runtime
from emopulse.v1 import events_pb2 as ev
from emopulse.v1 import results_pb2 as pb

MODEL = "fusion"
BUCKET = "fusion"
EMBEDDING_DIMS = {"text": 384, "audio": AUDIO_EMBEDDING_DIM, "vision": len(EMOTIONS)}
PARTS = ("utterance",) + MODALITIES

FUSED = Counter("emopulse_fusion_utterances_fused_total", "Utterances fused")
ABSENT = Counter("emopulse_fusion_modality_absent_total", "Modalities absent from a fused utterance", ["modality", "why"])
RESULT_LAG = Histogram("emopulse_fusion_result_lag_seconds", "From the utterance being cut to its result",
                       buckets=metrics.LATENCY_BUCKETS)
LIVE_SENTIMENT = Gauge("emopulse_live_sentiment",
                       "Sentiment of the results this fusion process fused lately (moving average)", ["sentiment"])
LIVE_WEIGHT = 0.2  # weight of the newest result in the moving average


def fusion_inputs(features: dict[str, pb.ModalityResult], weights: dict[str, float]) -> dict[str, np.ndarray]:
    """Per-modality features -> the fusion model's fixed input tensors (batch of one)."""
    def row(name: str, field: str, size: int) -> np.ndarray:
        values = getattr(features[name], field) if name in features else []
        return np.asarray(values, np.float32) if len(values) == size else np.zeros(size, np.float32)

    present = [m in features and features[m].present for m in MODALITIES]
    inputs = {f"EMBEDDING_{m.upper()}": row(m, "embedding", EMBEDDING_DIMS[m])[None] for m in MODALITIES}
    inputs.update(
        EMOTION_PROBS=np.stack([row(m, "emotion", len(EMOTIONS)) for m in MODALITIES])[None],
        HAS_EMOTION=np.array([[p and len(features[m].emotion) == len(EMOTIONS) for m, p in zip(MODALITIES, present)]]),
        SENTIMENT_PROBS=np.stack([row(m, "sentiment", len(SENTIMENTS)) for m in MODALITIES])[None],
        HAS_SENTIMENT=np.array([[p and len(features[m].sentiment) == len(SENTIMENTS) for m, p in zip(MODALITIES, present)]]),
        PRESENT=np.array([present]),
        WEIGHTS=np.array([[weights.get(m, 0.0) for m in MODALITIES]], np.float32),
    )
    return inputs


def summarise(results: list[pb.UtteranceResult], duration_s: float, language: str, note: str) -> pb.Summary:
    summary = pb.Summary(utterance_count=len(results), duration_s=duration_s, language=language, note=note)
    if results:
        emotion = np.array([r.emotion for r in results])
        sentiment = np.array([r.sentiment for r in results])
        for labels, probs, share, mean in ((EMOTIONS, emotion, summary.emotion_distribution, summary.mean_emotion),
                                           (SENTIMENTS, sentiment, summary.sentiment_distribution, summary.mean_sentiment)):
            top = np.bincount(probs.argmax(axis=1), minlength=len(labels)) / len(results)
            for label, s, m in zip(labels, top, probs.mean(axis=0)):
                share[label] = float(s)
                mean[label] = float(m)
    return summary


class Fusion:
    models = (MODEL,)

    def __init__(self, runtime: Runtime):
        self.rt = runtime
        self.kv = None
        self.deadlines: dict[tuple[str, int], float] = {}   # (job, index) -> when to fuse regardless
        self.locks: defaultdict[tuple[str, int], asyncio.Lock] = defaultdict(asyncio.Lock)
        self.fused: defaultdict[str, set[int]] = defaultdict(set)  # what this replica knows is fused
        self.weights = runtime.settings.weights()
        self.live_sentiment = np.full(len(SENTIMENTS), 1 / len(SENTIMENTS))

    async def run(self, stopping: asyncio.Event) -> None:
        self.kv = await self.rt.js.create_key_value(KeyValueConfig(
            bucket=BUCKET, history=1, ttl=7 * 24 * 3600, storage=StorageType.FILE,
            replicas=self.rt.settings.stream_replicas))
        await self._rearm_deadlines()
        utterances = self.rt.consumer("UTTERANCES", "utterances.>", "fusion-utterances", self.on_utterance, self.give_up)
        features = self.rt.consumer("FEATURES", "features.>", "fusion", self.on_feature, self.give_up)
        await asyncio.gather(utterances.run(stopping), features.run(stopping), self._sweep(stopping))

    async def give_up(self, data: bytes, error: BaseException) -> None:
        self.rt.log.error("could not fuse a message: %s", error)

    # ---- state ----------------------------------------------------------------------------
    async def _get(self, key: str) -> bytes | None:
        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:
            return None
        return entry.value or None

    async def _rearm_deadlines(self) -> None:
        """After a restart: every cut utterance not yet fused gets a fresh deadline."""
        try:
            keys = await self.kv.keys()
        except NoKeysError:
            return
        have = set(keys)
        for key in keys:
            job, _, rest = key.partition(".")
            index, _, part = rest.partition(".")
            if part == "utterance" and f"{job}.{index}.result" not in have:
                self.deadlines[(job, int(index))] = time.time() + self.rt.settings.fusion_deadline_s

    async def _sweep(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            now = time.time()
            for key in [k for k, t in self.deadlines.items() if t <= now]:
                try:
                    await self.try_fuse(*key, force=True)
                except Exception:
                    self.rt.log.exception("deadline fusion failed", extra={"job_id": key[0], "index": key[1]})
            await asyncio.sleep(0.5)

    # ---- handlers -------------------------------------------------------------------------
    async def on_utterance(self, data: bytes) -> None:
        event = ev.UtteranceEvent.FromString(data)
        if event.HasField("done"):
            await self.kv.put(f"{event.done.job_id}.total", event.done.SerializeToString())
            await self.check_complete(event.done.job_id)
            return
        u = event.utterance
        u.ClearField("pcm16")  # fusion needs the words and times, not the audio
        await self.kv.put(f"{u.job_id}.{u.index}.utterance", u.SerializeToString())
        self.deadlines.setdefault((u.job_id, u.index), time.time() + self.rt.settings.fusion_deadline_s)
        await self.try_fuse(u.job_id, u.index)

    async def on_feature(self, data: bytes) -> None:
        f = ev.Feature.FromString(data)
        modality = pb.Modality.Name(f.result.modality).lower()
        await self.kv.put(f"{f.job_id}.{f.index}.{modality}", f.result.SerializeToString())
        await self.try_fuse(f.job_id, f.index)

    async def try_fuse(self, job_id: str, index: int, force: bool = False) -> None:
        async with self.locks[(job_id, index)]:
            try:
                await self._fuse(job_id, index, force)
            finally:
                self.locks.pop((job_id, index), None)

    async def _fuse(self, job_id: str, index: int, force: bool) -> None:
        prefix = f"{job_id}.{index}"
        if index in self.fused[job_id]:
            self.deadlines.pop((job_id, index), None)
            return
        if await self._get(f"{prefix}.result"):  # fused before this process started
            self.deadlines.pop((job_id, index), None)
            self.fused[job_id].add(index)
            await self.check_complete(job_id)
            return
        raw = dict(zip(PARTS, await asyncio.gather(*(self._get(f"{prefix}.{p}") for p in PARTS))))
        if raw["utterance"] is None:
            return
        missing = [m for m in MODALITIES if raw[m] is None]
        if missing and not force:
            return
        self.deadlines.pop((job_id, index), None)
        job = await self.rt.jobs.get(job_id)
        if job is None or job.state in bus.TERMINAL:
            return
        u = ev.Utterance.FromString(raw["utterance"])
        features = {m: pb.ModalityResult.FromString(raw[m]) for m in MODALITIES if raw[m] is not None}
        result = await self._fuse_one(u, features, missing)
        await self.rt.publish(bus.results_subject(job_id), pb.JobEvent(job_id=job_id, result=result),
                              f"result:{job_id}:{index}")
        await self.kv.put(f"{prefix}.result", result.SerializeToString())
        self.fused[job_id].add(index)
        FUSED.inc()
        await self._progress(job_id, index)
        if u.cut_at:
            RESULT_LAG.observe(max(0.0, time.time() - u.cut_at))
        self.live_sentiment = (1 - LIVE_WEIGHT) * self.live_sentiment + LIVE_WEIGHT * np.asarray(result.sentiment)
        for label, value in zip(SENTIMENTS, self.live_sentiment):
            LIVE_SENTIMENT.labels(label).set(value)
        self.rt.log.info("fused", extra={"job_id": job_id, "index": index})
        await self.check_complete(job_id)

    async def _fuse_one(self, u: ev.Utterance, features: dict[str, pb.ModalityResult], missing: list[str]) -> pb.UtteranceResult:
        started = time.perf_counter()
        out, version = await self.rt.triton.infer(MODEL, fusion_inputs(features, self.weights), ["EMOTION", "SENTIMENT"])
        metrics.STAGE_SECONDS.labels("fusion").observe(time.perf_counter() - started)
        entries = []
        for modality in MODALITIES:
            if modality in features:
                entry = features[modality]
                if not entry.present:
                    ABSENT.labels(modality, "absent").inc()
            else:
                ABSENT.labels(modality, "timeout").inc()
                entry = pb.ModalityResult(modality=pb.Modality.Value(modality.upper()), present=False,
                                          absent_reason=f"timed out after {self.rt.settings.fusion_deadline_s:g}s")
            entries.append(entry)
        versions = {"speech_to_text": u.model_version, "fusion": version}
        versions.update({m: features[m].model_version for m in features if features[m].model_version})
        return pb.UtteranceResult(job_id=u.job_id, index=u.index, start_s=u.start_s, end_s=u.end_s, text=u.text,
                                  words=u.words, language=u.language, emotion=out["EMOTION"][0],
                                  sentiment=out["SENTIMENT"][0], modalities=entries, timed_out=missing,
                                  model_versions=versions)

    async def _progress(self, job_id: str, index: int) -> None:
        def count(j: pb.Job) -> None:
            j.utterances_fused += 1
        job = await self.rt.jobs.update(job_id, count)
        if job is not None:
            progress = pb.Progress(stage="fusing", utterances_fused=job.utterances_fused,
                                   utterances_total=job.utterances_total, duration_s=job.duration_s)
            await self.rt.publish(bus.results_subject(job_id), pb.JobEvent(job_id=job_id, progress=progress),
                                  f"progress:{job_id}:fused:{index}")

    async def check_complete(self, job_id: str) -> None:
        """When every utterance of a transcribed job is fused: publish the summary, mark SUCCEEDED."""
        raw_total = await self._get(f"{job_id}.total")
        if raw_total is None:
            return
        done = ev.TranscriptDone.FromString(raw_total)
        known = self.fused[job_id]
        for index in range(done.utterance_count):
            if index not in known:
                if await self._get(f"{job_id}.{index}.result") is None:
                    return
                known.add(index)
        results = [pb.UtteranceResult.FromString(await self._get(f"{job_id}.{i}.result"))
                   for i in range(done.utterance_count)]
        job = await self.rt.jobs.get(job_id)
        if job is None or job.state in (pb.FAILED, pb.CANCELLED):
            self.fused.pop(job_id, None)
            return

        def succeed(j: pb.Job) -> None:
            j.state, j.utterances_fused, j.utterances_total = pb.SUCCEEDED, len(results), done.utterance_count
        # The record first, then the summary that ends every stream: a client that saw the summary
        # finds the job SUCCEEDED. A crash in between is mended by the redelivered message, which
        # publishes the summary again (JetStream drops it if it was already there).
        await self.rt.jobs.update(job_id, succeed)
        summary = summarise(results, done.duration_s, done.language, done.note)
        await self.rt.publish(bus.results_subject(job_id), pb.JobEvent(job_id=job_id, summary=summary), f"summary:{job_id}")
        self.fused.pop(job_id, None)
        self.rt.log.info("job succeeded: %d utterances", len(results), extra={"job_id": job_id})


def build(runtime: Runtime) -> Fusion:
    return Fusion(runtime)
