"""The pure parts of live streams: endpointing, backoff, pictures per utterance, the stream view."""
from __future__ import annotations

import random

import numpy as np
import pytest

from emopulse.processing import live
from emopulse.processing.ordering import EventOrder
from emopulse.v1 import results_pb2 as pb
from tests.media import speech_track

W = live.WINDOW / 16_000  # one VAD window in seconds


def run(endpointer: live.Endpointer, probs: list[float]) -> list:
    events = []
    for i, p in enumerate(probs):
        events += endpointer.add((i + 1) * W, p)
    return events


def windows(seconds: float, p: float) -> list[float]:
    return [p] * int(round(seconds / W))


def test_an_utterance_ends_after_the_endpoint_silence():
    e = live.Endpointer(endpoint_s=0.5, pad_s=0.0)
    events = run(e, windows(1.0, 0.0) + windows(2.0, 0.9) + windows(0.45, 0.0))
    assert [type(x) for x in events] == [live.SpeechStarted]  # 0.45 s of silence is not an end yet
    events = run(e, windows(1.0, 0.0) + windows(2.0, 0.9) + windows(0.6, 0.0))
    ended = [x for x in events if isinstance(x, live.SpeechEnded)]
    assert len(ended) == 1 and not ended[0].forced
    assert ended[0].start_s == pytest.approx(1.0, abs=2 * W) and ended[0].end_s == pytest.approx(3.0, abs=2 * W)


def test_a_click_is_not_an_utterance_and_a_dip_does_not_end_one():
    e = live.Endpointer(endpoint_s=0.5)
    assert run(e, windows(0.5, 0.0) + windows(0.1, 0.9) + windows(1.0, 0.0)) == []
    e = live.Endpointer(endpoint_s=0.5)
    # a 0.3 s pause and a dip to 0.4 (above the lower threshold) inside speech: one utterance
    events = run(e, windows(1.0, 0.9) + windows(0.3, 0.0) + windows(0.5, 0.4) + windows(1.0, 0.9) + windows(0.6, 0.0))
    assert sum(isinstance(x, live.SpeechEnded) for x in events) == 1


def test_a_long_utterance_is_cut_at_the_limit_and_goes_on():
    e = live.Endpointer(endpoint_s=0.5, max_utterance_s=4.0)
    events = run(e, windows(10.0, 0.9) + windows(0.6, 0.0))
    ended = [x for x in events if isinstance(x, live.SpeechEnded)]
    assert [x.forced for x in ended] == [True, True, False]
    assert all(x.end_s - x.start_s <= 4.0 + W for x in ended)
    assert all(a.end_s <= b.start_s for a, b in zip(ended, ended[1:]))  # no overlap, no gap
    assert ended[-1].end_s == pytest.approx(10.0 + e.pad_s, abs=2 * W)


def test_flush_ends_speech_in_progress():
    e = live.Endpointer()
    run(e, windows(1.0, 0.9))
    (end,) = e.flush(1.0)
    assert end.start_s < end.end_s <= 1.0
    assert e.flush(2.0) == []


def test_streaming_vad_finds_real_speech_fed_in_any_block_size():
    audio, times = speech_track(["Thank you so much, this is wonderful news.", "Where did you put the keys?"], 1.2)
    audio = np.concatenate([audio, np.zeros(16_000, np.float32)])
    for block in (160, 1600, 7777):
        vad, e, ended = live.StreamingVad(), live.Endpointer(), []
        for i in range(0, len(audio), block):
            for t, p in vad.feed(audio[i:i + block]):
                ended += [x for x in e.add(t, p) if isinstance(x, live.SpeechEnded)]
        assert len(ended) == 2, block
        for end, (start_s, end_s) in zip(ended, times):
            assert end.start_s == pytest.approx(start_s, abs=0.3) and end.end_s == pytest.approx(end_s, abs=0.35)


def test_backoff_grows_with_jitter_and_stops_at_the_budget():
    b = live.Backoff(budget_s=10.0, first_s=0.5, max_delay_s=4.0, rng=random.Random(1))
    now, delays = 0.0, []
    while (d := b.next_delay(now)) is not None:
        delays.append(d)
        now += d + 0.1  # each attempt also takes a moment
    assert 0.25 <= delays[0] <= 0.5 and max(delays) <= 4.0
    assert delays[3] > delays[0]
    assert now >= 10.0 and sum(delays) <= 10.0
    b.reset()
    assert b.next_delay(100.0) is not None


def test_frames_for_spreads_pictures_over_the_span():
    frames = [(t / 2, f"f{t}") for t in range(40)]  # 2 per second over 20 s
    picked = live.frames_for(frames, 3.0, 9.0, 4)
    assert len(picked) == 4 and picked[0][0] == 3.0 and picked[-1][0] == 9.0
    assert live.frames_for(frames, 3.1, 3.3, 4) == [(3.0, "f6")]  # none inside: the one before
    assert live.frames_for([], 1.0, 2.0, 4) == []


