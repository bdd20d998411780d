"""Streamed decoding (audio_blocks) and chunked voice activity (speech_chunks) against the whole-file
path (decode_audio, speech_regions, group_regions), and the memory bound on a 2-hour file."""

import json
import math
import subprocess
import sys
import time

import numpy as np
import pytest

from emopulse.labels import SAMPLE_RATE
from emopulse.processing.media import (
    MediaError,
    audio_blocks,
    decode_audio,
    group_regions,
    speech_chunks,
    speech_regions,
)
from tests import media

BLOCK_S = 5.0
EDGE_TOL_S = 0.1  # measured: streamed region edges are within 0.03 s of the whole-file ones


@pytest.fixture(scope="module")
def long_clip(media_dir):
    """27 s of eight sentences; five of them cross a 5 s block boundary."""
    return media.make_talking_clip(media_dir / "eight.mp4", media.SAMPLE_SENTENCES + media.SHORT_SENTENCES, gap_s=0.7)


def _straddling(times, block_s):
    return [(s, e) for s, e in times if math.floor(s / block_s) != math.floor(e / block_s)]


def _joined(regions):
    """Regions with pieces that touch (a region cut by max_len_s) joined back into one."""
    out = []
    for s, e in regions:
        if out and abs(out[-1][1] - s) < 1e-9:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _assert_close(got, want, tol=EDGE_TOL_S):
    assert len(got) == len(want), (got, want)
    for (s, e), (ws, we) in zip(got, want):
        assert abs(s - ws) <= tol and abs(e - we) <= tol, (got, want)


# ---------------------------------------------------------------- audio_blocks


@pytest.mark.parametrize("block_s", [1.0, 0.7, 60.0])
def test_audio_blocks_concatenate_to_decode_audio(long_clip, block_s):
    path, _ = long_clip
    blocks = list(audio_blocks(path, block_s))
    whole = decode_audio(path)
    assert all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    assert all(len(b) == round(block_s * SAMPLE_RATE) for b in blocks[:-1])
    assert 0 < len(blocks[-1]) <= round(block_s * SAMPLE_RATE)
    assert np.array_equal(np.concatenate(blocks), whole)


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bad_streams")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d, clip: media.make_zero_byte(d), r"^the file is empty$"),
        (lambda d, clip: media.make_random_bytes(d), r"^the file is not a readable audio/video container \("),
        (lambda d, clip: media.make_video_only(d), r"^the file has no audio track$"),
        (lambda d, clip: media.make_truncated(clip, d / "trunc.mp4"), r"^the file is truncated or corrupt"),
    ],
    ids=["zero-byte", "random-bytes", "video-only", "index-missing"],
)
def test_unusable_files_raise_on_first_block(bad_dir, talking_clip, make, message):
    blocks = audio_blocks(make(bad_dir, talking_clip[0]), BLOCK_S)
    with pytest.raises(MediaError, match=message):
        next(blocks)


def test_truncated_audio_raises_after_the_blocks_it_could_decode(bad_dir):
    clip, _ = media.make_talking_clip(bad_dir / "fs.mp4", media.SHORT_SENTENCES, faststart=True)
    bad = media.make_truncated(clip, bad_dir / "fs_trunc.mp4")
    got = []
    with pytest.raises(MediaError, match=r"^the audio track is truncated or corrupt"):
        for block in audio_blocks(bad, 1.0):
            got.append(block)
    assert got  # the decodable prefix came first; the verdict only at the end
    with pytest.raises(MediaError, match=r"^the audio track is truncated or corrupt"):
        list(speech_chunks(audio_blocks(bad, 1.0), 20.0, 1.0))


# ---------------------------------------------------------------- speech_chunks


@pytest.mark.parametrize("max_len_s, max_gap_s", [(20.0, 1.0), (3.0, 0.0)])
def test_chunks_match_whole_file_across_block_edges(long_clip, max_len_s, max_gap_s):
    path, times = long_clip
    assert len(_straddling(times, BLOCK_S)) >= 3  # the premise: speech crosses block edges
    whole = decode_audio(path)
    regions = speech_regions(whole)
    want = group_regions(regions, max_len_s, max_gap_s)

    chunks = speech_chunks(audio_blocks(path, BLOCK_S), max_len_s, max_gap_s)
    got = list(chunks)

    _assert_close([(c.start_s, c.end_s) for c in got], want)
    _assert_close(_joined([r for c in got for r in c.regions]), regions)
    for c in got:
        assert all(c.start_s <= s < e <= c.end_s for s, e in c.regions)
        assert np.array_equal(c.samples, whole[int(c.start_s * SAMPLE_RATE) : int(c.end_s * SAMPLE_RATE)])
    assert chunks.duration_s == pytest.approx(len(whole) / SAMPLE_RATE)
    assert chunks.region_count == len(regions)


