"""Local media files: probe, decode audio (whole or streamed), voice activity, and chunking of speech.

Every failure a user can cause with a bad file surfaces as :class:`MediaError`, whose message is one
sentence saying what is wrong with the file (never a raw FFmpeg/PyAV error).

Truncated files — decided policy:
  * an MP4 cut short before its index (``moov``) cannot be opened at all: ``probe`` and
    ``decode_audio`` raise "the file is truncated or corrupt …";
  * a file that opens but whose audio stops decoding early (bad packets, or the decoded audio is
    clearly shorter than the duration the container declares) raises
    "the audio track is truncated or corrupt …" — analysing only a silent prefix of a damaged upload
    would give a misleading result, so we refuse rather than return part of it. Streamed decoding
    (``audio_blocks``) can only tell at the end: it raises after the last block it could decode, so
    a consumer must treat what it already got from such a file as void.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from emopulse.labels import SAMPLE_RATE

__all__ = [
    "MediaError",
    "MediaInfo",
    "probe",
    "audio_blocks",
    "decode_audio",
    "to_pcm16",
    "from_pcm16",
    "speech_regions",
    "group_regions",
    "SpeechChunk",
    "SpeechChunks",
    "speech_chunks",
    "split_segment_words",
]


class MediaError(ValueError):
    """A media file that cannot be used; the message is one sentence a user can act on."""


@dataclass(frozen=True)
class MediaInfo:
    duration_s: float
    has_audio: bool
    has_video: bool
    width: int | None = None
    height: int | None = None
    fps: float | None = None


# ---------------------------------------------------------------- opening


def _looks_like_iso_bmff(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide")


def _open(path: str | os.PathLike):
    """Open a container with PyAV, turning every failure into a MediaError."""
    import av

    p = Path(path)
    if not p.exists():
        raise MediaError(f"the file {p.name!r} does not exist")
    if p.is_dir():
        raise MediaError(f"{p.name!r} is a folder, not a media file")
    if p.stat().st_size == 0:
        raise MediaError("the file is empty")
    try:
        container = av.open(str(p), mode="r", timeout=30)
    except av.error.FFmpegError as e:
        if _looks_like_iso_bmff(p):
            raise MediaError(
                "the file is truncated or corrupt (it starts like an MP4 but its index is missing); "
                "upload the complete file again"
            ) from e
        raise MediaError(
            f"the file is not a readable audio/video container ({_reason(e)})"
        ) from e
    except (OSError, UnicodeDecodeError) as e:
        raise MediaError(f"the file could not be read ({_reason(e)})") from e
    if not container.streams.audio and not container.streams.video:
        container.close()
        raise MediaError("the file is not a readable audio/video container (it has no audio or video track)")
    return container


def _reason(e: BaseException) -> str:
    msg = getattr(e, "strerror", None) or str(e) or type(e).__name__
    msg = re.sub(r"^\[Errno [-\d]+\]\s*", "", str(msg))
    msg = msg.split(":")[0].strip()
    return msg[:1].lower() + msg[1:] if msg else type(e).__name__


def _stream_seconds(stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


def probe(path: str | os.PathLike) -> MediaInfo:
    """Container facts without decoding. Raises MediaError for empty, non-media or unreadable files."""
    with _open(path) as c:
        durations = [d for d in (_stream_seconds(s) for s in c.streams if s.type in ("audio", "video")) if d]
        if c.duration is not None:
            duration = c.duration / 1_000_000
        elif durations:
            duration = max(durations)
        else:
            duration = 0.0
        v = c.streams.video[0] if c.streams.video else None
        width = height = fps = None
        if v is not None:
            width, height = v.codec_context.width or None, v.codec_context.height or None
            rate = v.average_rate or v.base_rate or v.guessed_rate
            fps = float(rate) if rate else None
        return MediaInfo(
            duration_s=float(duration),
            has_audio=bool(c.streams.audio),
            has_video=v is not None,
            width=width,
            height=height,
            fps=fps,
        )


# ---------------------------------------------------------------- audio


def audio_blocks(
    path: str | os.PathLike, block_s: float = 60.0, sample_rate: int = SAMPLE_RATE
) -> Iterator[np.ndarray]:
    """The first audio track as consecutive float32 mono blocks of exactly ``block_s`` seconds at
    ``sample_rate`` (the last one shorter), in [-1, 1]; at most about one block is held at a time.

    Raises MediaError like :func:`decode_audio` — on the first ``next()`` for files that cannot be
    opened, and after the last block when the track turns out truncated (see the module docstring).
    """
    import av

    block_n = max(1, round(block_s * sample_rate))
    with _open(path) as c:
        if not c.streams.audio:
            raise MediaError("the file has no audio track")
        stream = c.streams.audio[0]
        stream.thread_type = "AUTO"
        declared = _stream_seconds(stream)
        if declared is None and c.duration is not None:
            declared = c.duration / 1_000_000
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        pending: list[np.ndarray] = []  # decoded samples not yet yielded (less than one block)
        held = done = 0  # samples in pending, samples yielded

        def decoded():
            for frame in c.decode(stream):
                yield from resampler.resample(frame)
            yield from resampler.resample(None)

        frames = decoded()
        while True:
            try:
                out = next(frames, None)
            except av.error.FFmpegError as e:
                total = f" of {declared:.1f} s" if declared else ""
                raise MediaError(
                    f"the audio track is truncated or corrupt "
                    f"(decoding stopped at {(done + held) / sample_rate:.1f} s{total})"
                ) from e
            if out is not None:
                pending.append(out.to_ndarray().reshape(-1))
                held += len(pending[-1])
            while held >= block_n or (out is None and held):
                x = np.concatenate(pending).astype(np.float32, copy=False)
                block, rest = x[:block_n], x[block_n:].copy()  # copy: the block must not pin the rest
                pending, held = ([rest], len(rest)) if len(rest) else ([], 0)
                done += len(block)
                yield np.clip(block, -1.0, 1.0, out=block)
            if out is None:
                break
    got = done / sample_rate
    if declared and declared > 1.0 and got < declared - max(1.0, 0.1 * declared):
        raise MediaError(
            f"the audio track is truncated or corrupt (only {got:.1f} s of {declared:.1f} s could be decoded)"
        )


def decode_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The first audio track as float32 mono at ``sample_rate`` (16 kHz) in [-1, 1].

    Raises MediaError when there is no audio track, when it cannot be decoded, or when it is
    truncated (see the module docstring for the policy).
    """
    blocks = list(audio_blocks(path, sample_rate=sample_rate))
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def to_pcm16(x: np.ndarray) -> bytes:
    """float samples in [-1, 1] → little-endian signed 16-bit PCM bytes (clipped)."""
    a = np.clip(np.asarray(x, dtype=np.float32), -1.0, 1.0)
    return np.round(a * 32767.0).astype("<i2").tobytes()


