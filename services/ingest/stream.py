"""One live stream held by this ingest process: read the source, record it, end utterances while
audio keeps coming, transcribe and publish them, send partials and state changes, renew the lease."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import BadRequestError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from prometheus_client import Counter, Gauge, Histogram

from emopulse.labels import SAMPLE_RATE
from emopulse.processing import live, media, reactions, sources, vision
from emopulse.processing.recording import write_recording
from emopulse.processing.utterances import split_turns, whole_cut
from emopulse.runtime import bus, metrics, speakers
from emopulse.runtime.dependencies import is_outage
from emopulse.runtime.service import Runtime
from emopulse.runtime.threads import in_thread
from emopulse.v1 import events_pb2 as ev
from emopulse.v1 import results_pb2 as pb

MODEL = "speech_to_text"
CONTEXT_UTTERANCES = 2
RECORD_SEGMENT_S = 10.0     # audio is recorded in segments this long
PRE_ROLL_S = 1.0            # audio kept before the speech in progress
PICTURES_KEPT_S = 120.0     # picture references kept in memory for utterances still to come
SHORT_CONTEXT = np.array([True])  # Whisper encodes the utterance, not a 30 s window: the latency is in it
PARTIAL_QUIET_S = 0.2       # no new partial once the speaker has paused this long: the final is near
PICTURE_MAX_AGE_S = 2.0     # a reaction needs a picture at most this old: an older one no longer shows the moment

STREAMS = Gauge("emopulse_ingest_streams", "Live streams this ingest holds, by state", ["state"])
UP = Gauge("emopulse_ingest_stream_up", "1 while a stream is LIVE, 0 while it is starting or reconnecting", ["stream"])
LAG = Gauge("emopulse_ingest_stream_lag_seconds", "How far a stream's analysis is behind its source", ["stream"])
RECONNECTS = Counter("emopulse_ingest_reconnects_total", "Reconnects to live sources", ["scheme"])
TAKEOVERS = Counter("emopulse_ingest_takeovers_total", "Streams taken over from an ingest that stopped renewing")
PARTIALS_DROPPED = Counter("emopulse_ingest_partials_dropped_total", "Partials skipped because analysis was behind")
FINAL_LATENCY = Histogram("emopulse_ingest_final_latency_seconds", "From the end of speech to its utterance published",
                          buckets=metrics.LATENCY_BUCKETS)
PARTIAL_LATENCY = Histogram("emopulse_ingest_partial_latency_seconds",
                            "From the start of speech to its first partial", buckets=metrics.LATENCY_BUCKETS)
STATE_NAMES = {pb.STREAM_STARTING: "STARTING", pb.STREAM_LIVE: "LIVE", pb.STREAM_RECONNECTING: "RECONNECTING"}


class LeaseLost(Exception):
    """Another ingest holds the stream now: stop touching it."""


class LiveStream:
    """One stream held by this process: read, record, cut, transcribe, publish, renew."""

    def __init__(self, rt: Runtime, leases, owner: str, stream_id: str, previous: ev.StreamLease,
                 lease: ev.StreamLease, revision: int):
        """`previous` is the lease as it was before this process claimed it (revision `revision`)."""
        self.rt, self.leases, self.owner, self.id = rt, leases, owner, stream_id
        self.s = rt.settings
        self.previous, self.revision = previous, revision
        self.log_extra = {"job_id": stream_id}
        self.job: pb.Job | None = None
        self.state, self.detail = pb.STREAM_STARTING, ""
        self.media_s = lease.media_s          # media time reached
        self.next_index = lease.next_index
        self.recent = list(lease.recent)
        self.voices = ev.VoicePrints()            # the speakers heard so far: kept in the lease
        self.voices.CopyFrom(lease.voices)
        self.language = lease.language
        self.reconnects = lease.reconnects
        self.gap_s = 0.0
        self.model_version = ""
        # the media clock: source time t is media time clock + t on the current connection
        self.clock = 0.0
        self.got_media = False
        self.away_since: float | None = None     # wall time the media stopped, until it comes again
        self.gap_why = ""
        self.heard_wall = 0.0                    # wall time of the last media
        self.push_from_start = not previous.owner
        self.pushed_seq = 0                      # the last pushed part read (its PUSH stream sequence)
        self.buffer = live.AudioBuffer(start_s=self.media_s)
        self.vad, self.vad_origin = live.StreamingVad(), self.media_s
        self.endpointer = live.Endpointer(endpoint_s=self.s.endpoint_ms / 1000, max_utterance_s=self.s.max_utterance_s)
        self.pictures: list[tuple[float, str]] = []
        self.heard: list[tuple[float, float]] = []   # (media time, wall time it arrived), recent
        self.finals: asyncio.Queue = asyncio.Queue()
        self.waiting: list[float] = []               # when each queued final's speech ended (wall time)
        self.waiting_from: list[float] = []          # where each queued final's speech starts (media time)
        self.finals_busy = False
        self.first_partial_of = -1                   # index whose first partial was timed
        self.stop_requested = asyncio.Event()       # StopStream, a cancelled job, or its owner's quota
        self.stop_reason = "stopped by a user"
        self.lagging = False
        self.recording: list[np.ndarray] = []
        self.recording_from = self.media_s
        # Reactions are numbered 0, 1, ... without holes, so the transcript's end can count them; a new
        # holder goes on after the last request on the bus (as with utterances): the lease has no room.
        self.reactions = reactions.LiveReactions(self.s.reaction_every_s)
        self.reactions.start_at(self.media_s)
        self.next_reaction = 0

    # ---- the session ---------------------------------------------------------------------------
    async def run(self, stopping: asyncio.Event) -> None:
        self.job = await self.rt.jobs.get(self.id)
        if self.job is None or self.job.state in bus.TERMINAL or not self.job.HasField("stream"):
            await self._release(delete=True)
            return
        self.language = self.language or self.job.language
        await self._resume()
        finals = asyncio.create_task(self._finals())
        partials = asyncio.create_task(self._partials())
        renew = asyncio.create_task(self._renew())
        read = asyncio.create_task(self._read())
        waits = [asyncio.create_task(stopping.wait()), asyncio.create_task(self.stop_requested.wait())]
        try:
            done, _ = await asyncio.wait({read, renew, *waits}, return_when=asyncio.FIRST_COMPLETED)
            if renew in done:
                self.rt.log.warning("lease lost: another ingest holds the stream", extra=self.log_extra)
                return
            if read in done and read.exception() is not None:
                self.rt.log.error("reading failed: %r; handing the stream over", read.exception(), extra=self.log_extra)
            outcome = read.result() if read in done and read.exception() is None else None
            if outcome is None and self.stop_requested.is_set():
                outcome = (pb.STREAM_ENDED, "", self.stop_reason)
            read.cancel()
            await asyncio.gather(read, return_exceptions=True)
            # Whatever happens next, what was heard is finished: speech in progress is the last utterance.
            for end in self.endpointer.flush(self.buffer.end_s):
                self._queue_final(end)
            self.finals.put_nowait(None)
            await finals
            if outcome is None:  # shutting down: another replica takes the stream over at once
                await self._release(delete=False)
                return
            await self._end(*outcome)
        finally:
            for task in (read, renew, partials, finals, *waits):
                task.cancel()
            await asyncio.gather(read, renew, partials, finals, *waits, return_exceptions=True)
            self._count_state(None)

    async def _resume(self) -> None:
        """Start, or go on where the previous holder stopped (the gap is reported)."""
        try:
            last = await self.rt.js.get_last_msg("UTTERANCES", bus.utterances_subject(self.id))
            event = ev.UtteranceEvent.FromString(last.data)
            if event.HasField("utterance"):  # published, maybe not yet checkpointed: never reuse its index
                self.next_index = max(self.next_index, event.utterance.index + 1)
        except NotFoundError:
            pass
        try:
            last = ev.ReactionRequest.FromString(
                (await self.rt.js.get_last_msg("UTTERANCES", bus.reactions_subject(self.id))).data)
            self.next_reaction = last.index + 1
            self.reactions.start_at(last.time_s + self.s.reaction_every_s / 2)
        except NotFoundError:
            pass
        self._count_state(self.state)
        if self.previous.owner:
            TAKEOVERS.inc()
            self.away_since = self.previous.renewed_at or time.time()
            self.gap_why = f"taken over from {self.previous.owner}"

    # ---- reading ------------------------------------------------------------------------------
    async def _read(self) -> tuple[int, str, str]:
        """Read the source until it ends (ENDED) or stays away past the budget (FAILED)."""
        url = self.job.stream.url
        backoff = live.Backoff(self.s.reconnect_budget_s, max_delay_s=self.s.reconnect_max_delay_s)
        failures = 0
        while True:
            self.got_media = False
            try:
                if await self._read_once(url):
                    return pb.STREAM_ENDED, "", "the source ended"
                why = "stopped sending" if url.startswith("push:") else "ended"
            except sources.SourceError as exc:
                why = exc.why
            if self.got_media:
                backoff.reset()
                failures = 0
            failures += 1
            delay = backoff.next_delay(time.monotonic())
            if delay is None:
                reason = f"{url} {why}; tried {failures} times over {self.s.reconnect_budget_s:.0f} s"
                return pb.STREAM_FAILED, reason, reason
            if self.heard_wall and self.away_since is None:
                self.away_since, self.gap_why = self.heard_wall, "the source was away"
            self.reconnects += 1
            RECONNECTS.labels(urlparse(url).scheme or "push").inc()
            await self._set_state(pb.STREAM_RECONNECTING, f"{url} {why}; retrying in {delay:.1f} s")
            await asyncio.sleep(delay)

    async def _read_once(self, url: str) -> bool:
        """One connection: True when the source ended by itself, False when it went away."""
        if url.startswith("push:"):
            return await self._read_pushed(url.removeprefix("push:"))
        ended = await self._pump(lambda stop: sources.read(url, 1 / self.s.vision_fps, self.s.source_timeout_s,
                                                           stop=stop))
        return ended and sources.ends_by_itself(url)

    async def _pump(self, reader) -> bool:
        """Take a blocking reader's items (in a thread) in order; True when it reached its end."""
        async with contextlib.aclosing(in_thread(reader, f"read-{self.id[:8]}")) as items:  # closed on cancel too
            async for item in items:
                await self._take(item)
        return True

    async def _read_pushed(self, fmt: str) -> bool:
        """Media the gateway put on push.<stream>: PCM16 with pictures, or container bytes."""
        # From the start for the first holder; after a pause, on from the last part read (nothing the
        # client sent meanwhile is skipped); a new holder reads on from now (the gap is reported).
        if self.pushed_seq:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.pushed_seq + 1)
        else:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL if self.push_from_start else DeliverPolicy.NEW)
        sub = await self.rt.js.subscribe(bus.push_subject(self.id), ordered_consumer=True, config=config)
        pipe = sources.Pipe() if fmt != "pcm16" else None
        reading = None
        if pipe is not None:
            reading = asyncio.create_task(self._pump(
                lambda stop: sources.read(pipe, 1 / self.s.vision_fps, self.s.source_timeout_s, fmt=fmt, stop=stop)))
        pushed_s = 0.0
        try:
            while True:
                if reading is not None and reading.done():
                    return reading.result()
                try:
                    msg = await sub.next_msg(timeout=self.s.source_timeout_s)
                except NatsTimeout:
                    raise sources.SourceError(f"sent no media for {self.s.source_timeout_s:.0f} s") from None
                self.pushed_seq = msg.metadata.sequence.stream
                part = ev.PushedMedia.FromString(msg.data)
                kind = part.WhichOneof("part")
                if pipe is not None:  # a container: FFmpeg demuxes it in the reader thread
                    if kind != "frame":
                        await asyncio.to_thread(pipe.put, None if kind == "end" else part.media)
                    if kind == "end":
                        return await reading
                elif kind == "end":
                    return True
                elif kind == "media":
                    samples = media.from_pcm16(part.media[: len(part.media) // 2 * 2])
                    await self._take(sources.AudioBlock(pushed_s, samples))
                    pushed_s += len(samples) / SAMPLE_RATE
                elif kind == "frame":
                    await self._take(sources.Picture(part.frame.time_s, part.frame.jpeg))
        finally:
            if reading is not None:
                with contextlib.suppress(Exception):
                    pipe.put(None, timeout=0.1)
                reading.cancel()
                await asyncio.gather(reading, return_exceptions=True)
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    # ---- what the source gives -----------------------------------------------------------------
    async def _connected(self, first_t: float) -> None:
        """The first media of a connection: media time goes on from where it stopped, after any gap."""
        self.got_media = True
        if self.away_since is not None:  # media time went on while nothing came
            await self._gap(self.media_s, self.media_s + max(0.0, time.time() - self.away_since), self.gap_why)
            self.away_since = None
        if self.media_s > self.buffer.end_s + 1e-3:  # a gap ends the speech in progress
            for end in self.endpointer.flush(self.buffer.end_s):
                self._queue_final(end)
            await self._flush_recording()
            self.buffer.jump_to(self.media_s)
            self.recording_from = self.media_s
            self.vad, self.vad_origin = live.StreamingVad(), self.media_s
            self.endpointer.floor_s = self.media_s
        self.clock = self.media_s - first_t
        await self._set_state(pb.STREAM_LIVE, "")

    async def _take(self, item: sources.AudioBlock | sources.Picture) -> None:
        if not self.got_media:
            await self._connected(item.t)
        self.heard_wall = time.time()
        if isinstance(item, sources.Picture):
            t = self.clock + item.t
            name = f"{self.rt.store.recording(self.id)}frames/{int(t * 1000):010d}.jpg"
            uri = await asyncio.to_thread(self.rt.store.put_object, name, item.jpeg)
            self.pictures.append((t, uri))
            while self.pictures and self.pictures[0][0] < t - PICTURES_KEPT_S:
                self.pictures.pop(0)
            return
        # Audio is laid end to end on the media clock (sample counts do not drift).
        self.buffer.add(item.samples)
        self.media_s = self.buffer.end_s
        self.heard.append((self.media_s, time.time()))
        del self.heard[:-200]
        await self._record(item.samples)
        for t, p in self.vad.feed(item.samples):
            for event in self.endpointer.add(self.vad_origin + t, p):
                if isinstance(event, live.SpeechEnded):
                    self._queue_final(event)
        keep = self.endpointer.start_s if self.endpointer.start_s is not None else self.media_s
        self.buffer.forget_before(keep - PRE_ROLL_S)
        for t in self.reactions.due(self.media_s, self.endpointer.start_s, self.endpointer.floor_s):
            await self._request_reaction(t)

    async def _request_reaction(self, t: float) -> None:
        """Nobody spoke around media time t: vision reads the faces in the picture of that moment."""
        picture = reactions.picture_at(self.pictures, t, PICTURE_MAX_AGE_S)
        if picture is None:
            return  # no picture (no video, or it stopped): nothing to read, and no number used
        index = self.next_reaction
        request = ev.ReactionRequest(job_id=self.id, index=index, time_s=t, media_uri=self.job.stream.url,
                                     frame=ev.FrameRef(time_s=picture[0], uri=picture[1]))
        try:
            await self.rt.publish(bus.reactions_subject(self.id), request, f"reaction:{self.id}:{index}")
        except Exception as exc:  # NATS away: this moment is skipped, the stream reads on
            self.rt.log.warning("a reaction request was not published: %s", exc, extra=self.log_extra)
            return
        self.next_reaction = index + 1

    def _wall_of(self, media_t: float) -> float:
        """When the audio at media time t arrived here (for latency figures)."""
        for t, wall in reversed(self.heard):
            if t <= media_t:
                return wall + (media_t - t)
        return self.heard[0][1] if self.heard else time.time()

    async def _record(self, samples: np.ndarray) -> None:
        """The stream's audio, in segments named by their start time."""
        self.recording.append(samples)
        if sum(len(x) for x in self.recording) >= RECORD_SEGMENT_S * SAMPLE_RATE:
            await self._flush_recording()

    async def _flush_recording(self) -> None:
        if not self.recording:
            return
        audio, start = np.concatenate(self.recording), self.recording_from
        self.recording, self.recording_from = [], start + len(audio) / SAMPLE_RATE
        name = f"{self.rt.store.recording(self.id)}audio/{int(start * 1000):010d}.pcm16"
        await asyncio.to_thread(self.rt.store.put_object, name, media.to_pcm16(audio))

    # ---- finals and partials -------------------------------------------------------------------
    def _queue_final(self, end: live.SpeechEnded) -> None:
        heard_at = self._wall_of(end.end_s)
        self.waiting.append(heard_at)
        self.waiting_from.append(end.start_s)
        self.finals.put_nowait((end, self.buffer.span(end.start_s, end.end_s), heard_at))

    async def _finals(self) -> None:
        """Transcribe each ended utterance and publish it, one at a time, in order."""
        while (item := await self.finals.get()) is not None:
            end, audio, heard_at = item
            self.finals_busy = True
            try:
                began = time.time()
                doc = await self._whisper(audio, final=True)
                cut = whole_cut(doc["segments"], end.start_s, end.end_s) if doc else None
                if cut is not None:
                    turns = split_turns(cut, await self._speakers(audio, end))
                    for turn in turns:
                        span = audio if len(turns) == 1 else audio[int((turn.start_s - end.start_s) * SAMPLE_RATE):
                                                                    int((turn.end_s - end.start_s) * SAMPLE_RATE)]
                        await self._publish_utterance(turn, span, doc.get("language", ""))
                    FINAL_LATENCY.observe(max(0.0, time.time() - heard_at))
                self.rt.log.debug("utterance of %.1f s: waited %.2f s, Whisper %.2f s, %s", len(audio) / SAMPLE_RATE,
                                  began - heard_at, time.time() - began, "published" if cut else "no words",
                                  extra=self.log_extra)
            finally:
                self.finals_busy = False
                self.waiting.remove(heard_at)
                self.waiting_from.remove(end.start_s)

    async def _speakers(self, audio: np.ndarray, end: live.SpeechEnded) -> list:
        """Who speaks when in an ended utterance, labelled as before in the stream (the speakers go
        into the lease at its next renewal, so a takeover keeps them). [] with diarization off."""
        if self.s.diarization == "off":
            return []
        segments = await self._waiting_out_outages(
            lambda: speakers.timeline(self.rt.triton, audio, end.start_s, [(end.start_s, end.end_s)], self.voices,
                                      self.job.min_speakers, self.job.max_speakers), "the speakers")
        return segments or []

    async def _waiting_out_outages(self, call, what: str, final: bool = True):
        """``call()``, waiting out a Triton outage (work is delayed, never dropped); None when not
        final and it failed, or when it failed on its input."""
        while True:
            try:
                return await call()
            except Exception as exc:
                if not final:
                    self.rt.log.info("a partial was skipped: %s", exc, extra=self.log_extra)
                    return None
                if not is_outage(exc) and await self.rt.dependencies.ready():
                    self.rt.log.error("%s of an utterance could not be read: %s", what, exc, extra=self.log_extra)
                    return None
                self.rt.log.warning("Triton unavailable, the utterance waits: %s", exc, extra=self.log_extra)
                await asyncio.sleep(1.0)
                await self.rt.dependencies.wait_ready(asyncio.Event())

    async def _whisper(self, audio: np.ndarray, final: bool) -> dict | None:
        """Whisper on Triton. A final waits out an outage (it is never dropped); a partial is skipped."""
        language = np.array([(self.job.language or self.language).encode()], dtype=object)

        async def transcribe() -> dict:
            out, self.model_version = await self.rt.triton.infer(
                MODEL, {"AUDIO": audio.astype(np.float32), "LANGUAGE": language, "SHORT_CONTEXT": SHORT_CONTEXT},
                ["SEGMENTS"])
            return json.loads(out["SEGMENTS"][0])
        return await self._waiting_out_outages(transcribe, "the words", final)

    async def _publish_utterance(self, cut, audio: np.ndarray, language: str) -> None:
        index = self.next_index
        self.language = self.job.language or self.language or language
        audio_uri = await asyncio.to_thread(self.rt.store.put_span, self.id, index, media.to_pcm16(audio))
        pictures = live.frames_for(self.pictures, cut.start_s, cut.end_s, self.s.vision_max_frames)
        utterance = ev.Utterance(
            job_id=self.id, index=index, start_s=cut.start_s, end_s=cut.end_s, text=cut.text, language=self.language,
            words=[pb.Word(text=w.strip(), start_s=s, end_s=e, probability=p) for w, s, e, p in cut.words],
            audio_uri=audio_uri, media_uri=self.job.stream.url, has_video=bool(pictures),
            model_version=self.model_version, cut_at=time.time(), context=" ".join(self.recent[-CONTEXT_UTTERANCES:]),
            speaker=cut.speaker, frames=[ev.FrameRef(time_s=t, uri=uri) for t, uri in pictures])
        await self.rt.publish(bus.utterances_subject(self.id), ev.UtteranceEvent(utterance=utterance),
                              f"utterance:{self.id}:{index}")
        self.next_index = index + 1
        self.recent = (self.recent + [cut.text])[-CONTEXT_UTTERANCES:]

    async def _partials(self) -> None:
        """About every partial_every_s, the speech in progress so far; at most one in flight, and none
        while finals wait or the stream is behind (partials are what gives way first)."""
        while True:
            await asyncio.sleep(self.s.partial_every_s)
            start = self.endpointer.start_s
            if not self.endpointer.in_speech or start is None or self.finals_busy or self.waiting:
                continue
            if self.buffer.end_s - self.endpointer.last_voice_s > PARTIAL_QUIET_S:
                continue  # a pause: leave Whisper free for the final that may come
            if self.lagging:
                PARTIALS_DROPPED.inc()
                continue
            index, heard_to = self.next_index, self.buffer.end_s
            audio = self.buffer.span(start, heard_to)
            if len(audio) < SAMPLE_RATE // 2:
                continue
            doc = await self._whisper(audio, final=False)
            text = " ".join(seg["text"].strip() for seg in doc["segments"]).strip() if doc else ""
            if not text or self.next_index != index or self.endpointer.start_s != start:
                continue  # its final came first: this partial is superseded already
            partial = pb.Partial(index=index, start_s=start, end_s=heard_to, text=text)
            await self.rt.publish(bus.results_subject(self.id), pb.JobEvent(job_id=self.id, partial=partial),
                                  f"partial:{self.id}:{index}:{heard_to:.2f}")
            if self.first_partial_of != index:
                self.first_partial_of = index
                PARTIAL_LATENCY.observe(max(0.0, time.time() - self._wall_of(start)))

    # ---- lease and state -----------------------------------------------------------------------
    def _lag(self) -> float:
        """How far analysis is behind the source: the oldest speech still waiting for Whisper."""
        return max(0.0, time.time() - min(self.waiting)) if self.waiting else 0.0

    def _clock(self) -> ev.StreamClock:
        """How far the stream is settled: every utterance that ends before this media time has been
        published (speech still heard or waiting for Whisper starts after it)."""
        pending = [*self.waiting_from, *([self.endpointer.start_s] if self.endpointer.start_s is not None else [])]
        settled = min([self.buffer.end_s, *pending]) if self.got_media else self.media_s
        return ev.StreamClock(stream_id=self.id, media_s=settled, cut_index=self.next_index,
                              down=self.state == pb.STREAM_RECONNECTING)

    def _lease(self, expires_at: float) -> ev.StreamLease:
        return ev.StreamLease(owner=self.owner, expires_at=expires_at, renewed_at=time.time(),
                              media_s=self.media_s, next_index=self.next_index, language=self.language,
                              recent=self.recent, reconnects=self.reconnects, voices=self.voices)

    async def _renew(self) -> None:
        """Keep the lease, checkpoint how far the stream got, and notice StopStream or a cancel."""
        every = max(0.5, self.s.lease_ttl_s / 4)
        while True:
            try:
                await self._write_lease(self._lease(time.time() + self.s.lease_ttl_s))
                clock = self._clock()  # the pulse's clock: it decides pulses and alerts in media time
                await self.rt.publish(bus.clock_subject(self.id), clock,
                                      f"clock:{self.id}:{clock.media_s:.3f}:{clock.cut_index}:{clock.down:d}")
                lag = self._lag()
                LAG.labels(self.id).set(lag)
                if (lag > self.s.lag_warning_s) != self.lagging:
                    self.lagging = lag > self.s.lag_warning_s
                    await self._set_state(self.state, f"behind real time by {lag:.1f} s: partials paused"
                                          if self.lagging else "")
                job = await self._update_job(lambda s: setattr(s, "lag_s", lag))
                if job is None or job.state in bus.TERMINAL or job.stream.stop_requested:
                    self.stop_reason = (job.stream.stop_reason if job is not None else "") or "stopped by a user"
                    self.stop_requested.set()
            except LeaseLost:
                raise
            except Exception as exc:  # NATS away for a moment: the lease outlives a few misses
                self.rt.log.warning("renewing failed: %s", exc, extra=self.log_extra)
            await asyncio.sleep(every)

    async def _write_lease(self, lease: ev.StreamLease) -> None:
        try:
            self.revision = await self.leases.update(self.id, lease.SerializeToString(), last=self.revision)
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            raise LeaseLost() from None
        except BadRequestError as exc:
            if "wrong last sequence" in str(exc):
                raise LeaseLost() from None
            raise

    async def _release(self, delete: bool) -> None:
        """Delete the lease (the stream is over), or let it expire now (another replica takes over)."""
        try:
            if delete:
                await self.leases.delete(self.id)
            else:
                await self._write_lease(self._lease(expires_at=0.0))
        except Exception as exc:  # it expires by itself anyway
            self.rt.log.warning("could not release the lease: %s", exc, extra=self.log_extra)

    async def _update_job(self, change) -> pb.Job | None:
        def apply(job: pb.Job) -> None:
            stream = job.stream
            stream.state, stream.detail, stream.owner = self.state, self.detail, self.owner
            stream.media_seconds, stream.reconnects, stream.gap_seconds = self.media_s, self.reconnects, self.gap_s
            job.media_seconds_done = self.media_s
            change(stream)
        self.job = await self.rt.jobs.update(self.id, apply) or self.job
        return self.job

    def _count_state(self, state: int | None) -> None:
        if state is None:
            _SESSIONS.pop(self.id, None)
            for gauge in (UP, LAG):
                with contextlib.suppress(KeyError):
                    gauge.remove(self.id)
        else:
            _SESSIONS[self.id] = state
            UP.labels(self.id).set(1 if state == pb.STREAM_LIVE else 0)
        for value, name in STATE_NAMES.items():
            STREAMS.labels(name).set(sum(1 for s in _SESSIONS.values() if s == value))

    async def _set_state(self, state: int, detail: str, gap: tuple[float, float] = (0.0, 0.0)) -> None:
        """Record a state change and tell the stream's subscribers."""
        if (state, detail, gap) == (self.state, self.detail, (0.0, 0.0)):
            return
        self.state, self.detail = state, detail
        self._count_state(state)
        await self._update_job(lambda s: None)
        status = pb.StreamStatus(state=state, detail=detail, lag_s=self._lag(), media_s=self.media_s,
                                 gap_from_s=gap[0], gap_to_s=gap[1])
        await self.rt.publish(bus.results_subject(self.id), pb.JobEvent(job_id=self.id, stream_state=status),
                              f"state:{self.id}:{time.time_ns()}")
        self.rt.log.info("stream %s%s", pb.StreamState.Name(state), f": {detail}" if detail else "",
                         extra=self.log_extra)

    async def _gap(self, from_s: float, to_s: float, why: str) -> None:
        if to_s <= from_s:
            return
        self.gap_s += to_s - from_s
        self.media_s = to_s
        await self._set_state(self.state, f"{why}: {live.describe_gap(from_s, to_s)}", (from_s, to_s))

    async def _end(self, state: int, reason: str, detail: str) -> None:
        """The stream is over: record it, then let fusion finish it (its summary ends every Subscribe)."""
        await self._flush_recording()
        try:
            recording = await asyncio.to_thread(self._assemble_recording)
        except Exception as exc:  # the analysis stands without it; the segments stay in storage
            self.rt.log.error("could not assemble the recording: %s", exc, extra=self.log_extra)
            recording = ""

        def finish(stream: pb.Stream) -> None:
            stream.reason, stream.recording_uri = reason, recording
        await self._update_job(finish)
        await self._set_state(state, detail)
        note = f"the stream failed: {reason}" if state == pb.STREAM_FAILED else ("" if self.next_index else "no speech detected")
        done = ev.TranscriptDone(job_id=self.id, utterance_count=self.next_index, duration_s=self.media_s,
                                 language=self.language, note=note, reaction_count=self.next_reaction)
        await self.rt.publish(bus.utterances_subject(self.id), ev.UtteranceEvent(done=done), f"done:{self.id}")
        await self._release(delete=True)
        self.rt.log.info("stream over (%s): %d utterances", pb.StreamState.Name(state), self.next_index,
                         extra=self.log_extra)

    def _assemble_recording(self) -> str:
        """The recorded segments and pictures (this holder's and any before it) as one file."""
        store, prefix = self.rt.store, self.rt.store.recording(self.id)
        names = store.list_names(prefix)

        def timed(kind: str, suffix: str) -> list[tuple[float, str]]:  # <prefix><kind>/<ms><suffix>
            return [(int(Path(n).stem) / 1000, n) for n in names
                    if n.startswith(f"{prefix}{kind}/") and n.endswith(suffix)]

        def read(name: str) -> bytes:
            return store.read_object(store.uri_of(name))
        audio, pictures = timed("audio", ".pcm16"), timed("frames", ".jpg")
        size = None
        if pictures:
            first = vision.decode_jpeg(read(pictures[0][1]))
            size = (first.shape[1], first.shape[0])
        fd, tmp = tempfile.mkstemp(dir=store.tmp_dir, suffix=".mkv")
        os.close(fd)
        try:
            write_recording(tmp, ((t, read(n)) for t, n in audio), ((t, read(n)) for t, n in pictures), size)
            return store.put_file(f"{prefix}recording.mkv", Path(tmp))
        finally:
            Path(tmp).unlink(missing_ok=True)


_SESSIONS: dict[str, int] = {}  # stream id -> state, for the per-state gauge