def test_chunks_are_deterministic(long_clip):
    def run():
        return [(c.start_s, c.end_s, c.regions) for c in speech_chunks(audio_blocks(long_clip[0], BLOCK_S), 8.0, 1.0)]

    assert run() == run()


def test_speech_longer_than_max_carry_is_cut_but_covered(long_clip):
    """Bounded memory wins over whole regions: a region open for more than max_carry_s is cut there
    and carries on as the next region, so together the parts still cover the whole-file region."""
    path, _ = long_clip
    regions = speech_regions(decode_audio(path))
    chunks = speech_chunks(audio_blocks(path, 1.0), 20.0, 0.0, max_carry_s=1.0)
    parts = [r for c in chunks for r in c.regions]
    assert chunks.region_count > len(regions)  # some were cut
    assert all(e - s <= 1.0 + 1.5 + 1.0 for s, e in parts)  # carry + VAD settle margin + one block
    _assert_close(_joined(parts), regions)


def test_chunks_stream_out_as_the_audio_is_read(long_clip):
    """A chunk is yielded once no later region can merge into it, not when the file ends: at the
    latest once the next chunk's audio (plus the VAD's 1.5 s settle margin) has been read, with one
    block read ahead."""
    path, _ = long_clip
    read = []

    def counted():
        for block in audio_blocks(path, BLOCK_S):
            read.append(block)
            yield block

    arrivals = [(c, len(read)) for c in speech_chunks(counted(), 4.0, 0.5)]
    assert len(arrivals) >= 5 and arrivals[0][1] < len(read)
    for (c, blocks_read), (after, _) in zip(arrivals, arrivals[1:]):
        assert blocks_read <= math.ceil((after.end_s + 1.5) / BLOCK_S) + 1, (c.end_s, blocks_read)


def test_silence_and_no_blocks(media_dir):
    silent = media.make_silent_video(media_dir, duration_s=3.0)
    chunks = speech_chunks(audio_blocks(silent, 1.0), 20.0, 1.0)
    assert list(chunks) == []
    assert chunks.region_count == 0
    assert chunks.duration_s == pytest.approx(3.0, abs=0.15)
    empty = speech_chunks([], 20.0, 1.0)
    assert list(empty) == [] and empty.duration_s == 0.0
    with pytest.raises(ValueError):
        list(speech_chunks([], 0.0, 1.0))


# ---------------------------------------------------------------- memory on a 2-hour file

# Peak RSS of the child below, importing only emopulse.processing.media (no torch), 117 MB once the
# VAD is loaded. Measured: 200-275 MB streamed (flat at ~175 MB through the file), in ~30 s; in the
# same child, decode_audio of the file peaks at ~1000 MB and decode_audio + whole-file
# speech_regions (the transcriber's old path) at ~1700 MB.
PEAK_RSS_BOUND_MB = 350
DECODED_2H_MB = 2 * 3600 * SAMPLE_RATE * 4 / 2**20  # 439 MiB of float32 samples

# The child reads VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child of a big
# pytest process would report its parent's size.
_CHILD = """
import json, sys
from emopulse.processing import media
def rss_mb(field='VmRSS'):
    return int(next(l for l in open('/proc/self/status') if l.startswith(field)).split()[1]) / 1024
media.speech_regions(media.np.zeros(16000, media.np.float32))  # load the VAD model first: the baseline
before = rss_mb()
chunks = media.speech_chunks(media.audio_blocks(sys.argv[1]), 20.0, 1.0)
found = [(c.start_s, c.end_s, len(c.regions)) for c in chunks]
print(json.dumps({"chunks": found, "duration_s": chunks.duration_s, "regions": chunks.region_count,
                  "baseline_mb": before, "peak_mb": rss_mb('VmHWM')}))
"""


def test_two_hour_file_streams_in_bounded_memory(tmp_path):
    started = time.perf_counter()
    path, times = media.make_long_audio(tmp_path / "two_hours.m4a", hours=2.0)
    made = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)], check=True, capture_output=True, text=True, timeout=600
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"\n2 h file: {path.stat().st_size / 1e6:.1f} MB made in {made - started:.1f} s; streamed in "
        f"{time.perf_counter() - made:.1f} s, RSS {r['baseline_mb']:.0f} MB after loading the VAD, "
        f"peak {r['peak_mb']:.0f} MB (decoded whole it would be {DECODED_2H_MB:.0f} MB of samples alone)"
    )
    assert r["peak_mb"] < PEAK_RSS_BOUND_MB < DECODED_2H_MB
    assert r["duration_s"] == pytest.approx(7200.0, abs=0.5)
    # every period's two sentences (0.8 s apart, across a 60 s block edge) make one chunk of two regions
    utterances = times[::2]
    assert r["regions"] == len(times)
    assert len(r["chunks"]) == len(utterances) == 24
    for (start, end, n), (s, _), (_, e) in zip(r["chunks"], times[::2], times[1::2]):
        assert n == 2 and abs(start - s) < 0.4 and abs(end - e) < 0.4, (start, end, s, e)
