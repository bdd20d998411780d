"""Live sources read with PyAV (FFmpeg inside): a URL pulled, or container bytes pushed to us.

`read(...)` yields the stream as it arrives: audio resampled to 16 kHz mono in blocks, and pictures
sampled at the vision rate (as JPEG). Times are the source's own clock from its first packet, in
seconds; the caller maps them onto the stream's media clock. It blocks: run it in a thread.
"""
from __future__ import annotations

import functools
import queue
import threading
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import urlparse

import numpy as np

from emopulse.labels import SAMPLE_RATE
from emopulse.quoting import quoted

SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "srt", "http", "https")


class SourceError(Exception):
    """The source could not be opened or stopped mid-stream; `why` says how, for a user."""

    def __init__(self, why: str, source: str = ""):
        super().__init__(f"{source} {why}".strip())
        self.why = why


@dataclass
class AudioBlock:
    t: float                 # source time of the first sample
    samples: np.ndarray      # float32 mono 16 kHz


@dataclass
class Picture:
    t: float
    jpeg: bytes


def check_url(url: str) -> str:
    """A URL we can pull, or ValueError saying what is accepted."""
    parsed = urlparse(url)
    if parsed.scheme not in SCHEMES or not parsed.netloc:
        raise ValueError(f"cannot pull {quoted(url)}: give rtsp://, rtmp://, srt://, or http(s):// "
                         "(an HLS .m3u8 playlist or an MPEG-TS stream)")
    if not protocol_built_in(parsed.scheme):
        raise ValueError(f"cannot pull {quoted(url)}: the FFmpeg inside this installation's PyAV is built without "
                         f"{parsed.scheme}; restream it as RTSP, RTMP or HLS, or install a PyAV built with it")
    return url


@functools.lru_cache(maxsize=None)
def protocol_built_in(scheme: str) -> bool:
    """Whether FFmpeg here knows the protocol (PyAV wheels, for one, come without libsrt)."""
    import av
    try:
        av.open(f"{scheme}://127.0.0.1:9/probe", timeout=(0.5, 0.5))
    except av.error.ProtocolNotFoundError:
        return False
    except Exception:  # refused, timed out, ...: the protocol itself is there
        return True
    return True


def demuxable(fmt: str) -> bool:
    """Whether FFmpeg (inside PyAV) can read pushed bytes of this container format."""
    import av
    try:
        return av.ContainerFormat(fmt).is_input
    except (ValueError, av.error.FFmpegError):
        return False


def ends_by_itself(url: str) -> bool:
    """A source whose end is the end of the stream: an HLS playlist ends with #EXT-X-ENDLIST (FFmpeg
    keeps reloading a live one). Any other live URL that stops is reconnected to."""
    return urlparse(url).path.lower().endswith(".m3u8")


def _options(url: str) -> dict[str, str]:
    scheme = urlparse(url).scheme
    if scheme.startswith("rtsp"):
        return {"rtsp_transport": "tcp"}
    if scheme.startswith("http"):
        return {"reconnect": "0", "seekable": "0"}
    return {}


def _jpeg(frame, max_width: int = 640) -> bytes:
    import cv2
    image = frame.to_ndarray(format="bgr24")
    if image.shape[1] > max_width:  # faces are found at this size; larger only costs storage
        scale = max_width / image.shape[1]
        image = cv2.resize(image, (max_width, int(image.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return data.tobytes() if ok else b""


def read(source, picture_every_s: float, timeout_s: float, fmt: str | None = None,
         block_s: float = 0.1, stop: threading.Event | None = None) -> Iterator[AudioBlock | Picture]:
    """Audio blocks and sampled pictures from `source` (a URL, or a file-like object of container
    bytes with its format `fmt`) until it ends. Raises SourceError when it cannot be opened or no
    packet comes for `timeout_s`."""
    import av

    label = source if isinstance(source, str) else f"pushed {fmt}"
    try:
        container = av.open(source, mode="r", format=fmt, timeout=(timeout_s, timeout_s),
                            options=_options(source) if isinstance(source, str) else {})
    except (av.error.FFmpegError, OSError) as exc:
        raise SourceError(_why(exc), label) from exc
    with container:
        audio = container.streams.audio[0] if container.streams.audio else None
        video = container.streams.video[0] if container.streams.video else None
        if audio is None and video is None:
            raise SourceError("carries neither audio nor video", label)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        first: float | None = None     # source time of the first packet: time 0
        audio_at: float | None = None  # source time of the next audio sample
        pending: list[np.ndarray] = []
        next_picture = 0.0
        block_n = int(block_s * SAMPLE_RATE)
        try:
            for packet in container.demux(*(s for s in (audio, video) if s is not None)):
                if stop is not None and stop.is_set():
                    return
                for frame in packet.decode():
                    if frame.time is None:
                        continue
                    first = frame.time if first is None else first
                    t = frame.time - first
                    if packet.stream is video:
                        if t >= next_picture:
                            next_picture = t + picture_every_s
                            yield Picture(t, _jpeg(frame))
                        continue
                    if audio_at is None:
                        audio_at = max(0.0, t)
                    for out in resampler.resample(frame):
                        pending.append(out.to_ndarray().reshape(-1).astype(np.float32))
                    if sum(len(p) for p in pending) >= block_n:
                        samples = np.concatenate(pending)
                        pending = []
                        yield AudioBlock(audio_at, samples)
                        audio_at += len(samples) / SAMPLE_RATE
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceError(f"stopped: {_why(exc)}", label) from exc
        if pending and audio_at is not None:
            yield AudioBlock(audio_at, np.concatenate(pending))


def play(path: str, picture_every_s: float, loop: bool = False,
         clock=None) -> Iterator[AudioBlock | Picture]:
    """A local file as a live source: its audio and pictures when they would be heard and seen,
    in real time from the first call (again and again with `loop`, times running on)."""
    import time

    clock = clock or time.monotonic
    started, offset = clock(), 0.0
    while True:
        end = offset
        for item in read(path, picture_every_s, timeout_s=30.0):
            item.t += offset
            end = max(end, item.t + (len(item.samples) / SAMPLE_RATE if isinstance(item, AudioBlock) else 0.0))
            wait = started + item.t - clock()
            if wait > 0:
                time.sleep(wait)
            yield item
        if not loop or end <= offset:
            return
        offset = end


def _why(exc: BaseException) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "refused the connection"
    if "timed out" in text.lower() or "Immediate exit requested" in text:
        return "did not answer (timed out)"
    if "Server returned 404" in text:
        return "not found (404)"
    return text.split(": '")[0] if text else type(exc).__name__


class Pipe:
    """Container bytes handed over from an async producer to PyAV's blocking reads in a thread."""

    def __init__(self, max_chunks: int = 256):
        self.chunks: queue.Queue[bytes | None] = queue.Queue(max_chunks)
        self.buffer = b""
        self.closed = False

    def put(self, data: bytes | None, timeout: float | None = None) -> None:
        """Next bytes, or None at the end (blocks while the reader is far behind)."""
        self.chunks.put(data, timeout=timeout)

    def read(self, n: int = -1) -> bytes:
        while not self.buffer and not self.closed:
            chunk = self.chunks.get()
            if chunk is None:
                self.closed = True
            else:
                self.buffer += chunk
        n = len(self.buffer) if n is None or n < 0 else n
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out
