"""The live-source fixtures (tests/live_sources.py) really serve their clip: PyAV pulls each URL and
decodes speech and 320x240 pictures, at the clip times the module documents."""

from __future__ import annotations

import time

import av
import numpy as np
import pytest

from tests import live_sources as ls
from tests.media import SAMPLE_RATE, SHORT_SENTENCES

RTSP = {"rtsp_transport": "tcp", "timeout": "5000000"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """(path, spoken) of a 3-sentence scripted clip, about 11 s."""
    path = tmp_path_factory.mktemp("live") / "clip.mp4"
    return path, ls.make_scripted_clip(path, SHORT_SENTENCES)


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory):
    """A one-sentence scripted clip, 3.2 s."""
    path = tmp_path_factory.mktemp("live") / "short.mp4"
    ls.make_scripted_clip(path, SHORT_SENTENCES[:1], lead_s=0.5, tail_s=0.2)
    return path


def _audio(frames) -> np.ndarray:
    rs = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    return np.concatenate([g.to_ndarray()[0] for f in frames for g in rs.resample(f)] or [np.zeros(0, np.float32)])


def clip_audio(path) -> np.ndarray:
    with av.open(str(path)) as c:
        return _audio(c.decode(audio=0))


def pull(url: str, seconds: float = 3.0, **options):
    """Decode ``seconds`` of media (or up to the end) from ``url``: (mono 16 kHz audio, first audio
    frame.time, set of video frame sizes)."""
    with av.open(url, options=options, timeout=(10, 10)) as c:
        afr, sizes = [], set()
        for f in c.decode(c.streams.audio[0], c.streams.video[0]):
            if isinstance(f, av.AudioFrame):
                afr.append(f)
                if f.time - afr[0].time >= seconds:
                    break
            else:
                sizes.add((f.width, f.height))
    return _audio(afr), afr[0].time, sizes


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0


def locate(x: np.ndarray, ref: np.ndarray) -> float:
    """Where in the (looped) clip audio ``ref`` the received audio ``x`` starts, in seconds (10 ms
    energy envelopes cross-correlated)."""
    hop = SAMPLE_RATE // 100

    def env(s):
        return np.sqrt(np.mean(s[: len(s) // hop * hop].reshape(-1, hop) ** 2, axis=1))

    er, ex = env(np.tile(ref, 3)), env(x)
    lag = int(np.argmax(np.correlate(er - er.mean(), ex - ex.mean(), "valid")))
    return lag * hop / SAMPLE_RATE % (len(ref) / SAMPLE_RATE)


def circular_gap(a: float, b: float, period: float) -> float:
    return abs((a - b + period / 2) % period - period / 2)


def test_scripted_clip_times_are_true_speech(clip):
    path, spoken = clip
    x, dur = clip_audio(path), ls.clip_duration(path)
    assert [s.text for s in spoken] == SHORT_SENTENCES
    edges = [t for s in spoken for t in (s.start_s, s.end_s)]
    assert edges == sorted(edges) and 0.9 < edges[0] and edges[-1] < dur - 1.9
    assert round(dur * 10 / 16, 6) % 1 == 0  # a whole 1.6 s: audio and video end together
    at = lambda a, b: x[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)]
    for s in spoken:
        inside = at(s.start_s, s.end_s)
        assert np.abs(inside[:160]).max() > 0.01 and np.abs(inside[-160:]).max() > 0.01  # speech at both ends
        assert rms(inside) > 0.05
    gaps = [at(0, spoken[0].start_s - 0.05)]
    gaps += [at(a.end_s + 0.05, b.start_s - 0.05) for a, b in zip(spoken, spoken[1:])]
    assert max(rms(g) for g in gaps) < rms(at(spoken[0].start_s, spoken[0].end_s)) / 20


def test_rtsp_source_is_live_stops_and_restarts(clip):
    path, _ = clip
    ref = clip_audio(path)
    with ls.RtspSource(path) as src:
        assert src.url == f"rtsp://127.0.0.1:{src.port}/live"
        time.sleep(1.0)
        connected = time.time()
        audio, _, sizes = pull(src.url, 3.0, **RTSP)
        assert rms(audio) > 0.02 and sizes == {(320, 240)}
        # a live camera: the client joins where the clip is playing (about 0.25 s behind)
        assert circular_gap(locate(audio, ref), src.position(connected) - 0.25, src.period_s) < 0.35

        src.stop()
        t = time.monotonic()
        with pytest.raises(av.error.FFmpegError):
            av.open(src.url, options=RTSP, timeout=(5, 5))
        assert time.monotonic() - t < 5

        src.restart()
        assert src.url == f"rtsp://127.0.0.1:{src.port}/live"
        audio, _, sizes = pull(src.url, 2.0, **RTSP)
        assert rms(audio) > 0.02 and sizes == {(320, 240)}


def test_rtsp_source_without_loop_ends_the_stream(short_clip):
    with ls.RtspSource(short_clip, loop=False) as src:
        t = time.monotonic()
        audio, _, sizes = pull(src.url, 60.0, **RTSP)  # returns at end-of-stream
        assert time.monotonic() - t < src.period_s + 1.5
        assert rms(audio) > 0.02 and sizes == {(320, 240)}
        time.sleep(1.5)
        assert all(p.poll() is not None for p in src._procs)  # the server went away


def test_hls_source_serves_segments_then_ends(short_clip):
    ref = clip_audio(short_clip)
    with ls.HlsSource(short_clip) as src:
        assert src.url.endswith("/live.m3u8") and not src.finished()
        audio, first, sizes = pull(src.url, 2.0)
        assert rms(audio) > 0.02 and sizes == {(320, 240)}
        assert circular_gap(locate(audio, ref), first - ls.HLS_OFFSET_S, src.period_s) < 0.05

        deadline = time.monotonic() + src.period_s + 5
        while not src.finished():
            assert time.monotonic() < deadline
            time.sleep(0.2)
        audio, first, _ = pull(src.url, 60.0)  # a finished playlist reads from the start to its end
        assert abs(first - ls.HLS_OFFSET_S) < 0.1 and abs(len(audio) / SAMPLE_RATE - src.period_s) < 0.2


def test_ts_http_source_streams_from_connect(short_clip):
    ref = clip_audio(short_clip)
    with ls.TsHttpSource(short_clip) as src:
        audio, first, sizes = pull(src.url, 2.0)
        assert rms(audio) > 0.02 and sizes == {(320, 240)}
        assert circular_gap(locate(audio, ref), first - ls.TS_OFFSET_S, src.period_s) < 0.05
