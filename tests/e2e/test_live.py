"""Live streams end to end: real sources on loopback (GStreamer's RTSP server, ffmpeg's HLS), the SDK's
push, and the whole stack (two ingest replicas), on scripted espeak sentences over a real face."""
from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import time

import grpc
import pytest

from emopulse.client import file_chunks
from emopulse.stack import free_port
from emopulse.v1 import results_pb2 as pb
from tests.live_sources import HlsSource, RtspSource, make_scripted_clip
from tests.stack_fixtures import LEASE_TTL_S, RECONNECT_BUDGET_S

pytestmark = pytest.mark.slow

SCRIPT = [
    "Thank you so much, this is wonderful news.",
    "This is terrible, I hate waiting.",
    "Where did you put the keys?",
    "The meeting is on Tuesday at ten.",
]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("10", "ten"))


def same_words(heard: str, said: str) -> bool:
    """Whisper base on espeak is close to word-perfect; allow one slip per sentence."""
    h, s = words(heard), words(said)
    return len(set(s) - set(h)) <= 1 and abs(len(h) - len(s)) <= 1


def collect(client, stream_id: str, into: list, **kw) -> threading.Thread:
    """Subscribe in the background, appending every event to `into` (with the wall time it came)."""
    def run():
        for event in client.subscribe(stream_id, timeout=300, **kw):
            into.append((time.time(), event))
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def kind(event: pb.JobEvent) -> str:
    return event.WhichOneof("event") or event.WhichOneof("live")


def wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def in_a_pause(source, spoken) -> None:
    """Wait until the source plays the silence just after a sentence."""
    while not any(s.end_s + 0.4 < source.position() < s.end_s + 0.9 for s in spoken):
        time.sleep(0.05)


def results_of(events) -> list[pb.UtteranceResult]:
    return [e.result for _, e in events if kind(e) == "result"]


@pytest.fixture(scope="module")
def scripted(media_dir):
    path = media_dir / "scripted.mp4"
    spoken = make_scripted_clip(path, SCRIPT, gap_s=1.5, lead_s=1.0, tail_s=3.0)
    return path, spoken


