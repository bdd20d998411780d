"""Local media files: probe, decode audio, voice activity, and chunking of speech.

Every failure a user can cause with a bad file surfaces as :class:`MediaError`, whose message is one
sentence saying what is wrong with the file (never a raw FFmpeg/PyAV error).

Truncated files — decided policy:
  * an MP4 cut short before its index (``moov``) cannot be opened at all: ``probe`` and
    ``decode_audio`` raise "the file is truncated or corrupt …";
  * a file that opens but whose audio stops decoding early (bad packets, or the decoded audio is
    clearly shorter than the duration the container declares) raises
    "the audio track is truncated or corrupt …" — analysing only a silent prefix of a damaged upload
    would give a misleading result, so we refuse rather than return part of it.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emopulse.labels import SAMPLE_RATE

__all__ = [
    "MediaError",
    "MediaInfo",
    "probe",
    "decode_audio",
    "to_pcm16",
    "from_pcm16",
    "speech_regions",
    "group_regions",
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


def decode_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The first audio track as float32 mono at ``sample_rate`` (16 kHz) in [-1, 1].

    Raises MediaError when there is no audio track, when it cannot be decoded, or when it is
    truncated (see the module docstring for the policy).
    """
    import av

    with _open(path) as c:
        if not c.streams.audio:
            raise MediaError("the file has no audio track")
        stream = c.streams.audio[0]
        stream.thread_type = "AUTO"
        declared = _stream_seconds(stream)
        if declared is None and c.duration is not None:
            declared = c.duration / 1_000_000
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []

        def take(frames) -> None:
            for out in frames:
                chunks.append(out.to_ndarray().reshape(-1))

        try:
            for frame in c.decode(stream):
                take(resampler.resample(frame))
            take(resampler.resample(None))
        except av.error.FFmpegError as e:
            got = sum(len(x) for x in chunks) / sample_rate
            total = f" of {declared:.1f} s" if declared else ""
            raise MediaError(
                f"the audio track is truncated or corrupt (decoding stopped at {got:.1f} s{total})"
            ) from e
    x = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    got = len(x) / sample_rate
    if declared and declared > 1.0 and got < declared - max(1.0, 0.1 * declared):
        raise MediaError(
            f"the audio track is truncated or corrupt (only {got:.1f} s of {declared:.1f} s could be decoded)"
        )
    np.clip(x, -1.0, 1.0, out=x)
    return x


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
    if max_len_s <= 0:
        raise ValueError("max_len_s must be positive")
    pieces: list[tuple[float, float]] = []
    for s, e in sorted((float(a), float(b)) for a, b in regions):
        if e <= s:
            continue
        n = max(1, math.ceil((e - s) / max_len_s - 1e-9))
        step = (e - s) / n
        pieces.extend((s + i * step, e if i == n - 1 else s + (i + 1) * step) for i in range(n))
    out: list[tuple[float, float]] = []
    for s, e in pieces:
        if out:
            cs, ce = out[-1]
            if s - ce <= max_gap_s and max(e, ce) - cs <= max_len_s + 1e-9:
                out[-1] = (cs, max(e, ce))
                continue
            s = max(s, ce)  # never overlap the previous chunk
            if e <= s:
                continue
        out.append((s, e))
    return out


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
