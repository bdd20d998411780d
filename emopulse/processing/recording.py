"""A live stream's recording as one file: its audio segments and pictures muxed, without re-encoding,
into Matroska (16 kHz PCM + MJPEG), so a finished stream can be analysed again like any file."""
from __future__ import annotations

import heapq
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

from emopulse.labels import SAMPLE_RATE

MS = Fraction(1, 1000)


def _audio_packets(segments: Iterable[tuple[float, bytes]]) -> Iterator[tuple[float, int, bytes]]:
    """(start_s, PCM16) segments in time order -> contiguous audio from 0: a gap (an outage) is silence,
    so media times in the file are the stream's media times."""
    at = 0  # samples written
    for start_s, pcm in segments:
        missing = int(round(start_s * SAMPLE_RATE)) - at
        if missing > 0:
            for offset in range(0, missing, SAMPLE_RATE):
                n = min(SAMPLE_RATE, missing - offset)
                yield (at + offset) / SAMPLE_RATE, 0, b"\0\0" * n
            at += missing
        yield at / SAMPLE_RATE, 0, pcm
        at += len(pcm) // 2


def _picture_packets(pictures: Iterable[tuple[float, bytes]]) -> Iterator[tuple[float, int, bytes]]:
    first = True
    for t, jpeg in pictures:
        if first and t > 0:  # the video track starts with the audio, as in an ordinary file
            yield 0.0, 1, jpeg
        first = False
        yield t, 1, jpeg


def write_recording(path: str | Path, audio: Iterable[tuple[float, bytes]], pictures: Iterable[tuple[float, bytes]],
                    size: tuple[int, int] | None) -> Path:
    """Mux the recording; `size` (width, height) of the pictures, None when there are none."""
    import av

    with av.open(str(path), "w", format="matroska") as out:
        audio_stream = out.add_stream("pcm_s16le", rate=SAMPLE_RATE, layout="mono")
        video_stream = None
        if size is not None:
            video_stream = out.add_stream("mjpeg", rate=1000)
            video_stream.width, video_stream.height, video_stream.pix_fmt = size[0], size[1], "yuvj420p"
        for t, kind, data in heapq.merge(_audio_packets(audio), _picture_packets(pictures) if video_stream else [],
                                         key=lambda item: (item[0], item[1])):
            packet = av.Packet(data)
            if kind == 0:
                packet.stream, packet.time_base = audio_stream, Fraction(1, SAMPLE_RATE)
                packet.pts = packet.dts = int(round(t * SAMPLE_RATE))
                packet.duration = len(data) // 2
            else:
                packet.stream, packet.time_base = video_stream, MS
                packet.pts = packet.dts = int(round(t * 1000))
                packet.is_keyframe = True
            out.mux(packet)
    return Path(path)