def test_rtsp_stream_words_spans_partials_outage_and_stop(client, scripted):
    """One RTSP stream: the words and spans of each sentence, partials before their final, a 5 s outage
    (RECONNECTING, then LIVE with the gap reported, nothing lost or doubled), then StopStream ends it."""
    path, spoken = scripted
    with RtspSource(path, loop=True) as source:
        stream = client.start_stream(source.url, name="rtsp test", language="en")
        assert stream.state == pb.STREAM_STARTING and stream.url == source.url
        events: list = []
        follower = collect(client, stream.id, events)
        wait_for(lambda: len(results_of(events)) >= 3, 90, "three results")
        # Stop the source in the silence after a sentence, for 5 s.
        in_a_pause(source, spoken)
        heard_before = len(results_of(events))
        source.stop()
        time.sleep(5)
        source.start()
        wait_for(lambda: any(kind(e) == "stream_state" and e.stream_state.gap_to_s > 0 for _, e in events),
                 30, "the gap reported")
        wait_for(lambda: len(results_of(events)) >= heard_before + 2, 60, "results after the outage")
        in_a_pause(source, spoken)  # (a stop mid-sentence makes the words so far its last utterance)
        client.stop_stream(stream.id)
        follower.join(60)
        assert not follower.is_alive(), "StopStream did not end the subscription"

    kinds = [kind(e) for _, e in events]
    assert kinds[-1] == "summary"
    states = [e.stream_state for _, e in events if kind(e) == "stream_state"]
    names = [pb.StreamState.Name(s.state) for s in states]
    assert names[0] == "STREAM_LIVE" and "STREAM_RECONNECTING" in names and names[-1] == "STREAM_ENDED"
    assert names.index("STREAM_RECONNECTING") < len(names) - 1 - names[::-1].index("STREAM_LIVE")
    gap = next(s for s in states if s.gap_to_s > 0)
    assert 4.0 < gap.gap_to_s - gap.gap_from_s < 12.0, gap

    results = results_of(events)
    assert [r.index for r in results] == list(range(len(results)))  # none lost, none doubled
    # Each result is one scripted sentence, in script order on each side of the gap, with its true span.
    before = [r for r in results if r.end_s <= gap.gap_from_s]
    after = [r for r in results if r.start_s >= gap.gap_to_s]
    assert len(before) + len(after) == len(results), "an utterance straddles the gap"
    heard = [(round(r.start_s, 2), round(r.end_s, 2), r.speaker, r.text) for r in results]
    for side, joined_s in ((before, 0.0), (after, gap.gap_to_s)):
        # The restarted camera plays from clip time 0 whether or not the stream is back (reconnects are
        # up to 1 s apart, plus opening): a join after the first sentence began hears only its tail.
        if not any(same_words(side[0].text, s.text) for s in spoken) and side[0].start_s - joined_s < 1.0:
            side = side[1:]
        first = next((i for i, s in enumerate(spoken) if same_words(side[0].text, s.text)), None)
        assert first is not None, ("the first utterance on a side of the gap is no scripted sentence", gap, heard)
        offset = side[0].start_s - spoken[first].start_s
        for k, r in enumerate(side):
            said = spoken[(first + k) % len(spoken)]
            assert same_words(r.text, said.text), (r.text, said.text)
            assert abs(r.start_s - offset - said.start_s) < 0.4 and abs(r.end_s - offset - said.end_s) < 0.4, \
                (r.start_s, r.end_s, said)
            assert {m.modality for m in r.modalities if m.present} == {pb.TEXT, pb.AUDIO, pb.VISION}
    # Partials come before their final and never after it.
    partials = [(i, e.partial) for i, (_, e) in enumerate(events) if kind(e) == "partial"]
    assert partials, "no partial transcript arrived"
    final_at = {e.result.index: i for i, (_, e) in enumerate(events) if kind(e) == "result"}
    assert all(i < final_at[p.index] for i, p in partials)
    assert client.get_stream(stream.id).state == pb.STREAM_ENDED