def test_audio_buffer_cuts_spans_on_the_media_clock():
    buf = live.AudioBuffer(start_s=10.0)
    buf.add(np.arange(32_000, dtype=np.float32))
    assert buf.end_s == 12.0
    assert buf.span(11.0, 11.5)[0] == 16_000 and len(buf.span(11.0, 11.5)) == 8_000
    buf.forget_before(11.0)
    assert buf.start_s == 11.0 and buf.span(11.0, 11.1)[0] == 16_000
    buf.jump_to(20.0)
    assert buf.end_s == 20.0 and len(buf.span(19.0, 21.0)) == 0


def test_stream_view_follows_the_job():
    job = pb.Job(id="s1", state=pb.RUNNING, language="en", utterances_fused=3, created_at=5.0,
                 stream=pb.Stream(url="rtsp://x/y", state=pb.STREAM_LIVE))
    view = live.stream_view(job)
    assert (view.id, view.language, view.utterances, view.state) == ("s1", "en", 3, pb.STREAM_LIVE)
    job.state, job.reason = pb.CANCELLED, "cancelled by a user"
    assert live.stream_view(job).state == pb.STREAM_ENDED
    job.state = pb.FAILED
    assert live.stream_view(job).state == pb.STREAM_FAILED and live.stream_view(job).reason == "cancelled by a user"


def test_the_first_reason_to_stop_a_stream_stays():
    stream = pb.Stream(state=pb.STREAM_LIVE)
    live.request_stop(stream, "stopped: media minutes this month: 10.0 of 10 used")
    live.request_stop(stream, "stopped by a user")  # a StopStream after the quota's stop changes nothing
    assert stream.stop_requested and stream.stop_reason == "stopped: media minutes this month: 10.0 of 10 used"


def test_partials_and_states_pass_at_once_and_are_numbered():
    order = EventOrder()
    partial = pb.JobEvent(job_id="s", partial=pb.Partial(index=0, text="hel"))
    state = pb.JobEvent(job_id="s", stream_state=pb.StreamStatus(state=pb.STREAM_LIVE))
    result1 = pb.JobEvent(job_id="s", result=pb.UtteranceResult(index=1))
    result0 = pb.JobEvent(job_id="s", result=pb.UtteranceResult(index=0))
    out = order.add(state, 1) + order.add(partial, 2) + order.add(result1, 3) + order.add(result0, 4)
    assert [e.WhichOneof("event") or e.WhichOneof("live") for e in out] == ["stream_state", "partial", "result", "result"]
    assert [e.sequence for e in out] == [1, 2, 3, 4]
    assert [e.result.index for e in out[2:]] == [0, 1]


def test_a_recording_is_one_file_with_gaps_as_silence(tmp_path):
    import cv2

    from emopulse.processing import media, vision
    from emopulse.processing.recording import write_recording

    tone = media.to_pcm16(0.5 * np.sin(np.arange(16_000) / 5).astype(np.float32))
    image = np.zeros((120, 160, 3), np.uint8)
    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    # audio 0-1 s and 3-4 s (an outage between), pictures every half second while media came
    path = write_recording(tmp_path / "rec.mkv", [(0.0, tone), (3.0, tone)],
                           [(t, jpeg) for t in (0.25, 0.75, 3.25, 3.75)], (160, 120))
    info = media.probe(path)
    assert info.has_audio and info.has_video and (info.width, info.height) == (160, 120)
    audio = media.decode_audio(path)
    assert len(audio) == 4 * 16_000
    assert np.abs(audio[16_000:3 * 16_000]).max() == 0 and np.abs(audio[3 * 16_000:]).max() > 0.3
    frames = vision.read_frames(path, [0.3, 3.3])
    assert [round(t, 2) for t, _ in frames] == [0.25, 3.25]


def test_urls_are_checked_against_what_ffmpeg_here_can_pull():
    from emopulse.processing import sources

    for url in ("rtsp://cam/live", "rtmp://host/app/key", "https://cdn/x.m3u8", "http://host:8080/s.ts"):
        assert sources.check_url(url) == url
    for url in ("ftp://host/x.ts", "file:///etc/passwd", "rtsp://", "/tmp/x.mp4"):
        with pytest.raises(ValueError, match="give rtsp://"):
            sources.check_url(url)
    if sources.protocol_built_in("srt"):
        assert sources.check_url("srt://host:9000") == "srt://host:9000"
    else:  # PyAV's wheels come without libsrt: said at StartStream, not after a minute of retries
        with pytest.raises(ValueError, match="built without srt"):
            sources.check_url("srt://host:9000")


def test_a_live_utterance_is_whisper_output_whole_on_the_media_clock():
    from emopulse.processing.utterances import whole_cut

    segments = [{"text": "Hello there.", "words": [{"word": " Hello", "start": 0.1, "end": 0.4},
                                                   {"word": " there.", "start": 0.5, "end": 0.9}]},
                {"text": "Bye.", "words": [{"word": " Bye.", "start": 1.5, "end": 1.8}]}]
    cut = whole_cut(segments, 10.0, 12.0)
    assert cut.text == "Hello there. Bye." and (cut.start_s, cut.end_s) == (10.1, 11.8)
    assert whole_cut([{"text": " ", "words": []}], 10.0, 12.0) is None
