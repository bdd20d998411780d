"""Bad input gets a clear error or a FAILED job with a reason, and other jobs keep working."""
from __future__ import annotations

import grpc
import pytest

from emopulse.v1 import results_pb2 as pb
from tests import media
from tests.stack_fixtures import UPLOAD_LIMIT

pytestmark = pytest.mark.slow


def final(client, job_id) -> pb.JobEvent:
    return list(client.subscribe(job_id, timeout=180))[-1]


def rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


@pytest.fixture(scope="module")
def bad(media_dir, talking_clip):
    d = media_dir / "bad"
    d.mkdir(exist_ok=True)
    return {
        "random": media.make_random_bytes(d),
        "truncated": media.make_truncated(talking_clip[0], d / "truncated.mp4"),
        "audio_only": media.make_audio_only(d),
        "video_only": media.make_video_only(d),
        "silent": media.make_silent_video(d),
        "empty": media.make_zero_byte(d),
    }


def test_zero_byte_upload_is_invalid_argument(client, bad):
    error = rpc_error(lambda: client.upload(bad["empty"]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "empty" in error.details()


def test_upload_over_the_limit_is_resource_exhausted(client):
    error = rpc_error(lambda: client.upload(b"\0" * (UPLOAD_LIMIT + 1), filename="big.mp4"))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "limit" in error.details()


@pytest.mark.parametrize("ref", ["../outside.mp4", "/etc/passwd", "http://example.invalid/a.mp4", "s3://"])
def test_reference_outside_the_media_root_is_invalid_argument(client, ref):
    error = rpc_error(lambda: client.analyze_reference(ref))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_missing_file_under_the_root_is_not_found(client):
    assert rpc_error(lambda: client.analyze_reference("nope/missing.mp4")).code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("call", ["get_job", "cancel", "subscribe"])
def test_unknown_job_id_is_not_found(client, call):
    def run():
        result = getattr(client, call)("0123456789abcdef")
        if call == "subscribe":
            list(result)
    assert rpc_error(run).code() == grpc.StatusCode.NOT_FOUND


def test_bad_files_fail_with_reasons_while_a_good_job_succeeds(client, bad, talking_clip):
    good = client.upload(talking_clip[0])
    jobs = {name: client.upload(bad[name]) for name in ("random", "truncated", "video_only")}
    random_end = final(client, jobs["random"].id)
    assert random_end.ended.state == pb.FAILED and "not a readable" in random_end.ended.reason
    video_only_end = final(client, jobs["video_only"].id)
    assert video_only_end.ended.state == pb.FAILED and "no audio track" in video_only_end.ended.reason
    truncated_end = final(client, jobs["truncated"].id)
    # A truncated mp4 whose index is gone cannot be read at all: FAILED, saying so.
    assert truncated_end.HasField("ended") and truncated_end.ended.state == pb.FAILED
    assert truncated_end.ended.reason
    good_end = final(client, good.id)
    assert good_end.HasField("summary") and good_end.summary.utterance_count == 3
    for name, job in jobs.items():
        assert client.get_job(job.id).state == pb.FAILED, name


def test_audio_only_file_succeeds_without_vision(client, bad):
    events = list(client.subscribe(client.upload(bad["audio_only"]).id, timeout=180))
    results = [e.result for e in events if e.HasField("result")]
    assert events[-1].HasField("summary") and len(results) >= 1
    for r in results:
        vision = r.modalities[2]
        assert not vision.present and vision.absent_reason == "the media has no video track"
        assert r.modalities[0].present and not r.timed_out


def test_silent_video_succeeds_with_no_utterances(client, bad):
    events = list(client.subscribe(client.upload(bad["silent"]).id, timeout=180))
    assert not [e for e in events if e.HasField("result")]
    summary = events[-1].summary
    # The face is still read while nobody speaks (at 0 and 2 s): reactions, not an empty result.
    assert summary.utterance_count == 0 and summary.note == "no speech detected; 2 reactions read"
    assert sorted(e.reaction.time_s for e in events if e.HasField("reaction")) == [0.0, 2.0]