def test_hls_stream_ends_with_its_playlist_and_the_cli_exits(stack, media_dir):
    path = media_dir / "hls.mp4"
    # FFmpeg joins a live playlist 3 segments (1 s each) from its end, so the speech starts well after.
    spoken = make_scripted_clip(path, SCRIPT[:2], gap_s=1.5, lead_s=5.0, tail_s=2.0)
    with HlsSource(path) as source:
        run = subprocess.run([sys.executable, "-m", "emopulse.cli", "live", source.url, "--json",
                              "--gateway", stack.gateway], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    results = [line for line in lines if line["event"] == "result"]
    assert [same_words(r["text"], s.text) for r, s in zip(results, spoken)] == [True, True] and len(results) == 2
    assert lines[-1]["event"] == "summary"
    assert [line["sequence"] for line in lines] == list(range(1, len(lines) + 1))


def test_pushed_streams_run_side_by_side_without_mixing(client, media_dir):
    """Two SDK pushes (PCM + JPEG frames) at once; then a resumed Subscribe gets exactly the rest."""
    clips = {}
    for name, sentences in {"a": SCRIPT[:2], "b": SCRIPT[2:]}.items():
        path = media_dir / f"push-{name}.mp4"
        clips[name] = (path, make_scripted_clip(path, sentences, gap_s=1.2, lead_s=0.5, tail_s=1.5))
    ids, done = {}, {}

    def push(name):
        path, _ = clips[name]
        done[name] = client.push_stream(file_chunks(path), name=name, language="en",
                                        on_start=lambda sid: ids.__setitem__(name, sid))
    pushers = [threading.Thread(target=push, args=(n,)) for n in clips]
    for t in pushers:
        t.start()
    wait_for(lambda: len(ids) == 2, 20, "both stream ids")
    events = {n: [] for n in clips}
    followers = [collect(client, ids[n], events[n]) for n in clips]
    for t in pushers + followers:
        t.join(120)
    for name, (path, spoken) in clips.items():
        results = results_of(events[name])
        assert len(results) == len(spoken) and all(same_words(r.text, s.text) for r, s in zip(results, spoken))
        assert all(r.job_id == ids[name] for r in results)
        assert all(next(m for m in r.modalities if m.modality == pb.VISION).present for r in results)
        assert done[name].id == ids[name] and done[name].url == "push:pcm16"
    assert {s.id for s in client.list_streams()} >= set(ids.values())

    # The recording of an ended stream is analysed again like a file, with the same words and times.
    recorded = client.get_stream(ids["a"])
    assert recorded.recording_uri.endswith("recording.mkv")
    again, last = client.results(client.analyze_reference(f"stream:{ids['a']}").id, timeout=120)
    live_results = results_of(events["a"])
    assert last.HasField("summary") and len(again) == len(live_results)
    for file_result, live_result in zip(again, live_results):
        assert same_words(file_result.text, live_result.text)
        assert abs(file_result.start_s - live_result.start_s) < 0.5

    # Resuming after any event gives exactly the events after it.
    whole = [e for _, e in events["a"]]
    cut = len(whole) // 2
    rest = list(client.subscribe(ids["a"], timeout=30, after=whole[cut - 1].sequence))
    assert [e.SerializeToString() for e in rest] == [e.SerializeToString() for e in whole[cut:]]


def test_a_push_that_pauses_loses_nothing(client):
    """The client stops sending for longer than the source timeout (RECONNECTING), then goes on:
    what it sent after the pause is read from where the holder stopped, not from "now"."""
    from emopulse.processing import media
    from tests.media import speech_track

    def sentence(text):
        audio, _ = speech_track([text], 0.3)
        pcm = media.to_pcm16(audio)
        return [pcm[i:i + 3200] for i in range(0, len(pcm), 3200)]  # 0.1 s parts, sent at once

    def chunks():
        yield from sentence(SCRIPT[0])
        time.sleep(5)  # > the stack's 2 s source timeout
        yield from sentence(SCRIPT[2])
        yield from [b"\0\0" * 16_000]  # a second of silence ends the last utterance
    stream = client.push_stream(chunks(), language="en")
    events = list(client.subscribe(stream.id, timeout=60))
    results = results_of([(0, e) for e in events])
    assert [same_words(r.text, said) for r, said in zip(results, (SCRIPT[0], SCRIPT[2]))] == [True, True]
    assert len(results) == 2
    states = [pb.StreamState.Name(e.stream_state.state) for e in events if kind(e) == "stream_state"]
    assert "STREAM_RECONNECTING" in states and states[-1] == "STREAM_ENDED"


def test_a_killed_ingest_is_replaced_by_another_replica(client, stack, scripted):
    path, spoken = scripted
    with RtspSource(path, loop=True) as source:
        stream = client.start_stream(source.url, language="en")
        events: list = []
        follower = collect(client, stream.id, events)
        wait_for(lambda: len(results_of(events)) >= 2, 90, "two results")
        owner = client.get_stream(stream.id).owner
        pid = int(owner.rsplit(":", 1)[1])
        name = next(n for n, p in stack.pids.items() if p == pid)
        stack.kill(name)
        killed_at, heard = time.time(), len(results_of(events))
        new_owner = wait_for(lambda: (o := client.get_stream(stream.id).owner) != owner and o, 30, "a takeover")
        took_s = time.time() - killed_at
        wait_for(lambda: len(results_of(events)) >= heard + 2, 60, "results from the new owner")
        stack.start_component(name)
        in_a_pause(source, spoken)
        client.stop_stream(stream.id)
        follower.join(60)
    assert took_s < 3 * LEASE_TTL_S, took_s
    results = results_of(events)
    assert [r.index for r in results] == list(range(len(results)))
    # Reactions (the face in the pauses) are numbered on across the takeover: each index once, and the
    # summary counts exactly those Subscribe gave.
    reactions = [e.reaction.index for _, e in events if kind(e) == "reaction"]
    assert reactions and len(set(reactions)) == len(reactions)
    assert events[-1][1].summary.reaction_count == len(reactions)
    gaps = [e.stream_state for _, e in events if kind(e) == "stream_state" and e.stream_state.gap_to_s > 0]
    assert gaps and "taken over" in gaps[0].detail
    # The new owner joins the camera where it is: only a sentence it joined mid-way may be a fragment.
    fragments = [r for r in results if not any(same_words(r.text, s.text) for s in spoken)]
    assert len(fragments) <= 1 and all(abs(r.start_s - gaps[0].gap_to_s) < 1.0 for r in fragments), \
        [(r.start_s, r.text) for r in fragments]
    assert new_owner != owner


def test_a_source_that_never_answers_fails_with_a_reason(client):
    url = f"rtsp://127.0.0.1:{free_port()}/nothing"  # a port nobody listens on
    stream = client.start_stream(url)
    events = list(client.subscribe(stream.id, timeout=RECONNECT_BUDGET_S + 60))
    failed = client.get_stream(stream.id)
    assert failed.state == pb.STREAM_FAILED
    assert url in failed.reason and "refused" in failed.reason and f"over {RECONNECT_BUDGET_S} s" in failed.reason
    assert failed.reconnects >= 2
    assert kind(events[-1]) == "summary" and failed.reason in events[-1].summary.note


@pytest.mark.parametrize("url", ["ftp://example.com/x.ts", "file:///etc/passwd", "", "rtsp://"])
def test_an_unsupported_source_is_invalid_argument(client, url):
    with pytest.raises(grpc.RpcError) as err:
        client.start_stream(url)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "rtsp://" in err.value.details()


def test_a_push_in_an_unknown_format_is_invalid_argument(client):
    with pytest.raises(grpc.RpcError) as err:
        client.push_stream([b"\0" * 100], format="no-such-format")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_stop_and_get_on_unknown_or_ended_streams(client):
    for call in (client.get_stream, client.stop_stream):
        with pytest.raises(grpc.RpcError) as err:
            call("no-such-stream")
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    silent = client.push_stream([b"\0\0" * 16_000])  # one second of silence, then the push ends
    events = list(client.subscribe(silent.id, timeout=60))
    assert kind(events[-1]) == "summary" and events[-1].summary.note == "no speech detected"
    assert client.get_stream(silent.id).state == pb.STREAM_ENDED
    with pytest.raises(grpc.RpcError) as err:
        client.stop_stream(silent.id)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_the_async_sdk_and_the_cli_list_and_stop_streams(stack):
    from emopulse.client import AsyncClient

    async def pcm():  # an async source: half a second of silence, then a pause before the next
        for _ in range(60):
            yield b"\0\0" * 8_000
            await asyncio.sleep(0.5)
    async with AsyncClient(stack.gateway) as client:
        started = asyncio.get_running_loop().create_future()
        push = asyncio.create_task(client.push_stream(pcm(), name="async push", on_start=started.set_result))
        stream_id = await asyncio.wait_for(started, 20)
        cli = [sys.executable, "-m", "emopulse.cli"]
        listed = subprocess.run([*cli, "streams", "--gateway", stack.gateway], capture_output=True, text=True, timeout=60)
        assert listed.returncode == 0 and any(line.startswith(stream_id) and "async push" in line
                                              for line in listed.stdout.splitlines()), listed.stdout
        stopped = subprocess.run([*cli, "stop", stream_id, "--gateway", stack.gateway], capture_output=True,
                                 text=True, timeout=60)
        assert stopped.returncode == 0 and stream_id in stopped.stdout
        events = [e async for e in client.subscribe(stream_id, timeout=60)]
        assert kind(events[-1]) == "summary"
        assert (await client.get_stream(stream_id)).state == pb.STREAM_ENDED
        assert stream_id in {s.id for s in await client.list_streams()}
        push.cancel()
        await asyncio.gather(push, return_exceptions=True)
    unknown = subprocess.run([*cli, "stop", "no-such-stream", "--gateway", stack.gateway], capture_output=True,
                             text=True, timeout=60)
    assert unknown.returncode == 1 and "NOT_FOUND" in unknown.stderr
