"""End to end through the real stack: upload a spoken clip with a face, read the results back."""
from __future__ import annotations

import re
import threading

import grpc
import numpy as np
import pytest

from emopulse.client import Client
from emopulse.labels import EMOTIONS, SENTIMENTS
from emopulse.stack import grpc_serving
from emopulse.v1 import results_pb2 as pb
from tests import media

pytestmark = pytest.mark.slow

OTHER_SENTENCES = ["The train leaves early tomorrow morning.", "Please close the window, it is cold."]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def events_of(client: Client, job_id: str) -> list[pb.JobEvent]:
    return list(client.subscribe(job_id, timeout=240))


def results_in(events) -> list[pb.UtteranceResult]:
    return [e.result for e in events if e.HasField("result")]


@pytest.fixture(scope="module")
def talking_job(client, talking_clip):
    path, placed = talking_clip
    job = client.upload(path)
    return job, events_of(client, job.id), placed


def test_transcript_times_faces_and_probabilities(talking_job):
    job, events, placed = talking_job
    results = results_in(events)
    assert [r.index for r in results] == list(range(len(media.SHORT_SENTENCES)))
    assert [words(r.text) for r in results] == [words(s) for s in media.SHORT_SENTENCES]
    for result, (start, end) in zip(results, placed):
        assert result.start_s < result.end_s
        assert abs(result.start_s - start) < 0.6 and abs(result.end_s - end) < 0.6
        assert [w.text.lower().strip(".,?!") for w in result.words] == words(result.text)
        assert result.language == "en"
        assert len(result.emotion) == len(EMOTIONS) and sum(result.emotion) == pytest.approx(1, abs=1e-5)
        assert len(result.sentiment) == len(SENTIMENTS) and sum(result.sentiment) == pytest.approx(1, abs=1e-5)
        text, audio, vision = result.modalities
        assert (text.modality, audio.modality, vision.modality) == (pb.TEXT, pb.AUDIO, pb.VISION)
        assert text.present and len(text.emotion) == 7 and len(text.sentiment) == 3 and "MELD" in text.classifier
        assert audio.present and len(audio.embedding) > 0 and not audio.emotion and not audio.sentiment
        assert vision.present and len(vision.faces) >= 1 and len(vision.emotion) == 7
        assert all(f.box.width >= 40 for f in vision.faces)
        assert not result.timed_out
        assert set(result.model_versions) >= {"speech_to_text", "text", "audio", "vision", "fusion"}
        assert result.model_versions["text"] == "text_classifier:2"  # the MELD-trained version is served
    starts = [r.start_s for r in results]
    assert starts == sorted(starts)


def test_summary_and_job_record(talking_job, client):
    job, events, placed = talking_job
    last = events[-1]
    assert last.HasField("summary")
    summary = last.summary
    results = results_in(events)
    assert summary.utterance_count == len(results) == 3
    assert sum(summary.emotion_distribution.values()) == pytest.approx(1)
    assert sum(summary.sentiment_distribution.values()) == pytest.approx(1)
    top = [EMOTIONS[int(np.argmax(r.emotion))] for r in results]
    assert summary.emotion_distribution[top[0]] >= 1 / 3 - 1e-6
    assert placed[-1][1] < summary.duration_s < placed[-1][1] + 2
    record = client.get_job(job.id)
    assert record.state == pb.SUCCEEDED and record.utterances_total == 3 and record.sha256 == job.sha256
    assert job.id in [j.id for j in client.list_jobs()]
    progress = [e.progress for e in events if e.HasField("progress")]
    assert {p.stage for p in progress} == {"transcribing", "fusing"}
    assert max(p.utterances_fused for p in progress) == 3 and progress[0].duration_s > 7


def test_late_subscriber_gets_identical_sequence(talking_job, client):
    job, events, _ = talking_job
    again = events_of(client, job.id)
    assert [e.SerializeToString() for e in again] == [e.SerializeToString() for e in events]


def test_two_jobs_at_once_never_mixed(client, talking_clip, media_dir):
    other, _ = media.make_talking_clip(media_dir / "other.mp4", OTHER_SENTENCES)
    jobs = [client.upload(talking_clip[0]), client.upload(other)]
    outcomes = {}

    def collect(job):
        outcomes[job.id] = events_of(client, job.id)

    threads = [threading.Thread(target=collect, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for job, sentences in zip(jobs, (media.SHORT_SENTENCES, OTHER_SENTENCES)):
        results = results_in(outcomes[job.id])
        assert all(r.job_id == job.id for r in results)
        assert [words(r.text) for r in results] == [words(s) for s in sentences]
        assert outcomes[job.id][-1].HasField("summary")


def test_every_server_reports_health(stack):
    for service in ("gateway", "transcriber", "audiotext", "vision", "fusion"):
        assert grpc_serving(f"127.0.0.1:{stack.grpc_port(service)}"), service


def test_reflection_lists_the_api(stack):
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
    with grpc.insecure_channel(stack.gateway) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        reply = next(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = {s.name for s in reply.list_services_response.service}
    assert {"emopulse.v1.EmoPulse", "grpc.health.v1.Health"} <= names


async def test_async_client_uploads_bytes_and_streams_results(stack, talking_clip):
    from emopulse.client import AsyncClient
    async with AsyncClient(stack.gateway) as client:
        job = await client.upload(talking_clip[0].read_bytes(), filename="talk.mp4")
        events = [e async for e in client.subscribe(job.id, timeout=240)]
        assert [e.result.index for e in events if e.HasField("result")] == [0, 1, 2]
        assert events[-1].HasField("summary")
        assert (await client.get_job(job.id)).state == pb.SUCCEEDED
        assert job.id in [j.id for j in await client.list_jobs(limit=50)]
        with pytest.raises(grpc.RpcError) as info:
            await client.cancel(job.id)
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
