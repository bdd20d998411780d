"""Python SDK: `Client` (blocking) and `AsyncClient` (asyncio) for the EmoPulse gateway.

    from emopulse import Client
    with Client("127.0.0.1:50051") as client:
        job = client.upload("talk.mp4")
        for event in client.subscribe(job.id):
            if event.HasField("result"):
                print(event.result.text, event.result.emotion)
"""
from __future__ import annotations

import asyncio
import collections
import json
import os
import time
import uuid
from pathlib import Path
from typing import AsyncIterator, Iterator

import grpc

from emopulse.v1 import api_pb2, api_pb2_grpc
from emopulse.v1 import results_pb2 as pb

CHUNK_BYTES = 256 * 1024
# Retry calls that never reached a server (UNAVAILABLE) with backoff; gRPC does it transparently.
SERVICE_CONFIG = json.dumps({"methodConfig": [{
    "name": [{"service": "emopulse.v1.EmoPulse"}],
    "retryPolicy": {"maxAttempts": 5, "initialBackoff": "0.2s", "maxBackoff": "2s",
                    "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]},
}]})
OPTIONS = [("grpc.service_config", SERVICE_CONFIG), ("grpc.enable_retries", 1),
           ("grpc.max_receive_message_length", 64 * 1024 * 1024)]
# Beyond gRPC's own retries (a few seconds), a gateway that is restarting is waited for this long
# (a constructor argument: the CLI waits less, a person is watching).
# Safe for Upload/Analyze because each call carries a request id: a retry returns the same job.
RECONNECT_S = 60.0


def _unavailable(exc: grpc.RpcError) -> bool:
    return exc.code() == grpc.StatusCode.UNAVAILABLE


def _backoff(attempt: int) -> float:
    return min(0.25 * 2 ** attempt, 3.0)


class _Resume:
    """What a subscription keeps across reconnects: every event carries its sequence number, so a
    new stream asks for the events after the last one given out."""

    def __init__(self, job_id: str, timeout: float | None, reconnect_s: float, after: int, from_now: bool):
        self.job_id, self.after, self.from_now = job_id, after, from_now
        self.reconnect_s = reconnect_s
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.seen, self.attempt, self.lost_at = 0, 0, None

    def request(self) -> api_pb2.SubscribeRequest:
        after = max(self.seen, self.after)
        if after:
            return api_pb2.SubscribeRequest(job_id=self.job_id, start=api_pb2.SubscribeRequest.AFTER, after=after)
        start = api_pb2.SubscribeRequest.NOW if self.from_now else api_pb2.SubscribeRequest.BEGINNING
        return api_pb2.SubscribeRequest(job_id=self.job_id, start=start)

    def time_left(self) -> float | None:
        return None if self.deadline is None else max(0.1, self.deadline - time.monotonic())

    def is_new(self, event: pb.JobEvent) -> bool:
        if event.sequence <= self.seen:
            return False
        self.seen, self.attempt, self.lost_at = event.sequence, 0, None
        return True

    def retry_delay(self, exc: grpc.RpcError) -> float:
        """Seconds to wait before reconnecting; raises when the error is not the gateway going away
        mid-stream (a gateway never reached is reported at once), or it has been away too long."""
        now = time.monotonic()
        self.lost_at = self.lost_at or now
        if (not _unavailable(exc) or not self.seen or now - self.lost_at > self.reconnect_s
                or (self.deadline and now > self.deadline)):
            raise exc
        self.attempt += 1
        return _backoff(self.attempt - 1)


STREAM_ID_HEADER = "emopulse-stream-id"


def _push_info(fmt: str, name: str, language: str, request_id: str | None,
               speakers: api_pb2.Speakers | None = None) -> api_pb2.PushChunk:
    return api_pb2.PushChunk(info=api_pb2.PushInfo(format=fmt, name=name, language=language,
                                                   request_id=request_id or uuid.uuid4().hex, speakers=speakers))


def speaker_bounds(min_speakers: int = 0, max_speakers: int = 0) -> api_pb2.Speakers:
    """How many people speak, when known (0: not given); the count is estimated within them."""
    return api_pb2.Speakers(min_speakers=min_speakers, max_speakers=max_speakers)


def _push_parts(chunk: bytes | pb.Frame) -> Iterator[api_pb2.PushChunk]:
    """A bytes chunk goes as media (in parts of CHUNK_BYTES), a Frame as a picture."""
    if isinstance(chunk, pb.Frame):
        yield api_pb2.PushChunk(frame=chunk)
        return
    for at in range(0, len(chunk), CHUNK_BYTES):
        yield api_pb2.PushChunk(media=bytes(chunk[at: at + CHUNK_BYTES]))


def _push_chunks(chunks, info: api_pb2.PushChunk) -> Iterator[api_pb2.PushChunk]:
    yield info
    for chunk in chunks:
        yield from _push_parts(chunk)


def _stream_id(metadata) -> str:
    return dict(metadata or ()).get(STREAM_ID_HEADER, "")


def file_chunks(path: str | Path, loop: bool = False, picture_every_s: float = 0.5) -> Iterator[bytes | pb.Frame]:
    """A local video played as a live source for push_stream (format "pcm16"): its audio as 16 kHz
    PCM16 and a JPEG picture every `picture_every_s`, each sent when it would be heard or seen."""
    from emopulse.processing import media, sources
    for item in sources.play(str(path), picture_every_s, loop=loop):
        if isinstance(item, sources.Picture):
            yield pb.Frame(time_s=item.t, jpeg=item.jpeg)
        else:
            yield media.to_pcm16(item.samples)


def audience_messages(stream_id: str, messages) -> Iterator[pb.AudienceMessage]:
    for m in messages:
        if isinstance(m, pb.AudienceMessage):
            yield pb.AudienceMessage(stream_id=stream_id, message_id=m.message_id, author=m.author, text=m.text,
                                     time_s=m.time_s)
        else:
            yield pb.AudienceMessage(stream_id=stream_id, message_id=str(m.get("message_id", m.get("id", ""))),
                                     author=str(m.get("author", "")), text=str(m.get("text", "")),
                                     time_s=float(m.get("time_s", m.get("time", 0)) or 0))


def _chunks(data: bytes | Path | str, filename: str | None, language: str, request_id: str,
            progress=None, speakers: api_pb2.Speakers | None = None) -> Iterator[api_pb2.UploadChunk]:
    if isinstance(data, (str, Path)):
        path = Path(data)
        filename = filename or path.name
        total = path.stat().st_size
        yield api_pb2.UploadChunk(info=api_pb2.UploadInfo(filename=filename, language=language, request_id=request_id,
                                                          speakers=speakers))
        sent = 0
        with open(path, "rb") as f:
            while block := f.read(CHUNK_BYTES):
                sent += len(block)
                if progress:
                    progress(sent, total)
                yield api_pb2.UploadChunk(data=block)
        return
    yield api_pb2.UploadChunk(info=api_pb2.UploadInfo(filename=filename or "upload", language=language,
                                                      request_id=request_id, speakers=speakers))
    for start in range(0, len(data), CHUNK_BYTES):
        if progress:
            progress(min(start + CHUNK_BYTES, len(data)), len(data))
        yield api_pb2.UploadChunk(data=data[start: start + CHUNK_BYTES])


class _Details(collections.namedtuple("_Details", ("method", "timeout", "metadata", "credentials",
                                                    "wait_for_ready", "compression")), grpc.ClientCallDetails):
    pass


def _with_key(details, key: str, aio: bool):
    metadata = list(details.metadata or []) + [("authorization", f"Bearer {key}")]
    if aio:
        return grpc.aio.ClientCallDetails(details.method, details.timeout, metadata, details.credentials,
                                          details.wait_for_ready)
    return _Details(details.method, details.timeout, metadata, details.credentials, details.wait_for_ready,
                    getattr(details, "compression", None))


class _Bearer(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
              grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Sends the API key with every call (``authorization: Bearer <key>``)."""

    def __init__(self, key: str):
        self.key = key

    def _call(self, continuation, details, request):
        return continuation(_with_key(details, self.key, aio=False), request)

    intercept_unary_unary = intercept_unary_stream = intercept_stream_unary = intercept_stream_stream = _call


class _AioBearer:
    """As _Bearer for grpc.aio, whose channel files each interceptor under its first kind only: one per kind."""

    def __init__(self, key: str):
        self.key = key

    async def _call(self, continuation, details, request):
        return await continuation(_with_key(details, self.key, aio=True), request)

    @classmethod
    def each_kind(cls, key: str) -> list:
        kinds = {"unary_unary": grpc.aio.UnaryUnaryClientInterceptor, "unary_stream": grpc.aio.UnaryStreamClientInterceptor,
                 "stream_unary": grpc.aio.StreamUnaryClientInterceptor,
                 "stream_stream": grpc.aio.StreamStreamClientInterceptor}
        return [type(f"_AioBearer_{name}", (cls, kind), {f"intercept_{name}": cls._call})(key)
                for name, kind in kinds.items()]


def _credentials(tls: bool, ca: str | None, cert: str | None, key: str | None):
    """TLS channel credentials (a CA file to trust, and a client certificate for mTLS), or None."""
    if not (tls or ca or cert):
        return None
    if bool(cert) != bool(key):
        raise ValueError("a client certificate needs its key, and a key its certificate")
    read = lambda path: Path(path).read_bytes() if path else None  # noqa: E731
    return grpc.ssl_channel_credentials(root_certificates=read(ca), private_key=read(key), certificate_chain=read(cert))


def channel(address: str, api_key: str | None = None, tls: bool = False, ca: str | None = None,
            cert: str | None = None, key: str | None = None, aio: bool = False):
    """A channel to the gateway: TLS when asked (``ca``: the CA to trust; ``cert``/``key``: a client
    certificate), and the API key (default: EMOPULSE_API_KEY) sent with every call."""
    api_key = os.environ.get("EMOPULSE_API_KEY", "") if api_key is None else api_key
    creds = _credentials(tls, ca, cert, key)
    if aio:
        interceptors = _AioBearer.each_kind(api_key) if api_key else None
        if creds is None:
            return grpc.aio.insecure_channel(address, options=OPTIONS, interceptors=interceptors)
        return grpc.aio.secure_channel(address, creds, options=OPTIONS, interceptors=interceptors)
    plain = grpc.insecure_channel(address, options=OPTIONS) if creds is None else grpc.secure_channel(
        address, creds, options=OPTIONS)
    return grpc.intercept_channel(plain, _Bearer(api_key)) if api_key else plain


class Client:
    def __init__(self, address: str = "127.0.0.1:50051", timeout: float = 30.0, reconnect_s: float = RECONNECT_S,
                 api_key: str | None = None, tls: bool = False, ca: str | None = None, cert: str | None = None,
                 key: str | None = None):
        self.timeout = timeout
        self.reconnect_s = reconnect_s
        self.channel = channel(address, api_key, tls, ca, cert, key)
        self.stub = api_pb2_grpc.EmoPulseStub(self.channel)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def _retrying(self, call):
        """call() again while the gateway is unreachable, up to reconnect_s."""
        started, attempt = time.monotonic(), 0
        while True:
            try:
                return call()
            except grpc.RpcError as exc:
                if not _unavailable(exc) or time.monotonic() - started > self.reconnect_s:
                    raise
            time.sleep(_backoff(attempt))
            attempt += 1

    def upload(self, data: bytes | Path | str, filename: str | None = None, language: str = "",
               progress=None, timeout: float | None = None, request_id: str | None = None,
               speakers: api_pb2.Speakers | None = None) -> pb.Job:
        """Upload a file (path) or bytes and start a job. Retried while the gateway is unreachable;
        the request id makes a retry return the same job, never a second one. ``speakers``:
        speaker_bounds(min, max) when the number of people speaking is known."""
        request_id = request_id or uuid.uuid4().hex
        return self._retrying(lambda: self.stub.Upload(_chunks(data, filename, language, request_id, progress, speakers),
                                                       timeout=timeout or self.timeout * 10))

    def analyze(self, media: str | Path | bytes, language: str = "", speakers: api_pb2.Speakers | None = None) -> pb.Job:
        """Bytes or a local file are uploaded; any other string is a reference the gateway reads."""
        if isinstance(media, str) and (media.startswith("s3://") or not Path(media).exists()):
            return self.analyze_reference(media, language, speakers=speakers)
        return self.upload(media, language=language, speakers=speakers)

    def analyze_reference(self, media: str, language: str = "", request_id: str | None = None,
                          speakers: api_pb2.Speakers | None = None) -> pb.Job:
        """A path under the gateway's media root, or s3://bucket/key."""
        request = api_pb2.AnalyzeRequest(media=media, language=language, request_id=request_id or uuid.uuid4().hex,
                                         speakers=speakers)
        return self._retrying(lambda: self.stub.Analyze(request, timeout=self.timeout))

    def create_upload(self, filename: str, size_bytes: int = 0, content_type: str = "") -> api_pb2.UploadTicket:
        """A direct upload (the gateway stores media on S3): a URL to PUT the file to, then
        analyze_reference(ticket.reference). See upload_direct."""
        request = api_pb2.CreateUploadRequest(filename=filename, size_bytes=size_bytes, content_type=content_type)
        return self._retrying(lambda: self.stub.CreateUpload(request, timeout=self.timeout))

    def upload_direct(self, path: str | Path, language: str = "", content_type: str = "",
                      request_id: str | None = None, speakers: api_pb2.Speakers | None = None,
                      put_timeout: float = 3600.0) -> pb.Job:
        """Upload a file straight to the gateway's S3 storage (the bytes do not pass through the
        gateway), then analyse it: create_upload, PUT, analyze_reference. The content type is
        guessed from the file name unless given."""
        import mimetypes
        path = Path(path)
        content_type = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        ticket = self.create_upload(path.name, path.stat().st_size, content_type)
        self.put_file(ticket, path, put_timeout)
        return self.analyze_reference(ticket.reference, language, request_id, speakers)

    @staticmethod
    def put_file(ticket: api_pb2.UploadTicket, path: str | Path, timeout: float = 3600.0) -> None:
        """PUT a file to a direct upload's presigned URL with the ticket's headers (streamed from
        disk, not read into memory). An error answer from the storage raises urllib.error.HTTPError."""
        import urllib.request
        path = Path(path)
        with open(path, "rb") as f:
            request = urllib.request.Request(ticket.url, data=f, method=ticket.method or "PUT",
                                             headers={"Content-Length": str(path.stat().st_size), **ticket.headers})
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                answer.read()

    def subscribe(self, job_id: str, timeout: float | None = None, after: int = 0,
                  from_now: bool = False) -> Iterator[pb.JobEvent]:
        """The job's events, from its start (or those after sequence number `after`, or those from
        now on); ends after the summary or the job's end.

        The server ends the stream when the job ends, and every job ends (a watchdog fails work that
        stopped). If the gateway goes away mid-stream, this reconnects and carries on after the last
        event it gave (each event has its `sequence`).
        """
        resume = _Resume(job_id, timeout, self.reconnect_s, after, from_now)
        while True:
            try:
                for event in self.stub.Subscribe(resume.request(), timeout=resume.time_left()):
                    if resume.is_new(event):
                        yield event
                return
            except grpc.RpcError as exc:
                delay = resume.retry_delay(exc)
            time.sleep(delay)

    def results(self, job_id: str, timeout: float | None = None) -> tuple[list[pb.UtteranceResult], pb.JobEvent]:
        """Wait for a job: (utterance results in order, its last event)."""
        results, last = [], None
        for event in self.subscribe(job_id, timeout):
            if event.HasField("result"):
                results.append(event.result)
            elif not event.HasField("progress"):
                last = event
        return results, last

    def get_job(self, job_id: str) -> pb.Job:
        return self.stub.GetJob(api_pb2.GetJobRequest(job_id=job_id), timeout=self.timeout)

    def list_jobs(self, limit: int = 0) -> list[pb.Job]:
        """The newest `limit` jobs (0: every job, page by page)."""
        jobs, token = [], ""
        while True:
            page = self.stub.ListJobs(api_pb2.ListJobsRequest(limit=min(limit - len(jobs), 1000) if limit else 0,
                                                              page_token=token), timeout=self.timeout)
            jobs += page.jobs
            token = page.next_page_token
            if not token or (limit and len(jobs) >= limit):
                return jobs

    def cancel(self, job_id: str) -> pb.Job:
        return self.stub.CancelJob(api_pb2.CancelJobRequest(job_id=job_id), timeout=self.timeout)

    # ---- live streams: subscribe(stream.id) gives their events, as for a job ----
    def start_stream(self, url: str, name: str = "", language: str = "", request_id: str | None = None,
                     speakers: api_pb2.Speakers | None = None) -> pb.Stream:
        """Pull a live source (rtsp://, rtmp://, srt://, http(s)://...m3u8 or .ts)."""
        request = api_pb2.StartStreamRequest(url=url, name=name, language=language,
                                             request_id=request_id or uuid.uuid4().hex, speakers=speakers)
        return self._retrying(lambda: self.stub.StartStream(request, timeout=self.timeout))

    def push_stream(self, chunks, format: str = "pcm16", name: str = "", language: str = "",
                    on_start=None, request_id: str | None = None, speakers: api_pb2.Speakers | None = None) -> pb.Stream:
        """Push media as a live stream: `chunks` yields bytes (16 kHz mono PCM16 for "pcm16", else
        container bytes such as "mpegts" or "webm") and, with pcm16, pb.Frame pictures. Calls
        on_start(stream_id) as soon as the stream exists; returns the stream when `chunks` ends."""
        call = self.stub.PushStream.future(_push_chunks(chunks, _push_info(format, name, language, request_id, speakers)))
        if on_start is not None:
            on_start(_stream_id(call.initial_metadata()))
        return call.result()

    def stop_stream(self, stream_id: str) -> pb.Stream:
        return self.stub.StopStream(api_pb2.StopStreamRequest(stream_id=stream_id), timeout=self.timeout)

    def get_stream(self, stream_id: str) -> pb.Stream:
        return self.stub.GetStream(api_pb2.GetStreamRequest(stream_id=stream_id), timeout=self.timeout)

    def list_streams(self) -> list[pb.Stream]:
        return list(self.stub.ListStreams(api_pb2.ListStreamsRequest(), timeout=self.timeout).streams)

    # ---- alerts --------------------------------------------------------------------------------
    def set_alert_rules(self, stream_id: str, rules: list[pb.AlertRule] = (), webhooks: list[api_pb2.Webhook] = (),
                        use_defaults: bool = False) -> api_pb2.AlertRules:
        """Replace a stream's alert rules and webhooks (no rules: the defaults, with these webhooks)."""
        request = api_pb2.SetAlertRulesRequest(stream_id=stream_id, rules=rules, webhooks=webhooks,
                                               use_defaults=use_defaults)
        return self._retrying(lambda: self.stub.SetAlertRules(request, timeout=self.timeout))

    def get_alert_rules(self, stream_id: str) -> api_pb2.AlertRules:
        return self.stub.GetAlertRules(api_pb2.GetAlertRulesRequest(stream_id=stream_id), timeout=self.timeout)

    def webhook_deliveries(self, stream_id: str) -> list[api_pb2.WebhookDelivery]:
        request = api_pb2.ListWebhookDeliveriesRequest(stream_id=stream_id)
        return list(self.stub.ListWebhookDeliveries(request, timeout=self.timeout).deliveries)

    def post_audience(self, stream_id: str, messages, timeout: float | None = None) -> api_pb2.PostAudienceResponse:
        """Post audience messages (chat, comments) beside a live stream: each a pb.AudienceMessage or a
        dict with message_id (or id), text, and optionally author and time_s (media seconds; 0 = now).
        The call lasts as long as `messages` does (a live chat), so it has no deadline by default."""
        return self.stub.PostAudience(audience_messages(stream_id, messages), timeout=timeout)

    def subscribe_alerts(self, stream_ids: list[str] = (), kinds: list[int] = (), min_severity: int = 0,
                         timeout: float | None = None) -> Iterator[pb.Alert]:
        """Alerts as they fire from now on, across streams (empty filters match everything)."""
        request = api_pb2.SubscribeAlertsRequest(stream_ids=stream_ids, kinds=kinds, min_severity=min_severity)
        yield from self.stub.SubscribeAlerts(request, timeout=timeout)

    # ---- history ---------------------------------------------------------------------------------
    def list_events(self, limit: int = 0, name: str = "", live_only: bool = False) -> list[api_pb2.EventRecord]:
        """Ended jobs and streams, newest first, summarised (name: a part of their name)."""
        request = api_pb2.ListEventsRequest(limit=limit, name=name, live_only=live_only)
        return list(self.stub.ListEvents(request, timeout=self.timeout).events)

    def compare_events(self, ids: list[str]) -> list[api_pb2.EventHistory]:
        """Events side by side: each one's summary, timeline and alerts, in the order given."""
        return list(self.stub.CompareEvents(api_pb2.CompareEventsRequest(ids=ids), timeout=self.timeout).events)

    def get_usage(self, tenant: str = "") -> api_pb2.Usage:
        """This month's usage of the key's tenant against its quotas (an admin may name another tenant)."""
        return self.stub.GetUsage(api_pb2.GetUsageRequest(tenant=tenant), timeout=self.timeout)


class AsyncClient:
    def __init__(self, address: str = "127.0.0.1:50051", timeout: float = 30.0, reconnect_s: float = RECONNECT_S,
                 api_key: str | None = None, tls: bool = False, ca: str | None = None, cert: str | None = None,
                 key: str | None = None):
        self.timeout = timeout
        self.reconnect_s = reconnect_s
        self.channel = channel(address, api_key, tls, ca, cert, key, aio=True)
        self.stub = api_pb2_grpc.EmoPulseStub(self.channel)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        await self.channel.close()

    async def _retrying(self, call):
        started, attempt = time.monotonic(), 0
        while True:
            try:
                return await call()
            except grpc.RpcError as exc:
                if not _unavailable(exc) or time.monotonic() - started > self.reconnect_s:
                    raise
            await asyncio.sleep(_backoff(attempt))
            attempt += 1

    async def upload(self, data: bytes | Path | str, filename: str | None = None, language: str = "",
                     request_id: str | None = None) -> pb.Job:
        request_id = request_id or uuid.uuid4().hex
        return await self._retrying(lambda: self.stub.Upload(_chunks(data, filename, language, request_id),
                                                             timeout=self.timeout * 10))

    async def analyze(self, media: str | Path | bytes, language: str = "") -> pb.Job:
        if isinstance(media, str) and (media.startswith("s3://") or not Path(media).exists()):
            return await self.analyze_reference(media, language)
        return await self.upload(media, language=language)

    async def analyze_reference(self, media: str, language: str = "", request_id: str | None = None) -> pb.Job:
        request = api_pb2.AnalyzeRequest(media=media, language=language, request_id=request_id or uuid.uuid4().hex)
        return await self._retrying(lambda: self.stub.Analyze(request, timeout=self.timeout))

    async def create_upload(self, filename: str, size_bytes: int = 0,
                            content_type: str = "") -> api_pb2.UploadTicket:
        request = api_pb2.CreateUploadRequest(filename=filename, size_bytes=size_bytes, content_type=content_type)
        return await self._retrying(lambda: self.stub.CreateUpload(request, timeout=self.timeout))

    async def upload_direct(self, path: str | Path, language: str = "", content_type: str = "",
                            request_id: str | None = None, put_timeout: float = 3600.0) -> pb.Job:
        """As Client.upload_direct (the PUT runs in a thread)."""
        import mimetypes
        path = Path(path)
        content_type = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        ticket = await self.create_upload(path.name, path.stat().st_size, content_type)
        await asyncio.to_thread(Client.put_file, ticket, path, put_timeout)
        return await self.analyze_reference(ticket.reference, language, request_id)

    async def subscribe(self, job_id: str, timeout: float | None = None, after: int = 0,
                        from_now: bool = False) -> AsyncIterator[pb.JobEvent]:
        """As Client.subscribe: ends with the job, and carries on across a gateway restart."""
        resume = _Resume(job_id, timeout, self.reconnect_s, after, from_now)
        while True:
            try:
                async for event in self.stub.Subscribe(resume.request(), timeout=resume.time_left()):
                    if resume.is_new(event):
                        yield event
                return
            except grpc.RpcError as exc:
                delay = resume.retry_delay(exc)
            await asyncio.sleep(delay)

    async def get_job(self, job_id: str) -> pb.Job:
        return await self.stub.GetJob(api_pb2.GetJobRequest(job_id=job_id), timeout=self.timeout)

    async def list_jobs(self, limit: int = 0) -> list[pb.Job]:
        jobs, token = [], ""
        while True:
            page = await self.stub.ListJobs(api_pb2.ListJobsRequest(
                limit=min(limit - len(jobs), 1000) if limit else 0, page_token=token), timeout=self.timeout)
            jobs += page.jobs
            token = page.next_page_token
            if not token or (limit and len(jobs) >= limit):
                return jobs

    async def cancel(self, job_id: str) -> pb.Job:
        return await self.stub.CancelJob(api_pb2.CancelJobRequest(job_id=job_id), timeout=self.timeout)

    async def start_stream(self, url: str, name: str = "", language: str = "",
                           request_id: str | None = None) -> pb.Stream:
        request = api_pb2.StartStreamRequest(url=url, name=name, language=language,
                                             request_id=request_id or uuid.uuid4().hex)
        return await self._retrying(lambda: self.stub.StartStream(request, timeout=self.timeout))

    async def push_stream(self, chunks, format: str = "pcm16", name: str = "", language: str = "",
                          on_start=None, request_id: str | None = None, speakers: api_pb2.Speakers | None = None) -> pb.Stream:
        """As Client.push_stream; `chunks` may be an async or a plain iterable."""
        async def messages():
            yield _push_info(format, name, language, request_id)
            if hasattr(chunks, "__aiter__"):
                async for chunk in chunks:
                    for part in _push_parts(chunk):
                        yield part
            else:
                for chunk in chunks:
                    for part in _push_parts(chunk):
                        yield part
        call = self.stub.PushStream(messages())
        if on_start is not None:
            on_start(_stream_id(await call.initial_metadata()))
        return await call

    async def stop_stream(self, stream_id: str) -> pb.Stream:
        return await self.stub.StopStream(api_pb2.StopStreamRequest(stream_id=stream_id), timeout=self.timeout)

    async def get_stream(self, stream_id: str) -> pb.Stream:
        return await self.stub.GetStream(api_pb2.GetStreamRequest(stream_id=stream_id), timeout=self.timeout)

    async def list_streams(self) -> list[pb.Stream]:
        return list((await self.stub.ListStreams(api_pb2.ListStreamsRequest(), timeout=self.timeout)).streams)
