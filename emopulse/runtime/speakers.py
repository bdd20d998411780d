"""Who speaks when in a stretch of speech, labelled as in the stretches before: voice prints of
sliding windows from the ``speaker_embedding`` Triton model, clustered by diarization.OnlineClusterer,
whose state (the speakers heard so far) lives in a VoicePrints message the caller keeps (the
transcriber's checkpoint, a live stream's lease), so labels survive a restart or a takeover."""
from __future__ import annotations

import asyncio

import numpy as np

from emopulse.processing import diarization as dz
from emopulse.runtime.triton import Triton
from emopulse.v1 import events_pb2 as ev

MODEL = "speaker_embedding"
BATCH = 64  # the model's max_batch_size


def clusterer(voices: ev.VoicePrints, min_speakers: int = 0, max_speakers: int = 0) -> dz.OnlineClusterer:
    sums = np.asarray(voices.sums, np.float32).reshape(-1, voices.dim) if voices.dim else None
    return dz.OnlineClusterer(max_speakers=max_speakers or None, min_speakers=min_speakers or None, sums=sums)


def keep(voices: ev.VoicePrints, clustered: dz.OnlineClusterer) -> None:
    prints = clustered.prints
    voices.dim = prints.shape[1] if prints.size else 0
    del voices.sums[:]
    voices.sums.extend(prints.reshape(-1).tolist())


async def timeline(triton: Triton, samples: np.ndarray, start_s: float, regions: list[tuple[float, float]],
                   voices: ev.VoicePrints, min_speakers: int = 0, max_speakers: int = 0) -> list[dz.Segment]:
    """Speaker segments of ``samples`` (audio from ``start_s``; ``regions``: its speech, absolute
    seconds). Updates ``voices`` with what was heard."""
    windows = dz.sliding_windows(regions)
    if not windows:
        return []
    audio = dz.window_audio(samples, [(a - start_s, b - start_s) for a, b in windows])
    answers = await asyncio.gather(*(triton.infer(MODEL, {"AUDIO": audio[i:i + BATCH]}, ["EMBEDDING"])
                                     for i in range(0, len(audio), BATCH)))
    embeddings = np.concatenate([out["EMBEDDING"] for out, _ in answers])
    clustered = clusterer(voices, min_speakers, max_speakers)
    # Clustering (and sklearn's first import, over a second) runs off the event loop: a live stream's
    # loop also renews its lease, and a loop blocked past the lease's TTL hands the stream to another
    # replica mid-stream.
    labels = await asyncio.to_thread(clustered.assign_batch, embeddings)
    keep(voices, clustered)
    heard = [(w, who) for w, who in zip(windows, labels) if who is not None]
    return dz.label_timeline([w for w, _ in heard], [who for _, who in heard])
