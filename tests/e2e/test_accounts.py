"""Accounts end to end: two more gateway replicas with EMOPULSE_AUTH=on beside the session's stack (same
NATS, same workers), keys made with the `emopulse keys` command; wrong, missing and revoked keys,
tenants that cannot see each other, an admin who sees all; and the embedded stack itself: listeners on
loopback only, NATS that refuses a client without the password."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from emopulse.client import Client, file_chunks
from emopulse.stack import REPO_ROOT, grpc_serving
from emopulse.v1 import results_pb2 as pb
from tests.live_sources import RtspSource
from tests.stack_fixtures import USAGE_METER_S, extra_gateways

pytestmark = pytest.mark.slow

AUTH_CACHE_S = 1.0


def keys_command(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emopulse.cli", "--data-dir", str(stack.data_dir), "keys", *args],
                          capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)


def new_key(stack, name: str, *extra: str) -> str:
    done = keys_command(stack, "create", "--name", name, *extra)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def gateways(stack):
    """Two gateway replicas with auth on (the session's own gateway stays open, as the embedded default)."""
    on = {"EMOPULSE_AUTH": "on", "EMOPULSE_AUTH_CACHE_S": str(AUTH_CACHE_S)}
    with extra_gateways(stack, [on, on], lambda address, _: grpc_serving(address)) as addresses:
        yield addresses


@pytest.fixture(scope="module")
def keys(stack):
    return {"a": new_key(stack, "tenant a"), "b": new_key(stack, "tenant b"),
            "admin": new_key(stack, "operator", "--admin")}


def refused(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def test_missing_wrong_and_malformed_keys_are_unauthenticated(gateways, keys):
    address = gateways[0]
    forged = "ep_" + keys["a"].split("_")[1] + "_" + "A" * 43  # a real key id with another secret
    for key in ("", "not-a-key", "ep_0123456789abcdef_" + "x" * 43, forged):
        with Client(address, timeout=10, api_key=key) as c:
            for call in (c.list_jobs, lambda: c.get_job("x"), lambda: list(c.subscribe("x", timeout=5))):
                error = refused(call)
                assert error.code() == grpc.StatusCode.UNAUTHENTICATED, (key, error)
            assert "API key" in refused(c.list_jobs).details()
    # health answers without a key (probes), and a good key gets in
    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    with Client(address, timeout=10, api_key=keys["a"]) as c:
        assert isinstance(c.list_jobs(), list)


def test_tenants_see_only_their_own_jobs_and_streams_and_an_admin_sees_all(gateways, keys, talking_clip):
    a, b = (Client(gateways[0], timeout=30, api_key=keys[k]) for k in ("a", "b"))
    admin = Client(gateways[1], timeout=30, api_key=keys["admin"])
    try:
        job = a.upload(talking_clip[0], language="en")
        results, last = a.results(job.id, timeout=240)
        assert last.HasField("summary") and len(results) == 3  # the pipeline runs for a tenant's job
        for call in (lambda: b.get_job(job.id), lambda: b.cancel(job.id),
                     lambda: list(b.subscribe(job.id, timeout=10)), lambda: b.get_job("f" * 32)):
            error = refused(call)
            assert error.code() == grpc.StatusCode.NOT_FOUND
            assert error.details().startswith("no job with id")  # the same answer as for an id that does not exist
        assert job.id in {j.id for j in a.list_jobs()} and job.id not in {j.id for j in b.list_jobs()}
        assert job.id in {j.id for j in admin.list_jobs()} and admin.get_job(job.id).tenant == a.get_job(job.id).tenant
        # one request id, two tenants: two jobs
        rid = uuid.uuid4().hex
        assert a.upload(talking_clip[0], request_id=rid).id != b.upload(talking_clip[0], request_id=rid).id

        started = []
        stream = a.push_stream(file_chunks(talking_clip[0]), name="a's stream", on_start=started.append)
        assert stream.id == started[0]
        for call in (lambda: b.get_stream(stream.id), lambda: b.stop_stream(stream.id),
                     lambda: b.get_alert_rules(stream.id),
                     lambda: b.post_audience(stream.id, [{"message_id": "m1", "text": "hi"}], timeout=10),
                     lambda: b.analyze_reference(f"stream:{stream.id}")):
            assert refused(call).code() == grpc.StatusCode.NOT_FOUND
        assert stream.id not in {s.id for s in b.list_streams()} and stream.id in {s.id for s in a.list_streams()}
        assert stream.id in {s.id for s in admin.list_streams()}
    finally:
        for c in (a, b, admin):
            c.close()


def test_a_revoked_key_is_refused_on_every_gateway_within_seconds(stack, gateways):
    key = new_key(stack, "short-lived")
    clients = [Client(address, timeout=10, api_key=key) for address in gateways]
    try:
        for c in clients:
            c.list_jobs()
        listed = keys_command(stack, "list")
        key_id = key.split("_")[1]
        assert key_id in listed.stdout and "short-lived" in listed.stdout
        assert key.split("_", 2)[2] not in listed.stdout  # the secret is shown once, at creation, never again
        revoked_at = time.monotonic()
        assert keys_command(stack, "revoke", key_id).returncode == 0
        for c in clients:
            while True:
                try:
                    c.list_jobs()
                except grpc.RpcError as exc:
                    assert exc.code() == grpc.StatusCode.UNAUTHENTICATED and "revoked" in exc.details()
                    break
                assert time.monotonic() - revoked_at < AUTH_CACHE_S + 3, "a revoked key still works"
                time.sleep(0.1)
        line = next(x for x in keys_command(stack, "list").stdout.splitlines() if x.startswith(key_id))
        columns = re.split(r"\s{2,}", line)  # id, name, tenant, role, created, last used, revoked, use
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", columns[6]) and columns[7].endswith("streams")
    finally:
        for c in clients:
            c.close()


def test_the_cli_sends_the_key_from_the_environment(stack, gateways, keys):
    def jobs(key: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "emopulse.cli", "jobs", "--gateway", gateways[0]],
                              capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
                              env=os.environ | {"EMOPULSE_API_KEY": key})
    assert jobs(keys["a"]).returncode == 0
    denied = jobs("")
    assert denied.returncode == 1 and "UNAUTHENTICATED" in denied.stderr


def test_the_embedded_stack_listens_on_loopback_only(stack):
    table = subprocess.run(["ss", "-Htlnp"], capture_output=True, text=True, check=True).stdout
    pids = set(stack.pids.values())
    ours = [line for line in table.splitlines() if any(f"pid={p}," in line for p in pids)]
    assert len(ours) >= len(pids)  # every process listens somewhere
    local = [line.split()[3] for line in ours]
    assert all(addr.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:")) for addr in local), local


async def test_nats_refuses_a_client_without_the_password(stack):
    import nats
    from nats.errors import NoServersError

    with pytest.raises((NoServersError, nats.errors.Error, OSError)):
        await nats.connect(f"nats://127.0.0.1:{stack.ports.nats}", connect_timeout=2, max_reconnect_attempts=0,
                           allow_reconnect=False)
    nc = await nats.connect(stack.nats_url, connect_timeout=2)
    await nc.close()


def exhausted(call) -> grpc.RpcError:
    error = refused(call)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
    return error


def test_each_quota_trips_with_resource_exhausted_and_resets(stack, gateways, talking_clip):
    address = gateways[0]
    # requests per second: a bucket of 2, refilled at 1 a second; retry-after says when
    with Client(address, timeout=30, api_key=new_key(stack, "slow", "--quota", "requests_per_second=1",
                                                     "--quota", "burst=2")) as c:
        with pytest.raises(grpc.RpcError) as caught:
            for _ in range(5):
                c.list_jobs()
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "requests per second" in caught.value.details()
        wait = float(dict(caught.value.trailing_metadata())["retry-after"])
        assert 0 < wait <= 1.0
        time.sleep(wait + 0.05)
        c.list_jobs()  # reset
    # concurrent jobs, upload size, media minutes, audience per minute; GetUsage counts what was used
    key = new_key(stack, "small", "--quota", "concurrent_jobs=1", "--quota", "media_minutes_per_month=0.1",
                  "--quota", "upload_bytes=2000000", "--quota", "audience_per_minute=2")
    with Client(address, timeout=30, api_key=key) as c:
        first = c.upload(talking_clip[0], language="en")
        error = exhausted(lambda: c.upload(talking_clip[0], language="en"))
        assert "concurrent jobs: 1 of 1 running" in error.details()
        c.results(first.id, timeout=240)
        assert "upload size" in exhausted(lambda: c.upload(b"\0" * 2_100_000, filename="big.mp4")).details()
        deadline = time.time() + 60  # the ended job's minutes are counted when its history is recorded
        while c.get_usage().media_minutes == 0:
            assert time.time() < deadline, "the job's media minutes were never counted"
            time.sleep(0.5)
        usage = c.get_usage()
        assert usage.jobs >= 1 and usage.running_jobs == 0 and usage.limits["concurrent_jobs"] == 1
        assert usage.media_minutes == pytest.approx(c.get_job(first.id).duration_s / 60, abs=0.02)
        error = exhausted(lambda: c.upload(talking_clip[0], language="en"))  # the 6 s allowed are used
        assert "media minutes this month" in error.details() and usage.resets_at in error.details()
    with Client(address, timeout=30, api_key=new_key(stack, "chatty", "--quota", "audience_per_minute=2")) as c:
        started = []
        pushing = threading.Thread(target=c.push_stream, args=(file_chunks(talking_clip[0]),),
                                   kwargs={"name": "chat", "on_start": started.append})
        pushing.start()
        deadline = time.time() + 20
        while not started:
            assert time.time() < deadline, "no stream id"
            time.sleep(0.1)
        error = exhausted(lambda: c.post_audience(started[0], [{"message_id": f"m{i}", "text": "hi"} for i in range(3)],
                                                  timeout=10))
        assert "audience messages per minute: 2 of 2 used" in error.details()
        pushing.join(60)


def test_a_live_stream_is_stopped_when_its_owners_month_is_used_up(stack, gateways, talking_clip):
    """A stream's length is not known when it starts: its media is counted as it plays (every
    USAGE_METER_S), it ends by itself once the month's minutes are used, and it is counted once in all."""
    allowed_s = 12.0
    key = new_key(stack, "metered", "--quota", f"media_minutes_per_month={allowed_s / 60}")
    with Client(gateways[0], timeout=30, api_key=key) as c:
        with RtspSource(talking_clip[0], loop=True) as camera:
            stream = c.start_stream(camera.url, name="metered", language="en")
            assert stream.media_minutes_per_month == pytest.approx(allowed_s / 60)
            deadline = time.time() + 120
            while (seen := c.get_stream(stream.id)).state not in (pb.STREAM_ENDED, pb.STREAM_FAILED):
                assert time.time() < deadline, f"the stream went on past its month's minutes: {seen}"
                time.sleep(0.5)
        assert seen.state == pb.STREAM_ENDED and seen.stop_reason.startswith("stopped: media minutes this month")
        assert seen.detail == seen.stop_reason and seen.reason == ""
        # stopped within a few seconds of the allowance: a meter step, a renewal, and speech in progress
        assert allowed_s <= seen.media_seconds < allowed_s + USAGE_METER_S + 8, seen.media_seconds
        deadline = time.time() + 60  # the end counts the rest, once
        while abs(c.get_usage().media_minutes * 60 - seen.media_seconds) > 0.01:
            assert time.time() < deadline, (c.get_usage(), seen.media_seconds)
            time.sleep(0.5)
        error = exhausted(lambda: c.start_stream("rtsp://127.0.0.1:1/next", name="next"))
        assert "media minutes this month" in error.details()
        time.sleep(2 * USAGE_METER_S)  # nothing comes after the end (a late clock, a redelivered end)
        assert c.get_usage().media_minutes * 60 == pytest.approx(seen.media_seconds, abs=0.01)


async def test_the_async_sdk_sends_the_key_on_every_kind_of_call(gateways, keys, talking_clip):
    from emopulse.client import AsyncClient

    async with AsyncClient(gateways[0], timeout=30, api_key=keys["a"]) as c:
        job = await c.upload(talking_clip[0], language="en")           # client streaming
        assert job.id in {j.id for j in await c.list_jobs()}           # unary
        events = [e async for e in c.subscribe(job.id, timeout=240)]   # server streaming
        assert any(e.HasField("summary") for e in events)
    async with AsyncClient(gateways[0], timeout=10, api_key="") as anonymous:
        with pytest.raises(grpc.RpcError) as caught:
            await anonymous.list_jobs()
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
