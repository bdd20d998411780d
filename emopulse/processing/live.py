"""Live streams, the pure parts: where an utterance ends while audio keeps coming, how long to wait
before reconnecting, and which recorded pictures belong to an utterance.

The ingest service feeds these with audio as it arrives; nothing here does I/O, so every rule is
tested on synthetic input.
"""
from __future__ import annotations

import bisect
import functools
import random
from dataclasses import dataclass, field

import numpy as np

from emopulse.labels import SAMPLE_RATE
from emopulse.v1 import results_pb2 as pb

WINDOW = 512        # silero VAD window: 32 ms at 16 kHz
CONTEXT = 64        # samples of the previous window silero looks at


@functools.lru_cache(maxsize=1)
def _silero():
    from faster_whisper.vad import get_vad_model
    return get_vad_model()


class StreamingVad:
    """Speech probability per 32 ms window of audio that arrives in blocks of any size (silero VAD,
    the copy faster-whisper ships). Each window sees the 64 samples before it, as in whole-file use."""

    def __init__(self):
        self.pending = np.zeros(0, np.float32)
        self.context = np.zeros(CONTEXT, np.float32)
        self.windows = 0  # windows scored so far

    def feed(self, samples: np.ndarray) -> list[tuple[float, float]]:
        """New samples -> (end time in seconds since the first sample, probability) per whole window."""
        x = np.concatenate([self.pending, np.asarray(samples, np.float32).reshape(-1)])
        n = len(x) // WINDOW
        self.pending = x[n * WINDOW:]
        if n == 0:
            return []
        windows = x[: n * WINDOW].reshape(n, WINDOW)
        contexts = np.concatenate([self.context[None], windows[:-1, -CONTEXT:]])
        self.context = windows[-1, -CONTEXT:].copy()
        model = _silero()
        h = np.zeros((1, 1, 128), np.float32)
        probs = model.session.run(None, {"input": np.concatenate([contexts, windows], 1), "h": h, "c": h})[0]
        probs = np.asarray(probs, np.float32).reshape(n, -1)[:, -1] if np.ndim(probs) > 1 else np.asarray(probs).reshape(-1)
        first = self.windows
        self.windows += n
        return [((first + i + 1) * WINDOW / SAMPLE_RATE, float(p)) for i, p in enumerate(probs)]


@dataclass(frozen=True)
class SpeechStarted:
    start_s: float


@dataclass(frozen=True)
class SpeechEnded:
    start_s: float
    end_s: float
    forced: bool = False        # cut at max_utterance_s while the speaker went on


@dataclass
class Endpointer:
    """Per-window speech probabilities -> utterance starts and ends (hysteresis, like silero's own
    timestamps): speech begins above `threshold`, continues above `threshold - 0.15`, and ends after
    `endpoint_s` without it. Speech shorter than `min_speech_s` is a click, not an utterance; an
    utterance longer than `max_utterance_s` is cut there and the next one starts at once."""
    endpoint_s: float = 0.5
    max_utterance_s: float = 15.0
    threshold: float = 0.5
    min_speech_s: float = 0.25
    pad_s: float = 0.1
    start_s: float | None = None      # the utterance in progress, if any
    last_voice_s: float = 0.0
    announced: bool = False
    floor_s: float = 0.0              # an utterance never starts before the previous one ended

    @property
    def in_speech(self) -> bool:
        return self.announced

    def add(self, t: float, p: float) -> list[SpeechStarted | SpeechEnded]:
        """One window ending at media time t with speech probability p."""
        window_s = WINDOW / SAMPLE_RATE
        out: list[SpeechStarted | SpeechEnded] = []
        if self.start_s is None:
            if p >= self.threshold:
                self.start_s, self.last_voice_s = max(self.floor_s, t - window_s - self.pad_s), t
            return out
        if p >= self.threshold - 0.15:
            self.last_voice_s = t
        if not self.announced and self.last_voice_s - self.start_s >= self.min_speech_s + self.pad_s:
            self.announced = True
            out.append(SpeechStarted(self.start_s))
        if t - self.last_voice_s >= self.endpoint_s:
            if self.announced:
                end = min(self.last_voice_s + self.pad_s, t)
                out.append(SpeechEnded(self.start_s, end))
                self.floor_s = end
            self._reset()
        elif self.announced and t - self.start_s >= self.max_utterance_s:
            out.append(SpeechEnded(self.start_s, t, forced=True))
            self.floor_s = t
            self.start_s, self.last_voice_s = t, t
            out.append(SpeechStarted(t))
        return out

    def flush(self, t: float) -> list[SpeechEnded]:
        """The audio ended at t: an utterance in progress ends there."""
        out = [SpeechEnded(self.start_s, min(t, self.last_voice_s + self.pad_s))] if self.announced else []
        self._reset()
        return out

    def _reset(self) -> None:
        self.start_s, self.announced = None, False


