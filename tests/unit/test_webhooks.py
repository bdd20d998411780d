"""Webhook delivery: signatures, backoff, URL checks, and real POSTs to a receiver on loopback."""
from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from aiohttp import web
from google.protobuf import json_format

from emopulse.runtime import webhooks
from emopulse.stack import free_port
from emopulse.v1 import api_pb2
from emopulse.v1 import results_pb2 as pb

SECRET = "s3cret-for-tests"
TIMEOUT_S = 0.3


def an_alert() -> pb.Alert:
    rule = pb.AlertRule(name="spike", kind=pb.NEGATIVE_SPIKE, threshold=0.6, min_count=3, window_s=60,
                        severity=pb.WARNING)
    window = pb.PulseWindow(length_s=60, utterances=5, sentiment=-0.4, negative_share=0.7,
                            emotion=[0.1, 0.05, 0.05, 0.1, 0.3, 0.3, 0.1], speaking_ratio=0.8, faces=2)
    return pb.Alert(id="cam1.spike.3", stream_id="cam1", stream_name="Caméra 1", rule=rule, media_s=125.5,
                    fired_at=1_700_000_000.25, window=window, value=0.7, utterances=[4, 5, 7],
                    quotes=["this is terrible", "I hate it"], message="negative share 70 % over 60 s")


def test_sign_then_verify_round_trip():
    data, ts = webhooks.body(an_alert()), "1700000000"
    signature = webhooks.sign(SECRET, ts, data)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert webhooks.verify(SECRET, ts, data, signature, now=1_700_000_010)


def test_body_is_compact_sorted_utf8_json():
    data = webhooks.body(an_alert())
    assert b": " not in data and b", " not in data
    assert "Caméra".encode() in data
    parsed = json.loads(data)
    assert list(parsed) == sorted(parsed) and parsed["stream_id"] == "cam1"


def test_tampered_body_wrong_secret_and_stale_timestamp_fail():
    data, ts = webhooks.body(an_alert()), "1700000000"
    signature = webhooks.sign(SECRET, ts, data)
    now = 1_700_000_000
    assert not webhooks.verify(SECRET, ts, data.replace(b"cam1", b"cam2"), signature, now=now)
    assert not webhooks.verify("another secret", ts, data, signature, now=now)
    assert not webhooks.verify(SECRET, "1700000001", data, signature, now=now)  # the timestamp is signed too
    assert webhooks.verify(SECRET, ts, data, signature, now=now + 299)
    assert not webhooks.verify(SECRET, ts, data, signature, now=now + 301)  # replayed too late
    assert not webhooks.verify(SECRET, ts, data, signature, now=now - 301)  # from the future
    assert webhooks.verify(SECRET, ts, data, signature, now=now + 500, tolerance_s=600)
    for bad_ts in ("", "-5", "1.5", " 1700000000", "1_700_000_000"):
        assert not webhooks.verify(SECRET, bad_ts, data, webhooks.sign(SECRET, bad_ts, data), now=now)
    for bad in ("", signature[7:], signature.upper(), signature + "0", "sha256=é"):
        assert not webhooks.verify(SECRET, ts, data, bad, now=now)


def test_retry_delay_doubles_up_to_the_cap():
    assert [webhooks.retry_delay(a) for a in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert [webhooks.retry_delay(a, cap_s=5) for a in range(1, 5)] == [1, 2, 4, 5]
    assert webhooks.retry_delay(10_000) == 60
    with pytest.raises(ValueError):
        webhooks.retry_delay(0)


@pytest.mark.parametrize("url", ["http://example.com/hook", "https://hooks.example.com:8443/a/b?x=1",
                                 "HTTPS://Example.com", "http://127.0.0.1:9000/", "http://[::1]:8080/h"])
def test_check_url_accepts(url):
    assert webhooks.check_url(url) == url


@pytest.mark.parametrize("url, words", [
    ("", "needs a URL"),
    ("ftp://example.com/hook", "http:// or https://"),
    ("example.com/hook", "http:// or https://"),
    ("javascript:alert(1)", "http:// or https://"),
    ("http:///path-only", "no host"),
    ("https://user:pw@example.com/hook", "user name or password"),
    ("https://user@example.com/hook", "user name or password"),
    ("http://example.com:99999/", "not a valid URL"),
    ("http://example.com/a b", "spaces"),
    ("https://example.com/" + "a" * 2048, "at most 2048"),
])
def test_check_url_refuses(url, words):
    with pytest.raises(ValueError, match=words) as caught:
        webhooks.check_url(url)
    assert "pw" not in str(caught.value)


class Receiver:
    """An aiohttp.web server on 127.0.0.1 that records every request it gets."""

    def __init__(self):
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.release = asyncio.Event()  # frees a /slow handler at teardown, so cleanup does not wait
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, dict(request.headers), await request.read()))
        if request.path == "/fail":
            return web.Response(status=500, text="boom")
        if request.path == "/slow":
            await asyncio.wait_for(self.release.wait(), 5)
        if request.path == "/redirect":
            raise web.HTTPFound("/ok")
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def receiver():
    r = Receiver()
    await r.start()
    yield r
    r.release.set()
    await r.runner.cleanup()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


