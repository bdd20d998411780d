"""Each service on its own terms: events published straight onto the real NATS of the running
stack, the service's output read back from JetStream (its models run in the real tritonserver)."""
from __future__ import annotations

import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

import nats
import numpy as np
import pytest
from nats.js.api import DeliverPolicy

from emopulse.labels import SAMPLE_RATE
from emopulse.processing import media as mediaproc
from emopulse.processing.audio_features import AUDIO_EMBEDDING_DIM
from emopulse.runtime import bus
from emopulse.v1 import events_pb2 as ev
from emopulse.v1 import results_pb2 as pb
from tests import media

pytestmark = pytest.mark.slow


@pytest.fixture
async def js(stack):
    nc = await nats.connect(stack.nats_url)
    yield nc.jetstream()
    await nc.close()


async def new_job(js, media_uri="", state=pb.RUNNING) -> pb.Job:
    job = pb.Job(id=uuid.uuid4().hex, state=state, media_uri=media_uri, created_at=time.time())
    await bus.JobStore(js, "test").create(job)
    return job


async def read(js, subject: str, parse, count: int = 1, timeout: float = 60):
    """The first `count` messages on a subject, from the stream's start."""
    sub = await js.subscribe(subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
    try:
        return [parse((await sub.next_msg(timeout=timeout)).data) for _ in range(count)]
    finally:
        await sub.unsubscribe()


async def publish_utterance(js, u: ev.Utterance) -> None:
    await bus.publish(js, bus.utterances_subject(u.job_id), ev.UtteranceEvent(utterance=u),
                      f"utterance:{u.job_id}:{u.index}", "test")


def spoken(tmp_path, text) -> str:
    """The URI of `text` spoken, stored as an utterance's audio is (16 kHz PCM16, by reference)."""
    wav = media.speak(text, tmp_path / "s.wav")
    span = tmp_path / "s.pcm16"
    span.write_bytes(mediaproc.to_pcm16(media.read_wav(wav, SAMPLE_RATE)))
    return span.as_uri()


async def test_audiotext_publishes_text_and_audio_features(js, tmp_path):
    job = await new_job(js)
    text = "I love this so much, what a wonderful day."
    await publish_utterance(js, ev.Utterance(job_id=job.id, index=0, start_s=0, end_s=3, text=text,
                                             audio_uri=spoken(tmp_path, text)))
    [feature_text] = await read(js, bus.features_subject("text", job.id), ev.Feature.FromString)
    [feature_audio] = await read(js, bus.features_subject("audio", job.id), ev.Feature.FromString)
    t, a = feature_text.result, feature_audio.result
    assert t.present and t.modality == pb.TEXT and len(t.embedding) == 384
    assert sum(t.emotion) == pytest.approx(1, abs=1e-5) and sum(t.sentiment) == pytest.approx(1, abs=1e-5)
    assert int(np.argmax(t.sentiment)) == 0, "a clearly positive sentence comes out positive"
    assert t.model_version.startswith("text_classifier:")
    assert a.present and a.modality == pb.AUDIO and len(a.embedding) == AUDIO_EMBEDDING_DIM
    assert not a.emotion and not a.sentiment and "no trained" in a.classifier
    assert "MELD" in t.classifier and t.model_version == "text_classifier:2"


async def test_vision_finds_the_face_or_says_why_not(js, talking_clip):
    path, placed = talking_clip
    job = await new_job(js, path.as_uri())
    start, end = placed[0]
    await publish_utterance(js, ev.Utterance(job_id=job.id, index=0, start_s=start, end_s=end, text="x",
                                             media_uri=path.as_uri(), has_video=True))
    await publish_utterance(js, ev.Utterance(job_id=job.id, index=1, start_s=start, end_s=end, text="x",
                                             media_uri=path.as_uri(), has_video=False))
    features = {f.index: f.result for f in await read(js, bus.features_subject("vision", job.id), ev.Feature.FromString, 2)}
    seen = features[0]
    assert seen.present and seen.faces and all(start - 0.2 <= f.time_s <= end + 0.2 for f in seen.faces)
    assert int(np.argmax(seen.emotion)) == 3, "the smiling astronaut reads as joy"
    assert not features[1].present and features[1].absent_reason == "the media has no video track"


async def test_fusion_joins_the_parts_and_finishes_the_job(js):
    job = await new_job(js)
    emotion = [0.05, 0.05, 0.05, 0.6, 0.1, 0.1, 0.05]
    sentiment = [0.7, 0.2, 0.1]
    parts = {
        "text": pb.ModalityResult(modality=pb.TEXT, present=True, emotion=emotion, sentiment=sentiment, embedding=[0.1] * 384),
        "audio": pb.ModalityResult(modality=pb.AUDIO, present=True, embedding=[0.0] * AUDIO_EMBEDDING_DIM),
        "vision": pb.ModalityResult(modality=pb.VISION, present=False, absent_reason="no face found"),
    }
    # Features first, so the real audiotext/vision workers (which also see the utterance) publish
    # theirs only after these: JetStream drops theirs as duplicates of (job, utterance, modality).
    for modality, result in parts.items():
        await bus.publish(js, bus.features_subject(modality, job.id), ev.Feature(job_id=job.id, index=0, result=result),
                          f"feature:{modality}:{job.id}:0", "test")
    await publish_utterance(js, ev.Utterance(job_id=job.id, index=0, start_s=1, end_s=2, text="hello", cut_at=time.time()))
    await bus.publish(js, bus.utterances_subject(job.id), ev.UtteranceEvent(done=ev.TranscriptDone(
        job_id=job.id, utterance_count=1, duration_s=3)), f"done:{job.id}", "test")
    events = await read(js, bus.results_subject(job.id), pb.JobEvent.FromString, 3)
    assert [e.WhichOneof("event") for e in events] == ["result", "progress", "summary"]
    result_event, progress_event, summary_event = events
    assert progress_event.progress.utterances_fused == 1
    r = result_event.result
    # Only text has probabilities: late fusion returns exactly them.
    assert list(r.emotion) == pytest.approx(emotion, abs=1e-5) and list(r.sentiment) == pytest.approx(sentiment, abs=1e-5)
    assert [m.present for m in r.modalities] == [True, True, False] and r.modalities[2].absent_reason == "no face found"
    assert r.model_versions["fusion"].startswith("fusion:")
    assert summary_event.summary.utterance_count == 1 and summary_event.summary.emotion_distribution["joy"] == 1
    stored = await bus.JobStore(js, "test").get(job.id)
    assert stored.state == pb.SUCCEEDED and stored.utterances_fused == 1


async def test_transcriber_cuts_the_clip_into_utterances(js, talking_clip):
    path, placed = talking_clip
    job = await new_job(js, path.as_uri(), state=pb.QUEUED)
    await bus.publish(js, bus.jobs_subject(), ev.JobCreated(job=job), f"job:{job.id}", "test")
    events = await read(js, bus.utterances_subject(job.id), ev.UtteranceEvent.FromString, len(placed) + 1)
    utterances, done = [e.utterance for e in events[:-1]], events[-1].done
    assert [u.index for u in utterances] == list(range(len(placed)))
    assert done.utterance_count == len(placed) and done.language == "en"
    assert [u.context for u in utterances] == ["", utterances[0].text, f"{utterances[0].text} {utterances[1].text}"]
    for u, (start, end) in zip(utterances, placed):
        assert abs(u.start_s - start) < 0.6 and abs(u.end_s - end) < 0.6 and u.has_video
        audio = Path(unquote(urlparse(u.audio_uri).path)).read_bytes()  # by reference, not on the bus
        assert len(audio) == pytest.approx(2 * SAMPLE_RATE * (u.end_s - u.start_s), abs=4)
    assert (await bus.JobStore(js, "test").get(job.id)).state in (pb.RUNNING, pb.SUCCEEDED)
