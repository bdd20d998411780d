"""Reactions end to end: faces read while nobody speaks, from a file and from a live push, on a real
crying face (tests/data/README.md) and the astronaut, through the whole stack."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from emopulse.client import file_chunks
from emopulse.labels import EMOTIONS
from emopulse.v1 import results_pb2 as pb
from tests import media

pytestmark = pytest.mark.slow

EVERY_S = 2.0  # the stack's REACTION_EVERY_S (the default)


def of(events, kind):
    return [getattr(e, kind) for e in events if (e.WhichOneof("event") or e.WhichOneof("live")) == kind]


def reactions_of(events) -> list[pb.Reaction]:
    """The reactions in index order (Subscribe gives them as vision answers, in any order)."""
    return sorted(of(events, "reaction"), key=lambda r: r.index)


def top(expression) -> str:
    return EMOTIONS[int(np.argmax(list(expression)))]


@pytest.fixture(scope="module")
def crying_clip(media_dir):
    """7 s of silence over the crying face: reactions at 0, 2, 4 and 6 s."""
    return media.write_mp4(media_dir / "crying.mp4", np.zeros(7 * media.SAMPLE_RATE, np.float32),
                           media.crying_frame(), 7.0)


def test_a_crying_face_without_speech_is_read_as_sad(client, crying_clip):
    job = client.upload(crying_clip)
    events = list(client.subscribe(job.id, timeout=180))
    assert events[-1].HasField("summary") and client.get_job(job.id).state == pb.SUCCEEDED
    reactions = reactions_of(events)
    assert [r.index for r in reactions] == [0, 1, 2, 3]
    assert [r.time_s for r in reactions] == [0.0, 2.0, 4.0, 6.0]
    assert all(top(r.expression) == "sadness" and len(r.faces) == 1 for r in reactions)
    summary = events[-1].summary
    assert summary.utterance_count == 0 and summary.reaction_count == 4
    assert max(summary.reaction_expression, key=summary.reaction_expression.get) == "sadness"
    assert summary.note == "no speech detected; 4 reactions read"


def test_a_file_without_video_has_no_reactions(client, media_dir):
    path = media.write_mp4(media_dir / "quiet.m4a", np.zeros(5 * media.SAMPLE_RATE, np.float32), None)
    events = list(client.subscribe(client.upload(path).id, timeout=180))
    assert not of(events, "reaction")
    summary = events[-1].summary
    assert summary.reaction_count == 0 and summary.note == "no speech detected"


def test_reactions_are_read_only_where_nobody_speaks(client, media_dir):
    audio, spans = media.speech_track(media.SHORT_SENTENCES[:1], lead_s=4.5, tail_s=4.5)
    path = media.write_mp4(media_dir / "middle.mp4", audio, media.face_frame())
    (start, end), = spans
    events = list(client.subscribe(client.upload(path).id, timeout=180))
    assert len(of(events, "result")) == 1
    times = [r.time_s for r in reactions_of(events)]
    assert any(t < start for t in times) and any(t > end for t in times), (times, spans)
    assert all(t < start - 0.5 or t > end + 0.5 for t in times), (times, spans)
    assert times == sorted(times) and all(t % EVERY_S == 0 for t in times)
    summary = events[-1].summary
    assert summary.reaction_count == len(times) and not summary.note
    assert max(summary.reaction_expression, key=summary.reaction_expression.get) == "joy"  # the smiling astronaut


def test_a_live_crying_face_shows_in_the_pulse(client, crying_clip):
    ids = []
    pusher = threading.Thread(target=lambda: client.push_stream(file_chunks(crying_clip), language="en",
                                                                on_start=ids.append))
    pusher.start()
    deadline = time.time() + 30
    while not ids and time.time() < deadline:
        time.sleep(0.1)
    assert ids, "no stream id"
    events = list(client.subscribe(ids[0], timeout=120))
    pusher.join(30)
    assert events[-1].HasField("summary")
    reactions = reactions_of(events)
    assert len(reactions) >= 2 and [r.index for r in reactions] == list(range(len(reactions)))
    assert all(top(r.expression) == "sadness" and r.faces for r in reactions)
    assert events[-1].summary.reaction_count == len(reactions)
    windows = [w for p in of(events, "pulse") for w in p.windows if w.reactions]
    assert windows, "no pulse counted a reaction"
    assert all(top(w.face_expression) == "sadness" and w.faces >= 1 for w in windows)