async def test_post_delivers_a_signed_alert_the_receiver_can_verify_and_parse(receiver, session):
    alert, now = an_alert(), time.time()
    hook = api_pb2.Webhook(url=receiver.url("/ok"), secret=SECRET)
    delivery = await webhooks.post(session, hook, alert, attempt=2, timeout_s=TIMEOUT_S, now=now)
    assert delivery == api_pb2.WebhookDelivery(alert_id=alert.id, url=hook.url, attempt=2, at=now, status=204,
                                               delivered=True)
    [(path, headers, data)] = receiver.requests
    assert path == "/ok" and headers["Content-Type"] == "application/json"
    assert headers[webhooks.ALERT_ID_HEADER] == alert.id
    assert headers[webhooks.TIMESTAMP_HEADER] == str(int(now))
    assert SECRET not in json.dumps(headers) and SECRET.encode() not in data
    assert webhooks.verify(SECRET, headers[webhooks.TIMESTAMP_HEADER], data, headers[webhooks.SIGNATURE_HEADER])
    assert not webhooks.verify("wrong", headers[webhooks.TIMESTAMP_HEADER], data,
                               headers[webhooks.SIGNATURE_HEADER])
    assert json_format.ParseDict(json.loads(data), pb.Alert()) == alert


async def test_a_500_is_not_delivered(receiver, session):
    hook = api_pb2.Webhook(url=receiver.url("/fail"), secret=SECRET)
    delivery = await webhooks.post(session, hook, an_alert(), attempt=1, timeout_s=TIMEOUT_S)
    assert not delivery.delivered and delivery.status == 500
    assert delivery.error == "HTTP 500 from the receiver"


async def test_a_slow_receiver_times_out(receiver, session):
    hook = api_pb2.Webhook(url=receiver.url("/slow"), secret=SECRET)
    started = time.monotonic()
    delivery = await webhooks.post(session, hook, an_alert(), attempt=1, timeout_s=TIMEOUT_S)
    assert time.monotonic() - started < TIMEOUT_S + 1
    assert not delivery.delivered and delivery.status == 0
    assert delivery.error == f"no answer within {TIMEOUT_S:g} s"


async def test_a_closed_port_is_a_connection_error(session):
    port = free_port()  # free a moment ago, and no listener now
    hook = api_pb2.Webhook(url=f"http://127.0.0.1:{port}/hook", secret=SECRET)
    delivery = await webhooks.post(session, hook, an_alert(), attempt=3, timeout_s=TIMEOUT_S)
    assert not delivery.delivered and delivery.status == 0 and delivery.attempt == 3
    assert delivery.error == "could not connect: connection refused"


async def test_a_redirect_is_not_followed(receiver, session):
    hook = api_pb2.Webhook(url=receiver.url("/redirect"), secret=SECRET)
    delivery = await webhooks.post(session, hook, an_alert(), attempt=1, timeout_s=TIMEOUT_S)
    assert not delivery.delivered and delivery.status == 302
    assert "redirects are not followed" in delivery.error
    assert [path for path, _, _ in receiver.requests] == ["/redirect"]  # /ok never got the signed body


async def test_an_unknown_host_is_an_error_not_an_exception(session):
    hook = api_pb2.Webhook(url="http://no-such-host.invalid/hook", secret=SECRET)
    delivery = await webhooks.post(session, hook, an_alert(), attempt=1, timeout_s=2)
    assert not delivery.delivered and delivery.status == 0
    assert delivery.error.startswith(("could not connect", "no answer within"))
    assert SECRET not in delivery.error
