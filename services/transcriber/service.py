"""Transcriber: decode the audio block by block, find speech, transcribe it chunk by chunk with Whisper
on Triton, tell the speakers apart (voice prints on Triton, diarization), and publish each utterance —
one speaker's sentence — as soon as its chunk is transcribed.

A chunk that ends inside speech (a long stretch without a pause) is published up to a gap between
words near its end; the rest of its audio is transcribed again with the next chunk (the "carry"), so
no word is clipped, lost or doubled at the cut.

Memory does not grow with the media's length (audio is decoded in blocks; speakers are a few voice
prints), and the work is resumable: after each chunk a checkpoint (KV bucket "transcripts") records
how far it got, the carry and the speakers heard, so a redelivered job costs at most one chunk of
Whisper and keeps its speaker labels. Each utterance's audio goes to storage; its event names it.
"""
from __future__ import annotations

import asyncio
import json
import time

import numpy as np
from nats.js.errors import KeyNotFoundError

from emopulse.labels import SAMPLE_RATE
from emopulse.processing import diarization, media, reactions
from emopulse.processing.utterances import Cut, carry_point, chunk_words, cut_utterances, with_carry
from emopulse.runtime import bus, metrics, speakers
from emopulse.runtime.service import Runtime
from emopulse.v1 import events_pb2 as ev
from emopulse.v1 import results_pb2 as pb

MODEL = "speech_to_text"
CHECKPOINTS = "transcripts"
CONTEXT_UTTERANCES = 2  # previous utterances sent along as context (what the MELD text model was trained with)


