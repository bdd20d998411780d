"""Audio-text worker: per utterance, the text model (embedding, emotion and sentiment, with the previous
utterances as context) and the audio embedding, each published as its own feature. It also scores
live streams' audience messages with the same text model (Triton batches them with the rest) and
puts them on the stream's results."""
from __future__ import annotations

import asyncio
import time

import numpy as np

from emopulse.processing import media
from emopulse.runtime import bus, metrics
from emopulse.runtime.service import Runtime
from emopulse.runtime.triton import strings
from emopulse.runtime.worker import FeatureWorker
from emopulse.v1 import events_pb2 as ev
from emopulse.v1 import results_pb2 as pb

TEXT_MODEL, AUDIO_MODEL = "text_classifier", "audio_embedding"
AUDIO_CLASSIFIER = "none: embedding only, no trained speech-emotion weights exist yet"


class AudioText(FeatureWorker):
    name = "audiotext"
    modalities = (pb.TEXT, pb.AUDIO)
    models = (TEXT_MODEL, AUDIO_MODEL)

    async def run(self, stopping: asyncio.Event) -> None:
        audience = self.rt.consumer(bus.AUDIENCE, "audience.>", "audiotext-audience", self.score_audience,
                                    self.give_up_audience)
        await asyncio.gather(super().run(stopping), audience.run(stopping))

    async def score_audience(self, data: bytes) -> None:
        message = pb.AudienceMessage.FromString(data)
        out, version = await self.rt.triton.infer(TEXT_MODEL, {"TEXT": strings([message.text])},
                                                  ["EMOTION", "SENTIMENT", "CLASSIFIER"])
        message.emotion.extend(out["EMOTION"][0].tolist())
        message.sentiment.extend(out["SENTIMENT"][0].tolist())
        message.classifier = f"{out['CLASSIFIER'][0][0].decode()} ({version})"
        await self._publish_audience(message)

    async def give_up_audience(self, data: bytes, error: BaseException) -> None:
        message = pb.AudienceMessage.FromString(data)
        message.classifier = f"not scored: {error}"  # still counted (rate), not in the audience's sentiment
        await self._publish_audience(message)

    async def _publish_audience(self, message: pb.AudienceMessage) -> None:
        await self.rt.publish(bus.results_subject(message.stream_id), pb.JobEvent(job_id=message.stream_id, audience=message),
                              f"audience:{message.stream_id}:{message.message_id}")

    async def features(self, u: ev.Utterance) -> list[pb.ModalityResult]:
        return list(await asyncio.gather(self.text(u), self.audio(u)))

    async def text(self, u: ev.Utterance) -> pb.ModalityResult:
        if not u.text.strip():
            return pb.ModalityResult(modality=pb.TEXT, present=False, absent_reason="no words recognised")
        started = time.perf_counter()
        inputs = {"TEXT": strings([u.text])}
        if u.context:
            inputs["CONTEXT"] = strings([u.context])
        out, version = await self.rt.triton.infer(TEXT_MODEL, inputs, ["EMBEDDING", "EMOTION", "SENTIMENT", "CLASSIFIER"])
        metrics.STAGE_SECONDS.labels("text").observe(time.perf_counter() - started)
        return pb.ModalityResult(modality=pb.TEXT, present=True, emotion=out["EMOTION"][0], sentiment=out["SENTIMENT"][0],
                                 embedding=out["EMBEDDING"][0], model_version=version,
                                 classifier=out["CLASSIFIER"][0][0].decode())

    async def audio(self, u: ev.Utterance) -> pb.ModalityResult:
        pcm16 = await asyncio.to_thread(self.rt.store.read_object, u.audio_uri) if u.audio_uri else b""
        samples = media.from_pcm16(pcm16)
        if samples.size == 0:
            return pb.ModalityResult(modality=pb.AUDIO, present=False, absent_reason="no audio in the utterance span")
        started = time.perf_counter()
        out, version = await self.rt.triton.infer(AUDIO_MODEL, {"AUDIO": samples.astype(np.float32)}, ["EMBEDDING"])
        metrics.STAGE_SECONDS.labels("audio").observe(time.perf_counter() - started)
        return pb.ModalityResult(modality=pb.AUDIO, present=True, embedding=out["EMBEDDING"],
                                 classifier=AUDIO_CLASSIFIER, model_version=version)


def build(runtime: Runtime) -> AudioText:
    return AudioText(runtime)
