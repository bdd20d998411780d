"""What the per-utterance feature workers (audiotext, vision) share: consume utterances, skip jobs
that have ended, publish one feature per modality, and turn repeated failure into absent features."""
from __future__ import annotations

import asyncio

from emopulse.runtime import bus
from emopulse.runtime.service import Runtime
from emopulse.v1 import events_pb2 as ev
from emopulse.v1 import results_pb2 as pb


class FeatureWorker:
    name: str                       # durable consumer name
    modalities: tuple[int, ...]     # pb.Modality values this worker publishes
    models: tuple[str, ...]

    def __init__(self, runtime: Runtime):
        self.rt = runtime

    async def features(self, u: ev.Utterance) -> list[pb.ModalityResult]:
        raise NotImplementedError

    async def run(self, stopping: asyncio.Event) -> None:
        consumer = self.rt.consumer("UTTERANCES", "utterances.>", self.name, self.handle, self.give_up)
        await consumer.run(stopping)

    async def handle(self, data: bytes) -> None:
        event = ev.UtteranceEvent.FromString(data)
        if not event.HasField("utterance"):
            return
        u = event.utterance
        job = await self.rt.jobs.get(u.job_id)
        if job is None or job.state in bus.TERMINAL:
            return
        await asyncio.gather(*(self.publish(u, result) for result in await self.features(u)))

    async def give_up(self, data: bytes, error: BaseException) -> None:
        event = ev.UtteranceEvent.FromString(data)
        if event.HasField("utterance"):
            for modality in self.modalities:
                await self.publish(event.utterance, pb.ModalityResult(
                    modality=modality, present=False, absent_reason=f"failed: {error}"))

    async def publish(self, u: ev.Utterance, result: pb.ModalityResult) -> None:
        modality = pb.Modality.Name(result.modality).lower()
        feature = ev.Feature(job_id=u.job_id, index=u.index, result=result)
        await self.rt.publish(bus.features_subject(modality, u.job_id), feature,
                              f"feature:{modality}:{u.job_id}:{u.index}")