def from_pcm16(b: bytes) -> np.ndarray:
    """little-endian signed 16-bit PCM bytes → float32 samples in [-1, 1]."""
    if len(b) % 2:
        raise ValueError("PCM16 data must have an even number of bytes")
    x = np.frombuffer(b, dtype="<i2").astype(np.float32) / 32767.0
    return np.maximum(x, -1.0, out=x)


# ---------------------------------------------------------------- voice activity


def speech_regions(
    x: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    *,
    threshold: float = 0.5,
    min_speech_duration_ms: int = 250,
    min_silence_duration_ms: int = 400,
    speech_pad_ms: int = 200,
) -> list[tuple[float, float]]:
    """Speech (start_s, end_s) regions found by the silero VAD bundled with faster-whisper."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if sample_rate != SAMPLE_RATE and x.size:
        from scipy.signal import resample_poly

        g = math.gcd(int(sample_rate), SAMPLE_RATE)
        x = resample_poly(x, SAMPLE_RATE // g, int(sample_rate) // g).astype(np.float32)
    if x.size < 512:  # shorter than one VAD window
        return []
    opts = VadOptions(
        threshold=threshold,
        min_speech_duration_ms=min_speech_duration_ms,
        min_silence_duration_ms=min_silence_duration_ms,
        speech_pad_ms=speech_pad_ms,
    )
    stamps = get_speech_timestamps(x, opts, sampling_rate=SAMPLE_RATE)
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


def group_regions(
    regions: list[tuple[float, float]], max_len_s: float, max_gap_s: float
) -> list[tuple[float, float]]:
    """Merge neighbouring regions (gap ≤ ``max_gap_s``) into chunks no longer than ``max_len_s``.

    A region longer than ``max_len_s`` is first cut into equal pieces of at most ``max_len_s``.
    Input order does not matter; empty/inverted regions are dropped; overlaps are merged.
    """
    grouper = _Grouper(max_len_s, max_gap_s)
    closed = [c for s, e in sorted((float(a), float(b)) for a, b in regions) for c in grouper.add(s, e)]
    return [(c.start_s, c.end_s) for c in closed + grouper.close()]


@dataclass
class _Group:
    start_s: float
    end_s: float
    regions: list[tuple[float, float]]


class _Grouper:
    """The rules of :func:`group_regions`, fed one region at a time in start order."""

    def __init__(self, max_len_s: float, max_gap_s: float):
        if max_len_s <= 0:
            raise ValueError("max_len_s must be positive")
        self.max_len_s, self.max_gap_s = max_len_s, max_gap_s
        self.open: _Group | None = None

    def add(self, s: float, e: float) -> list[_Group]:
        """Take one region; return the chunks it closed."""
        if e <= s:
            return []
        closed = []
        n = max(1, math.ceil((e - s) / self.max_len_s - 1e-9))
        step = (e - s) / n
        for i in range(n):
            ps, pe = s + i * step, e if i == n - 1 else s + (i + 1) * step
            g = self.open
            if g is not None:
                if ps - g.end_s <= self.max_gap_s and max(pe, g.end_s) - g.start_s <= self.max_len_s + 1e-9:
                    g.end_s = max(pe, g.end_s)
                    g.regions.append((ps, pe))
                    continue
                ps = max(ps, g.end_s)  # never overlap the previous chunk
                if pe <= ps:
                    continue
                closed.append(g)
            self.open = _Group(ps, pe, [(ps, pe)])
        return closed

    def close(self, unless_growable_at: float | None = None) -> list[_Group]:
        """Close the open chunk — or, given the earliest start a later region can have, only when
        no such region could still merge into it."""
        g = self.open
        if g is None or (
            unless_growable_at is not None
            and unless_growable_at - g.end_s <= self.max_gap_s
            and unless_growable_at - g.start_s < self.max_len_s + 1e-9
        ):
            return []
        self.open = None
        return [g]


#: Speech regions closer than this share a Whisper chunk (the transcriber's and the benchmark's rule).
CHUNK_MAX_GAP_S = 1.0
#: A chunk starting this close to the previous one's end continues its speech (a cut through speech).
CONTIGUOUS_S = 0.05

@dataclass(frozen=True, eq=False)  # eq: comparing the sample arrays element-wise is never meant
class SpeechChunk:
    """One stretch of audio to transcribe: ``samples`` is the audio of [start_s, end_s) and
    ``regions`` the speech regions inside it (absolute seconds)."""

    start_s: float
    end_s: float
    samples: np.ndarray
    regions: list[tuple[float, float]]


# Audio after a region's end that the VAD must have seen before that end is settled: its minimum
# silence (0.4 s) plus padding on both sides (2 × 0.2 s), with room to spare.
_VAD_SETTLE_S = 1.5
# Audio before a forced cut that the next pass reads again: started fresh inside speech, the VAD
# misses its first few hundred milliseconds.
_VAD_WARM_UP_S = 1.0


class SpeechChunks:
    """Iterator of :class:`SpeechChunk` from streamed audio blocks; see :func:`speech_chunks`.

    While iterating, ``duration_s`` is the audio analysed so far (seconds) and ``region_count`` the
    speech regions settled so far; once exhausted they are the totals.
    """

    def __init__(
        self, blocks: Iterable[np.ndarray], max_len_s: float, max_gap_s: float, max_carry_s: float, sample_rate: int
    ):
        self.duration_s = 0.0
        self.region_count = 0
        self._chunks = self._run(iter(blocks), _Grouper(max_len_s, max_gap_s), max_carry_s, sample_rate)

    def __iter__(self) -> SpeechChunks:
        return self

    def __next__(self) -> SpeechChunk:
        return next(self._chunks)

    def _run(self, blocks, grouper: _Grouper, max_carry_s: float, rate: int) -> Iterator[SpeechChunk]:
        kept = np.zeros(0, np.float32)  # audio from min(open chunk's start, vad_from) to the end so far
        kept_at = 0  # sample index of kept[0]
        vad_from = 0  # sample index where the next VAD pass starts: no region before it is still open
        settled_to = 0.0  # end of the last settled region, seconds

        def chunk(g: _Group) -> SpeechChunk:
            a, b = int(g.start_s * rate) - kept_at, int(g.end_s * rate) - kept_at
            return SpeechChunk(g.start_s, g.end_s, kept[a:b].copy(), g.regions)

        block = next(blocks, None)
        while block is not None:
            kept = np.concatenate([kept, np.asarray(block, np.float32).reshape(-1)])
            self.duration_s += len(block) / rate
            block = next(blocks, None)  # read ahead: the last block needs no carry-over
            end_s = (kept_at + len(kept)) / rate
            found = [
                (max(s + vad_from / rate, settled_to), e + vad_from / rate)
                for s, e in speech_regions(kept[vad_from - kept_at :], rate)
            ]
            settled, next_from = found, end_s
            if block is not None:
                # A region ending near the block's end may go on in the next block: analyse it again
                # from its start with the next block appended — unless it has run on for more than
                # max_carry_s, which bounds memory: then it is cut here and continues as a new region.
                cut = next_from = end_s - _VAD_SETTLE_S
                settled = [r for r in found if r[1] < cut]
                open_ = found[len(settled):]
                if open_ and open_[0][0] >= cut - max_carry_s:
                    next_from = open_[0][0]
                elif open_:
                    settled.append((open_[0][0], cut))
                    next_from = cut - _VAD_WARM_UP_S  # what it finds before the cut is clipped away
            for s, e in settled:
                if e > s:
                    self.region_count += 1
                    settled_to = e
                    yield from map(chunk, grouper.add(s, e))
            # start the next pass on the VAD's 32 ms window grid, so its windows are the whole file's
            window = round(0.032 * rate)
            vad_from = max(vad_from, int(next_from * rate) // window * window)
            horizon = max(vad_from / rate, settled_to)  # no later region can start before this
            yield from map(chunk, grouper.close(unless_growable_at=horizon if block is not None else None))
            keep_from = min(vad_from, int(grouper.open.start_s * rate) if grouper.open else vad_from)
            kept, kept_at = kept[keep_from - kept_at :].copy(), keep_from


def speech_chunks(
    blocks: Iterable[np.ndarray],
    max_len_s: float,
    max_gap_s: float,
    *,
    max_carry_s: float = 60.0,
    sample_rate: int = SAMPLE_RATE,
) -> SpeechChunks:
    """Voice activity and chunking of consecutive audio ``blocks`` (e.g. :func:`audio_blocks`) in
    memory that does not grow with the total length: at most ``max_carry_s`` (+1.5 s) of carried
    audio, the block being analysed, the one read ahead, and the chunk still open.

    Yields the chunks :func:`group_regions` would make of the whole audio's :func:`speech_regions`
    (same rules, same order; region edges within a few hundredths of a second, so a chunk boundary
    can only differ where a merge is that close to ``max_len_s`` or ``max_gap_s``), each as soon as
    no later region can merge into it. A region still open at a block's end is analysed again from
    its start with the next block, so regions are not cut at block edges — except speech running on
    for more than ``max_carry_s`` without a pause, which is cut there and chunked in parts. The
    result depends only on the audio and the block sizes, so chunk numbers are stable between runs.
    The returned iterator's ``duration_s`` and ``region_count`` tell how much audio was analysed and
    how many speech regions it held.
    """
    return SpeechChunks(blocks, max_len_s, max_gap_s, max_carry_s, sample_rate)


_SENTENCE_END = re.compile(r"[.!?…;:]['\")\]]*$")
_CLAUSE_END = re.compile(r"[,—–-]['\")\]]*$")


def split_segment_words(
    words: list[tuple[str, float, float]], max_len_s: float
) -> list[list[tuple[str, float, float]]]:
    """Split one utterance's words [(text, start, end)] into pieces of at most ``max_len_s`` seconds,
    cutting only at word boundaries.

    Each cut is at the boundary with the best score: the silence between the words, plus a bonus
    after sentence punctuation (.!?;:) and a smaller one after a comma, minus a small penalty for
    unbalanced pieces. Pieces are split again until they fit. A single word longer than
    ``max_len_s`` cannot be split and is returned as its own piece.
    """
    if max_len_s <= 0:
        raise ValueError("max_len_s must be positive")
    words = [(str(t), float(s), float(e)) for t, s, e in words]
    if not words:
        return []

    def split(ws):
        if len(ws) <= 1 or ws[-1][2] - ws[0][1] <= max_len_s:
            return [ws]
        total = ws[-1][2] - ws[0][1]
        best, best_score = 1, -math.inf
        for k in range(1, len(ws)):
            prev, nxt = ws[k - 1], ws[k]
            score = max(0.0, nxt[1] - prev[2])
            text = prev[0].strip()
            if _SENTENCE_END.search(text):
                score += 0.5
            elif _CLAUSE_END.search(text):
                score += 0.2
            left, right = prev[2] - ws[0][1], ws[-1][2] - nxt[1]
            score -= 0.1 * abs(left - right) / total
            # prefer cuts after which both sides fit (fewer further cuts)
            score += 0.05 * ((left <= max_len_s) + (right <= max_len_s))
            if score > best_score:
                best, best_score = k, score
        return split(ws[:best]) + split(ws[best:])

    return split(words)
