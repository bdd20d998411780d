"""Direct uploads end to end: a gateway replica with S3 storage and auth on beside the session's stack
(same NATS, same workers), the file PUT to the real moto_server with a presigned URL, then analysed by
its upload:<id> reference; only by the key that made it, only once something was PUT; s3:// references only
in the allowed buckets; and a gateway on local storage saying direct uploads need S3."""
from __future__ import annotations

import subprocess
import sys
import time

import boto3
import grpc
import pytest

from emopulse.client import Client
from emopulse.stack import REPO_ROOT, free_port, grpc_serving
from tests.e2e.test_accounts import new_key
from tests.stack_fixtures import UPLOAD_LIMIT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s3_gateway(stack, s3_server):
    """A gateway replica storing media in the moto bucket "media", with auth on."""
    port = free_port()
    env = stack.service_env("gateway") | {
        "EMOPULSE_GRPC_PORT": str(port), "EMOPULSE_METRICS_PORT": "0", "EMOPULSE_AUTH": "on",
        "EMOPULSE_STORAGE": "s3", "EMOPULSE_S3_BUCKET": "media", "EMOPULSE_S3_ENDPOINT_URL": s3_server}
    address = f"127.0.0.1:{port}"
    with open(stack.data_dir / "logs" / f"gateway-s3-{port}.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "services.gateway"], env=env, cwd=REPO_ROOT,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while not grpc_serving(address):
            assert time.time() < deadline and proc.poll() is None, "the S3 gateway did not start"
            time.sleep(0.2)
        yield address
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def clients(stack, s3_gateway):
    key_a = new_key(stack, "uploader a")
    a = Client(s3_gateway, timeout=30, api_key=key_a)
    b = Client(s3_gateway, timeout=30, api_key=new_key(stack, "uploader b"))
    # another key of A's tenant (a tenant is its first key's id unless --tenant names it)
    a2 = Client(s3_gateway, timeout=30, api_key=new_key(stack, "uploader a2", "--tenant", key_a.split("_")[1]))
    try:
        yield a, b, a2
    finally:
        for c in (a, b, a2):
            c.close()


def refused(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def test_a_direct_upload_is_analysed_for_its_own_key_only(clients, s3_server, talking_clip):
    a, b, a2 = clients
    path = talking_clip[0]
    job = a.upload_direct(path, language="en")  # CreateUpload, PUT to moto_server, Analyze(upload:<id>)
    assert job.filename == path.name and job.media_uri.startswith("s3://media/uploads/")
    key = job.media_uri.removeprefix("s3://media/")
    stored = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").head_object(Bucket="media", Key=key)
    assert stored["ContentLength"] == path.stat().st_size and stored["ContentType"] == "video/mp4"
    results, last = a.results(job.id, timeout=240)
    assert last.HasField("summary") and len(results) == 3

    reference = "upload:" + key.split("/")[1]
    unknown = "upload:" + "0" * 32
    never = refused(lambda: b.analyze_reference(unknown))
    for other in (b, a2):  # A's reference, as another tenant's key and as another key of A's tenant
        theirs = refused(lambda: other.analyze_reference(reference))
        assert never.code() == theirs.code() == grpc.StatusCode.NOT_FOUND
        assert theirs.details() == never.details().replace(unknown, reference)  # the same words: no oracle
    assert a2.get_job(job.id).id == job.id  # the job itself is the tenant's, as every job is
    # nor can B (or A) reach the stored object by its s3:// name: the store's own prefixes are refused
    own = refused(lambda: b.analyze_reference(job.media_uri))
    assert own.code() == grpc.StatusCode.INVALID_ARGUMENT and "own storage" in own.details()


def test_refusals_before_any_work(clients, client):
    a = clients[0]
    ticket = a.create_upload("later.mp4", content_type="video/mp4")
    assert ticket.reference.startswith("upload:") and ticket.method == "PUT"
    assert ticket.headers["Content-Type"] == "video/mp4" and ticket.expires_at > time.time()
    nothing = refused(lambda: a.analyze_reference(ticket.reference))
    assert nothing.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "nothing has been uploaded to that reference yet" in nothing.details()

    too_big = refused(lambda: a.create_upload("big.mp4", size_bytes=UPLOAD_LIMIT + 1))
    assert too_big.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    outside = refused(lambda: a.analyze_reference("s3://not-allowed-bucket/x"))
    assert outside.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "EMOPULSE_S3_ANALYZE_BUCKETS" in outside.details() and "not-allowed-bucket" in outside.details()

    local = refused(lambda: client.create_upload("talk.mp4"))  # the session's gateway keeps media on disk
    assert local.code() == grpc.StatusCode.FAILED_PRECONDITION and "need S3 storage" in local.details()