class Transcriber:
    models = (MODEL, speakers.MODEL)

    def __init__(self, runtime: Runtime):
        self.rt = runtime
        self.checkpoints = None

    async def run(self, stopping: asyncio.Event) -> None:
        self.checkpoints = await bus.bucket(self.rt.js, CHECKPOINTS, self.rt.settings)
        consumer = self.rt.consumer("JOBS", bus.jobs_subject(), "transcriber", self.handle, self.give_up)
        await consumer.run(stopping)

    async def give_up(self, data: bytes, error: BaseException) -> None:
        job = ev.JobCreated.FromString(data).job
        await self.rt.jobs.end(job.id, pb.FAILED, f"transcription failed repeatedly: {error}")

    async def _checkpoint(self, job_id: str) -> ev.TranscriptCheckpoint:
        try:
            return ev.TranscriptCheckpoint.FromString((await self.checkpoints.get(job_id)).value or b"")
        except KeyNotFoundError:
            return ev.TranscriptCheckpoint()

    async def handle(self, data: bytes) -> None:
        job = ev.JobCreated.FromString(data).job
        extra = {"job_id": job.id}
        stored = await self.rt.jobs.get(job.id)
        if stored is None or stored.state in bus.TERMINAL:
            return
        await self.rt.jobs.update(job.id, lambda j: setattr(j, "state", pb.RUNNING))
        started = time.perf_counter()
        checkpoint = await self._checkpoint(job.id)
        if checkpoint.next_chunk:
            self.rt.log.info("resuming at chunk %d", checkpoint.next_chunk, extra=extra)
        try:
            path = await asyncio.to_thread(self.rt.store.local_path, job.media_uri)
            info = await asyncio.to_thread(media.probe, path)
            speech = media.speech_chunks(media.audio_blocks(path), self.rt.settings.transcribe_chunk_s, media.CHUNK_MAX_GAP_S)
            number, spoken, previous = -1, [], None
            following = await asyncio.to_thread(next, speech, None)
            while (chunk := following) is not None:
                following = await asyncio.to_thread(next, speech, None)  # one ahead: does the speech go on?
                number += 1
                spoken.append((chunk.start_s, chunk.end_s))  # every chunk, also those done before a restart
                if number >= checkpoint.next_chunk:  # else published before a restart
                    current = await self.rt.jobs.get(job.id)
                    if current is None or current.state in bus.TERMINAL:
                        self.rt.log.info("job ended while transcribing: stopping", extra=extra)
                        return
                    goes_on = following is not None and following.start_s - chunk.end_s < media.CONTIGUOUS_S
                    await self._transcribe(job, number, with_carry(previous, checkpoint.carry_from_s, chunk),
                                           chunk.start_s, goes_on, info, checkpoint)
                previous = chunk
        except (media.MediaError, FileNotFoundError) as exc:
            reason = str(exc) if isinstance(exc, media.MediaError) else "the media file is no longer in storage"
            self.rt.log.info("job failed: %s", reason, extra=extra)
            await self.rt.jobs.end(job.id, pb.FAILED, reason)
            return
        duration = info.duration_s or speech.duration_s
        index = checkpoint.next_index
        note = "" if index else ("no speech detected" if not speech.region_count else "speech detected but no words recognised")
        reaction_count = await self._request_reactions(job, spoken, duration, info.has_video)
        done = ev.TranscriptDone(job_id=job.id, utterance_count=index, duration_s=duration,
                                 language=checkpoint.language, note=note, reaction_count=reaction_count)
        await self.rt.publish(bus.utterances_subject(job.id), ev.UtteranceEvent(done=done), f"done:{job.id}")

        def record(j: pb.Job) -> None:
            j.utterances_total, j.duration_s, j.media_seconds_done = index, duration, duration
        await self.rt.jobs.update(job.id, record)
        metrics.STAGE_SECONDS.labels("transcribe").observe(time.perf_counter() - started)
        self.rt.log.info("transcribed: %d utterances", index, extra=extra)

    async def _request_reactions(self, job: pb.Job, spoken: list[tuple[float, float]], duration_s: float,
                                 has_video: bool) -> int:
        """One ReactionRequest per moment nobody speaks in (outside the speech chunks, which hold every
        utterance and are the same on every run); returns how many. Their ids come from (job, index), so
        publishing them again after a restart adds none."""
        times = reactions.reaction_times(spoken, duration_s, self.rt.settings.reaction_every_s) if has_video else []
        for start in range(0, len(times), 100):
            await asyncio.gather(*(
                self.rt.publish(bus.reactions_subject(job.id),
                                ev.ReactionRequest(job_id=job.id, index=i, time_s=t, media_uri=job.media_uri),
                                f"reaction:{job.id}:{i}")
                for i, t in enumerate(times[start:start + 100], start)))
        return len(times)

    async def _transcribe(self, job: pb.Job, number: int, chunk: media.SpeechChunk, own_start_s: float,
                          goes_on: bool, info: media.MediaInfo, checkpoint: ev.TranscriptCheckpoint) -> None:
        """One chunk (with any carry in front, from ``chunk.start_s``; its own audio from ``own_start_s``):
        Whisper and the voice prints, its utterances published, then the checkpoint and the job's progress.
        ``goes_on``: the next chunk continues this one's speech, so this one's end is carried."""
        (out, version), timeline = await asyncio.gather(
            self.rt.triton.infer(MODEL, {
                "AUDIO": chunk.samples.astype(np.float32),
                "LANGUAGE": np.array([(job.language or checkpoint.language).encode()], dtype=object)}, ["SEGMENTS"]),
            self._speakers(job, chunk, checkpoint))
        doc = json.loads(out["SEGMENTS"][0])
        language = job.language or checkpoint.language or doc.get("language", "")
        # the carry starts inside this chunk's own audio, so a restart can rebuild it from that chunk alone
        carry = carry_point(chunk_words(doc["segments"], chunk.start_s), own_start_s, chunk.end_s) if goes_on else None
        index, recent = checkpoint.next_index, list(checkpoint.recent)
        for cut in cut_utterances(doc["segments"], chunk.start_s, chunk.regions, self.rt.settings.max_utterance_s,
                                  timeline, until_s=carry):
            span = chunk.samples[max(0, int((cut.start_s - chunk.start_s) * SAMPLE_RATE)):
                                 max(0, int((cut.end_s - chunk.start_s) * SAMPLE_RATE))]
            await self._publish_utterance(job, index, cut, span, language, info.has_video, version,
                                          " ".join(recent[-CONTEXT_UTTERANCES:]))
            recent.append(cut.text)
            index += 1
        checkpoint.next_chunk, checkpoint.next_index, checkpoint.language = number + 1, index, language
        checkpoint.carry_from_s = carry or 0.0
        del checkpoint.recent[:]
        checkpoint.recent.extend(recent[-CONTEXT_UTTERANCES:])
        await self.checkpoints.put(job.id, checkpoint.SerializeToString())
        await self.rt.jobs.update(job.id, lambda j: setattr(j, "media_seconds_done", chunk.end_s))
        progress = pb.Progress(stage="transcribing", media_seconds_done=chunk.end_s, duration_s=info.duration_s)
        await self.rt.publish(bus.results_subject(job.id), pb.JobEvent(job_id=job.id, progress=progress),
                              f"progress:{job.id}:transcribing:{number}")

    async def _speakers(self, job: pb.Job, chunk: media.SpeechChunk,
                        checkpoint: ev.TranscriptCheckpoint) -> list[diarization.Segment]:
        """Who speaks when in the chunk, labelled as in the chunks before (the speakers heard so far
        are in ``checkpoint.voices``, which this updates); [] with diarization off."""
        if self.rt.settings.diarization == "off":
            return []
        return await speakers.timeline(self.rt.triton, chunk.samples, chunk.start_s, chunk.regions,
                                       checkpoint.voices, job.min_speakers, job.max_speakers)

    async def _publish_utterance(self, job: pb.Job, index: int, cut: Cut, span: np.ndarray, language: str,
                                 has_video: bool, version: str, context: str) -> None:
        audio_uri = await asyncio.to_thread(self.rt.store.put_span, job.id, index, media.to_pcm16(span))
        utterance = ev.Utterance(
            job_id=job.id, index=index, start_s=cut.start_s, end_s=cut.end_s, text=cut.text, language=language,
            words=[pb.Word(text=w.strip(), start_s=s, end_s=e, probability=p) for w, s, e, p in cut.words],
            audio_uri=audio_uri, media_uri=job.media_uri, has_video=has_video, model_version=version,
            cut_at=time.time(), context=context, speaker=cut.speaker)
        await self.rt.publish(bus.utterances_subject(job.id), ev.UtteranceEvent(utterance=utterance),
                              f"utterance:{job.id}:{index}")


def build(runtime: Runtime) -> Transcriber:
    return Transcriber(runtime)