@dataclass
class AudioBuffer:
    """The recent audio of a stream on its media clock (enough to cut the utterance in progress)."""
    start_s: float = 0.0
    samples: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.samples) / SAMPLE_RATE

    def add(self, samples: np.ndarray) -> None:
        self.samples = np.concatenate([self.samples, np.asarray(samples, np.float32)])

    def span(self, start_s: float, end_s: float) -> np.ndarray:
        a = max(0, int(round((start_s - self.start_s) * SAMPLE_RATE)))
        b = max(a, int(round((end_s - self.start_s) * SAMPLE_RATE)))
        return self.samples[a:b].copy()

    def forget_before(self, t: float) -> None:
        drop = int((t - self.start_s) * SAMPLE_RATE)
        if drop > 0:
            self.samples = self.samples[drop:]
            self.start_s += drop / SAMPLE_RATE

    def jump_to(self, t: float) -> None:
        """A gap in the media: what follows starts at t (earlier audio is of no further use)."""
        self.samples, self.start_s = np.zeros(0, np.float32), t


@dataclass
class Backoff:
    """Jittered exponential waits between reconnects, until `budget_s` of trying is spent."""
    budget_s: float = 60.0
    first_s: float = 0.5
    max_delay_s: float = 8.0
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0
    since: float | None = None       # when the source was first lost (monotonic seconds)

    def next_delay(self, now: float) -> float | None:
        """How long to wait before the next attempt, or None when the budget is spent."""
        if self.since is None:
            self.since = now
        if now - self.since >= self.budget_s:
            return None
        delay = min(self.max_delay_s, self.first_s * 2 ** self.attempts)
        self.attempts += 1
        delay *= self.rng.uniform(0.5, 1.0)  # replicas retrying one source do not hit it in step
        return min(delay, max(0.0, self.budget_s - (now - self.since)))

    def reset(self) -> None:
        self.attempts, self.since = 0, None


def frames_for(frames: list[tuple[float, str]], start_s: float, end_s: float, max_frames: int) -> list[tuple[float, str]]:
    """The recorded pictures (time, uri), in time order, that show an utterance: at most
    `max_frames`, spread evenly over the span; the nearest one before it when none falls inside."""
    times = [t for t, _ in frames]
    a, b = bisect.bisect_left(times, start_s), bisect.bisect_right(times, end_s)
    inside = frames[a:b]
    if not inside:
        return [frames[a - 1]] if a > 0 else []
    if len(inside) <= max_frames:
        return inside
    picks = np.linspace(0, len(inside) - 1, max_frames).round().astype(int)
    return [inside[i] for i in sorted(set(picks.tolist()))]


def describe_gap(from_s: float, to_s: float) -> str:
    return f"no media from {from_s:.1f} s to {to_s:.1f} s ({to_s - from_s:.1f} s)"


def request_stop(stream: pb.Stream, why: str) -> None:
    """Ask the stream's owner to end it (it ends with ``why`` as its last detail); the first reason stays."""
    if not stream.stop_requested:
        stream.stop_requested, stream.stop_reason = True, why


def stream_view(job: pb.Job) -> pb.Stream:
    """A live stream as the API shows it: its own record, with what the job it runs as knows."""
    stream = pb.Stream()
    stream.CopyFrom(job.stream)
    stream.id, stream.language, stream.utterances = job.id, job.language, job.utterances_fused
    stream.created_at, stream.updated_at = job.created_at, job.updated_at
    if job.state in (pb.FAILED, pb.CANCELLED) and stream.state not in (pb.STREAM_ENDED, pb.STREAM_FAILED):
        stream.state = pb.STREAM_FAILED if job.state == pb.FAILED else pb.STREAM_ENDED
        stream.reason = stream.reason or job.reason
    return stream
