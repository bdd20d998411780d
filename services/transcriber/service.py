"""Transcriber: decode the audio, find speech, transcribe it chunk by chunk with Whisper on Triton,
and publish each utterance as soon as its chunk is transcribed."""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import numpy as np

from emopulse.labels import SAMPLE_RATE
from emopulse.processing import media
from emopulse.runtime import bus, metrics
from emopulse.runtime.service import Runtime
from emopulse.v1 import events_pb2 as ev
from emopulse.v1 import results_pb2 as pb

MODEL = "speech_to_text"
MAX_GAP_S = 1.0  # speech regions closer than this share a Whisper chunk
CONTEXT_UTTERANCES = 2  # previous utterances sent along as context (what the MELD text model was trained with)


@dataclass
class Cut:
    start_s: float
    end_s: float
    words: list[tuple[str, float, float, float]] = field(default_factory=list)  # text, start, end, probability
    text: str = ""


def _region_of(t: float, regions: list[tuple[float, float]]) -> int:
    """Index of the speech region holding time t, else the nearest one."""
    distances = [0.0 if s <= t <= e else min(abs(t - s), abs(t - e)) for s, e in regions]
    return int(np.argmin(distances)) if distances else 0


def cut_utterances(segments: list[dict], offset_s: float, regions: list[tuple[float, float]],
                   max_len_s: float) -> list[Cut]:
    """Whisper segments of one chunk -> utterances: split at segment ends, at pauses the voice
    activity detector found, and at word boundaries where longer than max_len_s."""
    cuts = []
    for seg in segments:
        words = [(w["word"], offset_s + w["start"], offset_s + w["end"], w.get("probability", 0.0))
                 for w in seg.get("words") or []]
        if not words:
            text = seg["text"].strip()
            if text:
                cuts.append(Cut(offset_s + seg["start"], offset_s + seg["end"], [], text))
            continue
        groups: list[list] = []
        for word in words:
            region = _region_of((word[1] + word[2]) / 2, regions)
            if groups and groups[-1][0] == region:
                groups[-1][1].append(word)
            else:
                groups.append([region, [word]])
        for _, group in groups:
            taken = 0
            for piece_times in media.split_segment_words([w[:3] for w in group], max_len_s):
                piece, taken = group[taken: taken + len(piece_times)], taken + len(piece_times)
                text = "".join(w[0] for w in piece).strip()
                if text:
                    cuts.append(Cut(piece[0][1], piece[-1][2], piece, text))
    return cuts


class Transcriber:
    models = (MODEL,)

    def __init__(self, runtime: Runtime):
        self.rt = runtime

    async def run(self, stopping: asyncio.Event) -> None:
        consumer = self.rt.consumer("JOBS", bus.jobs_subject(), "transcriber", self.handle, self.give_up)
        await consumer.run(stopping)

    async def give_up(self, data: bytes, error: BaseException) -> None:
        job = ev.JobCreated.FromString(data).job
        await self.rt.jobs.end(job.id, pb.FAILED, f"transcription failed repeatedly: {error}")

    async def handle(self, data: bytes) -> None:
        job = ev.JobCreated.FromString(data).job
        extra = {"job_id": job.id}
        stored = await self.rt.jobs.get(job.id)
        if stored is None or stored.state in bus.TERMINAL:
            return
        await self.rt.jobs.update(job.id, lambda j: setattr(j, "state", pb.RUNNING))
        started = time.perf_counter()
        try:
            path = await asyncio.to_thread(self.rt.store.local_path, job.media_uri)
            info = await asyncio.to_thread(media.probe, path)
            audio = await asyncio.to_thread(media.decode_audio, path)
        except (media.MediaError, FileNotFoundError) as exc:
            reason = str(exc) if isinstance(exc, media.MediaError) else "the media file is no longer in storage"
            self.rt.log.info("job failed: %s", reason, extra=extra)
            await self.rt.jobs.end(job.id, pb.FAILED, reason)
            return
        duration = info.duration_s or len(audio) / SAMPLE_RATE
        regions = await asyncio.to_thread(media.speech_regions, audio, SAMPLE_RATE)
        chunks = media.group_regions(regions, self.rt.settings.transcribe_chunk_s, MAX_GAP_S)
        self.rt.log.info("%d speech regions in %.1fs of audio, %d chunks", len(regions), duration, len(chunks), extra=extra)

        language, index, recent = job.language, 0, []
        for number, (chunk_start, chunk_end) in enumerate(chunks):
            current = await self.rt.jobs.get(job.id)
            if current is None or current.state in bus.TERMINAL:
                self.rt.log.info("job ended while transcribing: stopping", extra=extra)
                return
            samples = audio[int(chunk_start * SAMPLE_RATE): int(chunk_end * SAMPLE_RATE)].astype(np.float32)
            out, version = await self.rt.triton.infer(
                MODEL, {"AUDIO": samples, "LANGUAGE": np.array([language.encode()], dtype=object)}, ["SEGMENTS"])
            doc = json.loads(out["SEGMENTS"][0])
            language = language or doc.get("language", "")
            inside = [r for r in regions if r[1] > chunk_start and r[0] < chunk_end]
            for cut in cut_utterances(doc["segments"], chunk_start, inside, self.rt.settings.max_utterance_s):
                context = " ".join(recent[-CONTEXT_UTTERANCES:])
                await self._publish_utterance(job, index, cut, audio, language, info.has_video, version, context)
                recent.append(cut.text)
                index += 1
            progress = pb.Progress(stage="transcribing", media_seconds_done=chunk_end, duration_s=duration)
            await self.rt.publish(bus.results_subject(job.id), pb.JobEvent(job_id=job.id, progress=progress),
                                  f"progress:{job.id}:transcribing:{number}")

        note = "" if index else ("no speech detected" if not regions else "speech detected but no words recognised")
        done = ev.TranscriptDone(job_id=job.id, utterance_count=index, duration_s=duration, language=language, note=note)
        await self.rt.publish(bus.utterances_subject(job.id), ev.UtteranceEvent(done=done), f"done:{job.id}")

        def record(j: pb.Job) -> None:
            j.utterances_total, j.duration_s = index, duration
        await self.rt.jobs.update(job.id, record)
        metrics.STAGE_SECONDS.labels("transcribe").observe(time.perf_counter() - started)
        self.rt.log.info("transcribed: %d utterances", index, extra=extra)

    async def _publish_utterance(self, job: pb.Job, index: int, cut: Cut, audio: np.ndarray, language: str,
                                 has_video: bool, version: str, context: str) -> None:
        span = audio[int(cut.start_s * SAMPLE_RATE): int(cut.end_s * SAMPLE_RATE)]
        utterance = ev.Utterance(
            job_id=job.id, index=index, start_s=cut.start_s, end_s=cut.end_s, text=cut.text, language=language,
            words=[pb.Word(text=w.strip(), start_s=s, end_s=e, probability=p) for w, s, e, p in cut.words],
            pcm16=media.to_pcm16(span), media_uri=job.media_uri, has_video=has_video, model_version=version,
            cut_at=time.time(), context=context)
        await self.rt.publish(bus.utterances_subject(job.id), ev.UtteranceEvent(utterance=utterance),
                              f"utterance:{job.id}:{index}")


def build(runtime: Runtime) -> Transcriber:
    return Transcriber(runtime)
