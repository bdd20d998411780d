"""Analyze(reference): a path under the media root and an s3:// object on a real S3 server."""
from __future__ import annotations

import shutil

import boto3
import pytest

pytestmark = pytest.mark.slow


def sentences_of(client, job):
    events = list(client.subscribe(job.id, timeout=180))
    assert events[-1].HasField("summary"), events[-1]
    return [e.result.text for e in events if e.HasField("result")]


def test_path_under_the_media_root(client, media_root, talking_clip):
    target = media_root / "clips" / "talk.mp4"
    target.parent.mkdir(exist_ok=True)
    shutil.copy(talking_clip[0], target)
    job = client.analyze_reference("clips/talk.mp4")
    assert job.media_uri == target.resolve().as_uri()
    assert len(sentences_of(client, job)) == 3


def test_s3_reference(client, s3_server, talking_clip):
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    s3.upload_file(str(talking_clip[0]), "media", "in/talk.mp4")
    job = client.analyze_reference("s3://media/in/talk.mp4")
    assert job.media_uri == "s3://media/in/talk.mp4"
    assert len(sentences_of(client, job)) == 3
