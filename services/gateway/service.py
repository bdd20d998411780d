"""Gateway: the public gRPC API. Stores uploads, creates jobs, streams each job's results back."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import re
import time
import uuid
from typing import AsyncIterator

import grpc
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import ConsumerConfig, DeliverPolicy, KeyValueConfig, StorageType
from nats.js.errors import APIError, BadRequestError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from prometheus_client import Counter, Gauge

from emopulse.processing import diarization, pulse, quotas, sources
from emopulse.quoting import quoted
from emopulse.processing.live import request_stop, stream_view
from emopulse.processing.ordering import EventOrder
from emopulse.runtime import auth, bus, history_store, usage, webhooks
from emopulse.runtime.alert_store import DELIVERIES_BUCKET, RULES_BUCKET, load_deliveries, load_rules
from emopulse.runtime.service import Runtime
from emopulse.runtime.watchdog import watch_jobs
from emopulse.runtime.storage import (InvalidReference, MediaNotFound, StorageRefused, StorageUnavailable,
                                      UploadTooLarge)
from emopulse.v1 import api_pb2, api_pb2_grpc, events_pb2
from emopulse.v1 import results_pb2 as pb

RPCS = Counter("emopulse_gateway_rpcs_total", "API calls by method and status code", ["method", "code"])
SUBSCRIPTIONS = Gauge("emopulse_gateway_active_subscriptions", "Open Subscribe streams")
UPLOAD_BYTES = Counter("emopulse_gateway_upload_bytes_total", "Bytes received by Upload")
JOBS_CREATED = Counter("emopulse_gateway_jobs_created_total", "Jobs accepted")
MAX_PAGE = 1000
MAX_COMPARE = 10  # events side by side in one CompareEvents
END_CHECK_S = 5.0  # a quiet Subscribe looks at the job record this often
PUSH_PART_BYTES = 256 * 1024  # pushed media goes on the bus in parts this big (NATS's payload limit is 1 MB)
STREAM_ID_HEADER = "emopulse-stream-id"
UPLOADS_BUCKET = "uploads"  # direct uploads' records (tenant, object key), kept UPLOAD_RECORD_TTL_S
UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


TEXT_LIMITS = {"media": 4096, "url": 4096, "filename": 1024, "name": 200, "request_id": 200, "language": 32,
               "format": 32}  # characters: records must fit a NATS message (1 MB), messages stay readable
MAX_RULES_BYTES = 256 * 1024  # a stream's alert rules and webhooks, as stored


def bounded(**fields: str) -> None:
    """INVALID_ARGUMENT when a text field the caller sent is longer than TEXT_LIMITS allows."""
    for name, value in fields.items():
        if len(value) > TEXT_LIMITS[name]:
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"{name} is {len(value)} characters long; at most {TEXT_LIMITS[name]} are taken")


def caller() -> auth.Caller:
    """Who makes the call being handled (auth.Gate sets it; with auth off, one caller who sees all)."""
    return auth.CALLER.get()


class ApiError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code


def _api(method):
    """Map domain errors to gRPC status codes in one place; count every call by code."""
    name = method.__name__

    async def unary(self, request, context):
        try:
            response = await method(self, request, context)
            RPCS.labels(name, "OK").inc()
            return response
        except ApiError as exc:
            RPCS.labels(name, exc.code.name).inc()
            await context.abort(exc.code, str(exc))
        except quotas.Exceeded as exc:
            RPCS.labels(name, "RESOURCE_EXHAUSTED").inc()
            context.set_trailing_metadata(auth.retry_after(exc.retry_after_s))
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, exc.message)
        except (InvalidReference, MediaNotFound, UploadTooLarge, StorageRefused, StorageUnavailable) as exc:
            # StorageRefused: S3 will not let EmoPulse itself read the object (credentials, policy,
            # region): FAILED_PRECONDITION, since the caller's own rights are not what is missing.
            code = {InvalidReference: grpc.StatusCode.INVALID_ARGUMENT, MediaNotFound: grpc.StatusCode.NOT_FOUND,
                    UploadTooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
                    StorageRefused: grpc.StatusCode.FAILED_PRECONDITION,
                    StorageUnavailable: grpc.StatusCode.UNAVAILABLE}[type(exc)]
            RPCS.labels(name, code.name).inc()
            await context.abort(code, str(exc))
        except Exception:
            if context.code() is None:  # not an abort() above: a bug or an outage, counted and hidden
                RPCS.labels(name, "INTERNAL").inc()
                logging.getLogger("gateway").exception("%s failed", name)
                await context.abort(grpc.StatusCode.INTERNAL, f"{name} failed inside the gateway; see its logs")
            raise

    unary.__name__ = name
    return unary


class Gateway(api_pb2_grpc.EmoPulseServicer):
    models = ()  # the gateway calls no model

    def __init__(self, runtime: Runtime):
        self.rt = runtime
        self.leases = None  # the KV bucket of live streams' leases, opened on the first stream
        self.buckets: dict[str, object] = {}  # alert rules and webhook log, opened on first use
        self.history = None  # the history database, opened on first use
        self.keys: auth.KeyStore | None = None  # the API keys, opened on the first call (auth on)
        self.usage: usage.UsageStore | None = None  # each tenant's monthly counts, opened on first use
        self.rates = quotas.RateLimits()  # requests and audience messages per tenant, in this replica
        api_pb2_grpc.add_EmoPulseServicer_to_server(self, runtime.server)
        service = api_pb2.DESCRIPTOR.services_by_name["EmoPulse"].full_name
        runtime.service_names.append(service)
        runtime.gate.guard(service, self._caller_of if runtime.settings.auth == "on" else None)

    async def _caller_of(self, key: str) -> auth.Caller:
        self.keys = self.keys or await auth.KeyStore.open(self.rt.js, self.rt.settings)
        who = await self.keys.caller(key)
        if who.limits is not None:
            self.rates.request(who.tenant, who.limits, time.time())
        return who

    async def _usage(self) -> usage.UsageStore:
        if self.usage is None:
            s = self.rt.settings
            self.usage = await usage.UsageStore.open(self.rt.js, s.stream_replicas, s.stream_max_age_s)
        return self.usage

    async def _admit(self, stream: bool) -> None:
        """A new job or stream within the caller's quotas (running at once, media minutes this month),
        then counted; RESOURCE_EXHAUSTED naming the limit otherwise."""
        who = caller()
        if who.limits is None:
            return
        running = sum(1 for j in await self.rt.jobs.all()
                      if j.tenant == who.tenant and j.state not in bus.TERMINAL and j.HasField("stream") == stream)
        quotas.check_concurrent("streams" if stream else "jobs", running, who.limits)
        now = time.time()
        month = await (await self._usage()).get(who.tenant, now)
        quotas.check_media(month["media_s"], 0.0, who.limits, now)  # minutes are counted when work ends
        await self.usage.add(who.tenant, now, **{"streams" if stream else "jobs": 1})

    async def run(self, stopping: asyncio.Event) -> None:
        await watch_jobs(self.rt, stopping)

    @staticmethod
    def _new_id(request_id: str) -> str:
        # A request id names the job: a retry of the same request finds the job instead of making another.
        # Another tenant's same request id names another job.
        tenant = caller().tenant
        named = f"request:{tenant}:{request_id}" if tenant else f"request:{request_id}"
        return hashlib.sha256(named.encode()).hexdigest()[:32] if request_id else uuid.uuid4().hex

    async def _create_job(self, media_uri: str, filename: str, sha256: str, language: str, request_id: str,
                          speakers: api_pb2.Speakers) -> pb.Job:
        now = time.time()
        job_id = self._new_id(request_id)
        if not (request_id and await self.rt.jobs.get(job_id)):  # a retry of an accepted request passes
            await self._admit(stream=False)
        job = pb.Job(id=job_id, state=pb.QUEUED, media_uri=media_uri, filename=filename, sha256=sha256,
                     language=language or self.rt.settings.language, created_at=now, updated_at=now,
                     request_id=request_id, tenant=caller().tenant, **speaker_bounds(speakers))
        if not await self.rt.jobs.create(job):
            job = await self._job(job_id)
            self.rt.log.info("request retried: the job exists", extra={"job_id": job.id})
            if job.state != pb.QUEUED:
                return job
        else:
            JOBS_CREATED.inc()
        # Recorded, then published; a crash in between is repaired by the retry above or the watchdog
        # (JetStream drops the second publish of the same id).
        await self.rt.publish(bus.jobs_subject(), events_pb2.JobCreated(job=job), f"job:{job.id}")
        self.rt.log.info("job queued", extra={"job_id": job.id})
        return job

    async def _job(self, job_id: str) -> pb.Job:
        """The job, when the caller may see it; another tenant's is NOT_FOUND, like a missing one (an id
        must not tell whether it exists)."""
        job = await self.rt.jobs.get(job_id) if job_id else None
        if job is None or not caller().sees(job.tenant):
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"no job with id {quoted(job_id)}")
        return job

    @_api
    async def Analyze(self, request, context):
        bounded(media=request.media, language=request.language, request_id=request.request_id)
        if not request.media:
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "media is required: a path under the media root, "
                           "s3://bucket/key, upload:<id> or stream:<id>")
        if request.media.startswith("stream:"):  # an ended stream's recording, analysed again like a file
            stream = stream_view(await self._stream(request.media.removeprefix("stream:")))
            if not stream.recording_uri:
                raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, f"stream {stream.id} has no recording yet: "
                               f"it is {pb.StreamState.Name(stream.state)}, and a recording is kept once it has ended")
            uri = stream.recording_uri
        elif request.media.startswith("upload:"):  # a direct upload (CreateUpload), once its PUT is done
            uri, filename = await self._uploaded(request.media)
            return await self._create_job(uri, filename, "", request.language, request.request_id, request.speakers)
        else:  # a tenant reads the store's own objects only by their upload: and stream: references
            uri = await asyncio.to_thread(self.rt.store.resolve_reference, request.media, caller().admin)
        return await self._create_job(uri, request.media.rsplit("/", 1)[-1], "", request.language, request.request_id,
                                      request.speakers)

    @_api
    async def CreateUpload(self, request, context):
        s = self.rt.settings
        if s.storage != "s3":
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, "direct uploads need S3 storage "
                           "(EMOPULSE_STORAGE=s3); this gateway keeps media on its own disk: use Upload")
        filename = request.filename.strip()
        if not filename or len(filename) > 1024:
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "filename is required (at most 1024 characters)")
        if request.content_type and not re.fullmatch(r"[\x21-\x7e][\x20-\x7e]{0,199}", request.content_type):
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"content_type {quoted(request.content_type)} is not a "
                           "media type (printable ASCII, at most 200 characters)")
        if request.size_bytes < 0:
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "size_bytes cannot be negative (0: not given)")
        self._check_upload_size(request.size_bytes)
        upload_id = uuid.uuid4().hex
        key = self.rt.store.upload_key(upload_id, filename)
        url, headers = await asyncio.to_thread(self.rt.store.presigned_put, key, s.upload_url_expiry_s,
                                               request.content_type, request.size_bytes)
        now = time.time()
        record = {"tenant": caller().tenant, "key_id": caller().key_id, "bucket": s.s3_bucket, "key": key,
                  "filename": filename[:255], "created_at": now}
        await (await self._uploads()).create(upload_id, json.dumps(record).encode())
        self.rt.log.info("direct upload ticket: %s", key)
        return api_pb2.UploadTicket(reference=f"upload:{upload_id}", url=url, method="PUT", headers=headers,
                                    expires_at=now + s.upload_url_expiry_s)

    async def _uploads(self):
        """The uploads KV bucket, with its own age limit (a reference lives UPLOAD_RECORD_TTL_S)."""
        if UPLOADS_BUCKET not in self.buckets:
            s = self.rt.settings
            self.buckets[UPLOADS_BUCKET] = await self.rt.js.create_key_value(KeyValueConfig(
                bucket=UPLOADS_BUCKET, history=1, storage=StorageType.FILE, replicas=s.stream_replicas,
                ttl=s.upload_record_ttl_s, max_bytes=s.kv_max_bytes))
        return self.buckets[UPLOADS_BUCKET]

    def _check_upload_size(self, size: int) -> None:
        """One upload's size against the gateway's limit and the caller's quota, as Upload checks them."""
        if size > self.rt.settings.upload_limit_bytes:
            raise UploadTooLarge(f"upload is larger than the limit of {self.rt.settings.upload_limit_bytes} bytes")
        if caller().limits is not None:
            quotas.check_upload(size, caller().limits)

    async def _uploaded(self, reference: str) -> tuple[str, str]:
        """A direct upload's (media URI, filename), once its object is there. A reference is its key's:
        another key's (even of the same tenant) is NOT_FOUND in the same words as one that never
        existed (ids are not an oracle)."""
        if self.rt.settings.storage != "s3":
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, "direct uploads need S3 storage "
                           "(EMOPULSE_STORAGE=s3): this gateway has none")
        upload_id = reference.removeprefix("upload:")
        record = None
        if UPLOAD_ID.fullmatch(upload_id):
            try:
                record = json.loads((await (await self._uploads()).get(upload_id)).value or b"null")
            except KeyNotFoundError:
                pass
        if record is None or not caller().holds(record["tenant"], record.get("key_id", "")):
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"no upload with reference {quoted(reference)} "
                           "(references expire UPLOAD_RECORD_TTL_S after CreateUpload)")
        size = await asyncio.to_thread(self.rt.store.object_size, record["bucket"], record["key"])
        if size is None:
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, "nothing has been uploaded to that reference yet: "
                           "PUT the file to the ticket's URL first, with the ticket's headers")
        self._check_upload_size(size)  # a PUT without a signed length may be any size
        if caller().limits is not None:  # counted once per upload, however often it is analysed
            await (await self._usage()).count_once(f"upload.{upload_id}", record["tenant"], time.time(),
                                                   upload_bytes=size)
        return f"s3://{record['bucket']}/{record['key']}", record["filename"]

    @_api
    async def Upload(self, request_iterator, context):
        upload = self.rt.store.new_upload()
        info = None
        try:
            async for chunk in request_iterator:
                if chunk.HasField("info"):
                    if info is not None:
                        raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "only the first message may carry info")
                    info = chunk.info
                    bounded(filename=info.filename, language=info.language, request_id=info.request_id)
                    continue
                if info is None:
                    raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "the first message must carry info (filename, content type)")
                await asyncio.to_thread(upload.write, chunk.data)
                UPLOAD_BYTES.inc(len(chunk.data))
                self._check_upload_size(upload.size)
            if info is None:
                raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "the upload was empty: no info, no data")
            if upload.size == 0:
                raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"{quoted(info.filename) if info.filename else 'the file'} is empty (0 bytes)")
            uri, sha = await asyncio.to_thread(upload.finish, info.filename)
        except BaseException:
            upload.discard()
            raise
        if caller().limits is not None:
            await (await self._usage()).add(caller().tenant, time.time(), upload_bytes=upload.size)
        return await self._create_job(uri, info.filename, sha, info.language, info.request_id, info.speakers)

    @_api
    async def GetJob(self, request, context):
        return await self._job(request.job_id)

    @_api
    async def ListJobs(self, request, context):
        if request.limit < 0:
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "limit must be 0 (the default page size) or more")
        size = min(request.limit or self.rt.settings.list_page_size, MAX_PAGE)
        try:
            jobs, token = await self.rt.jobs.page(size, request.page_token, lambda j: caller().sees(j.tenant))
        except ValueError:
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "page_token is not one this server gave out") from None
        return api_pb2.ListJobsResponse(jobs=jobs, next_page_token=token)

    @_api
    async def CancelJob(self, request, context):
        job = await self._job(request.job_id)
        if job.state in bus.TERMINAL:
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, f"job {job.id} has already ended ({pb.JobState.Name(job.state)})")
        return await self.rt.jobs.end(job.id, pb.CANCELLED, "cancelled by a user")

    # ---- live streams ---------------------------------------------------------------------------
    async def _create_stream(self, url: str, name: str, language: str, request_id: str,
                             speakers: api_pb2.Speakers) -> pb.Job:
        """A stream runs as a job whose utterances come from ingest; its lease record is what the
        ingest replicas look for."""
        now = time.time()
        job_id = self._new_id(request_id)
        if not (request_id and await self.rt.jobs.get(job_id)):
            await self._admit(stream=True)
        job = pb.Job(id=job_id, state=pb.RUNNING, media_uri=url, filename=name,
                     language=language or self.rt.settings.language, created_at=now, updated_at=now,
                     request_id=request_id, stream=pb.Stream(name=name, url=url, state=pb.STREAM_STARTING),
                     tenant=caller().tenant, **speaker_bounds(speakers))
        if caller().limits is not None:  # the pulse service stops the stream once the month is used up
            job.stream.media_minutes_per_month = caller().limits.media_minutes_per_month
        if not await self.rt.jobs.create(job):
            job = await self._job(job.id)
            if job.state in bus.TERMINAL or not job.HasField("stream"):
                return job
        self.leases = self.leases or await bus.bucket(self.rt.js, bus.STREAMS_BUCKET, self.rt.settings)
        with contextlib.suppress(KeyWrongLastSequenceError, BadRequestError):  # a retry: it is there already
            await self.leases.create(job.id, events_pb2.StreamLease(owner="").SerializeToString())
        await self.rt.nc.publish(bus.STREAMS_WAKE, b"")
        self.rt.log.info("stream started: %s", url, extra={"job_id": job.id})
        return job

    async def _stream(self, stream_id: str) -> pb.Job:
        job = await self.rt.jobs.get(stream_id) if stream_id else None
        if job is None or not job.HasField("stream") or not caller().sees(job.tenant):
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"no stream with id {quoted(stream_id)}")
        return job

    @_api
    async def StartStream(self, request, context):
        bounded(url=request.url, name=request.name, language=request.language, request_id=request.request_id)
        try:
            url = sources.check_url(request.url)
        except ValueError as exc:
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        return stream_view(await self._create_stream(url, request.name, request.language, request.request_id,
                                                     request.speakers))

    @_api
    async def PushStream(self, request_iterator, context):
        first = await anext(aiter(request_iterator), None)
        if first is None or not first.HasField("info"):
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "the first message must carry info (the media format)")
        bounded(format=first.info.format, name=first.info.name, language=first.info.language,
                request_id=first.info.request_id)
        fmt = first.info.format or "pcm16"
        if fmt != "pcm16" and not sources.demuxable(fmt):
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"cannot read pushed {quoted(fmt)}: give pcm16 or a container format such as mpegts or webm")
        job = await self._create_stream(f"push:{fmt}", first.info.name, first.info.language, first.info.request_id,
                                        first.info.speakers)
        await context.send_initial_metadata(((STREAM_ID_HEADER, job.id),))
        subject = bus.push_subject(job.id)
        try:
            async for chunk in request_iterator:
                kind = chunk.WhichOneof("part")
                if kind == "info":
                    raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "only the first message may carry info")
                if kind == "frame":
                    await self.rt.js.publish(subject, events_pb2.PushedMedia(frame=chunk.frame).SerializeToString())
                    continue
                for at in range(0, len(chunk.media), PUSH_PART_BYTES):  # awaited: a slow bus slows the client
                    part = events_pb2.PushedMedia(media=chunk.media[at: at + PUSH_PART_BYTES])
                    await self.rt.js.publish(subject, part.SerializeToString())
        finally:  # however the push ends, the stream ends there
            with contextlib.suppress(Exception):
                await self.rt.js.publish(subject, events_pb2.PushedMedia(end=True).SerializeToString())
        return stream_view(await self._job(job.id))

    @_api
    async def StopStream(self, request, context):
        job = await self._stream(request.stream_id)
        view = stream_view(job)
        if job.state in bus.TERMINAL or view.state in (pb.STREAM_ENDED, pb.STREAM_FAILED):
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION,
                           f"stream {job.id} has already ended ({pb.StreamState.Name(view.state)})")
        job = await self.rt.jobs.update(job.id, lambda j: request_stop(j.stream, "stopped by a user"))
        return stream_view(job)

    @_api
    async def GetStream(self, request, context):
        return stream_view(await self._stream(request.stream_id))

    @_api
    async def ListStreams(self, request, context):
        return api_pb2.ListStreamsResponse(streams=[stream_view(j) for j in await self.rt.jobs.all()
                                                    if j.HasField("stream") and caller().sees(j.tenant)])

    # ---- alerts ----------------------------------------------------------------------------------
    async def _kv(self, name: str):
        """A KV bucket, opened (created if missing) on first use and then kept."""
        if name not in self.buckets:
            self.buckets[name] = await bus.bucket(self.rt.js, name, self.rt.settings)
        return self.buckets[name]

    @staticmethod
    def _without_secrets(rules: api_pb2.AlertRules) -> api_pb2.AlertRules:
        for hook in rules.webhooks:
            hook.secret = ""
        return rules

    @_api
    async def SetAlertRules(self, request, context):
        if request.ByteSize() > MAX_RULES_BYTES:
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"the rules and webhooks take {request.ByteSize()} bytes; "
                           f"at most {MAX_RULES_BYTES} are kept per stream")
        await self._stream(request.stream_id)
        rules = api_pb2.AlertRules(stream_id=request.stream_id, rules=request.rules or pulse.default_rules(),
                                   webhooks=request.webhooks, defaults=not request.rules)
        if request.rules and request.use_defaults:
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "give rules or use_defaults, not both")
        try:
            pulse.check_rules(list(rules.rules), self.rt.settings.pulse_windows())
            for hook in rules.webhooks:
                webhooks.check_url(hook.url)
                if not hook.secret:
                    raise ValueError(f"webhook {hook.url[:100]}: a secret is required (alerts are signed with it)")
        except ValueError as exc:
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        await (await self._kv(RULES_BUCKET)).put(request.stream_id, rules.SerializeToString())
        return self._without_secrets(rules)

    @_api
    async def GetAlertRules(self, request, context):
        await self._stream(request.stream_id)
        return self._without_secrets(await load_rules(await self._kv(RULES_BUCKET), request.stream_id))

    @_api
    async def ListWebhookDeliveries(self, request, context):
        await self._stream(request.stream_id)
        return await load_deliveries(await self._kv(DELIVERIES_BUCKET), request.stream_id)

    # ---- history ---------------------------------------------------------------------------------
    @staticmethod
    def _tenant_filter() -> str | None:
        """The tenant whose events the caller sees (None: an admin, or auth off, sees all)."""
        who = caller()
        return None if who.admin else who.tenant

    async def _history(self, call, *args):
        """A call on the history store, off the event loop; an unreachable database is UNAVAILABLE."""
        try:
            if self.history is None:
                s = self.rt.settings
                self.history = await asyncio.to_thread(history_store.open_store, s.history_url, s.data_dir)
            return await asyncio.to_thread(getattr(self.history, call), *args)
        except history_store.HistoryUnavailable as exc:
            raise ApiError(grpc.StatusCode.UNAVAILABLE, str(exc)) from None

    @_api
    async def ListEvents(self, request, context):
        if request.limit < 0:
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "limit cannot be negative")
        return api_pb2.ListEventsResponse(events=await self._history("list", request.limit, request.name[:200],
                                                                     request.live_only, self._tenant_filter()))

    @_api
    async def CompareEvents(self, request, context):
        if not 1 <= len(request.ids) <= MAX_COMPARE:
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"give 1 to {MAX_COMPARE} event ids, not {len(request.ids)}")
        try:
            return api_pb2.CompareEventsResponse(events=await self._history("get", list(request.ids),
                                                                            self._tenant_filter()))
        except KeyError as exc:
            raise ApiError(grpc.StatusCode.NOT_FOUND, str(exc.args[0] if exc.args else exc)) from None

    # ---- usage -----------------------------------------------------------------------------------
    @_api
    async def GetUsage(self, request, context):
        who = caller()
        tenant = request.tenant or who.tenant
        if not who.sees(tenant):  # another tenant's usage is as unknown as its jobs
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"no tenant {quoted(tenant)}")
        now = time.time()
        month = await (await self._usage()).get(tenant, now)
        mine = [j for j in await self.rt.jobs.all() if j.tenant == tenant and j.state not in bus.TERMINAL]
        limits = who.limits or (self.keys.limits if self.keys else auth.default_limits(self.rt.settings))
        return api_pb2.Usage(
            tenant=tenant, month=month["month"], media_minutes=month["media_s"] / 60, jobs=month["jobs"],
            streams=month["streams"], upload_bytes=month["upload_bytes"],
            running_jobs=sum(not j.HasField("stream") for j in mine), running_streams=sum(j.HasField("stream") for j in mine),
            limits={f: float(getattr(limits, f)) for f in limits.__dataclass_fields__},
            resets_at=quotas.iso(quotas.next_month(now)))

    # ---- audience --------------------------------------------------------------------------------
    @_api
    async def PostAudience(self, request_iterator, context):
        """Audience messages beside live streams: checked, then put on the bus for the text model.
        A message id the stream has already is refused by JetStream itself (one message per subject)."""
        s, accepted, duplicates = self.rt.settings, 0, 0
        streams: dict[str, list] = {}  # stream id -> [job, messages it holds]
        n = 0
        async for message in request_iterator:
            n += 1
            if message.stream_id not in streams:
                job = await self._stream(message.stream_id)
                if job.state in bus.TERMINAL:
                    raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, f"stream {job.id} has ended: audience messages "
                                   f"are taken while it is live ({accepted} of this call were accepted)")
                info = await self.rt.js.stream_info(bus.AUDIENCE, subjects_filter=bus.audience_subject(job.id))
                streams[job.id] = [job, len(info.state.subjects or {})]
            job, held = streams[message.stream_id]
            if caller().limits is not None:
                self.rates.audience(caller().tenant, caller().limits, time.time())
            problem = pulse.audience_problem(message, s.audience_max_chars)
            if problem:
                raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"message {n}: {problem} ({accepted} accepted before it)")
            if held >= s.audience_max_messages:
                if await self._audience_kept(job.id, message.message_id):
                    duplicates += 1  # a repeat at the limit is still only a repeat
                    continue
                raise ApiError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                               f"stream {job.id} holds {held} audience messages, the most one stream keeps "
                               f"(AUDIENCE_MAX_MESSAGES); {accepted} of this call were accepted")
            if not message.time_s:  # placed at the stream's media time now
                job = await self.rt.jobs.get(job.id) or job
            kept = api_audience(message, job)
            try:
                await self.rt.js.publish(bus.audience_subject(job.id, message.message_id), kept.SerializeToString())
            except APIError as exc:
                if "per subject" not in (exc.description or ""):
                    raise
                duplicates += 1
                continue
            accepted += 1
            streams[job.id][1] = held + 1
        return api_pb2.PostAudienceResponse(accepted=accepted, duplicates=duplicates)

    async def _audience_kept(self, stream_id: str, message_id: str) -> bool:
        try:
            await self.rt.js.get_last_msg(bus.AUDIENCE, bus.audience_subject(stream_id, message_id))
            return True
        except NotFoundError:
            return False

    async def SubscribeAlerts(self, request, context) -> AsyncIterator[pb.Alert]:
        """Alerts as they fire, from now on, across the streams the filter names."""
        streams, kinds = set(request.stream_ids), set(request.kinds)
        who, visible = caller(), {}  # stream id -> whether the caller may see its alerts
        SUBSCRIPTIONS.inc()
        sub = await self.rt.js.subscribe("alerts.>", ordered_consumer=True,
                                         config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW))
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=END_CHECK_S)
                except (NatsTimeout, NatsError):
                    continue
                alert = pb.JobEvent.FromString(msg.data).alert
                if ((not streams or alert.stream_id in streams) and (not kinds or alert.rule.kind in kinds)
                        and alert.rule.severity >= request.min_severity):
                    if alert.stream_id not in visible:
                        job = await self.rt.jobs.get(alert.stream_id)
                        visible[alert.stream_id] = job is not None and who.sees(job.tenant)
                    if visible[alert.stream_id]:
                        yield alert
        finally:
            SUBSCRIPTIONS.dec()
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def Subscribe(self, request, context) -> AsyncIterator[pb.JobEvent]:
        job = await self.rt.jobs.get(request.job_id) if request.job_id else None
        if job is None or not caller().sees(job.tenant):
            RPCS.labels("Subscribe", "NOT_FOUND").inc()
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no job with id {quoted(request.job_id)}")
        if request.start == api_pb2.SubscribeRequest.AFTER and request.after < 0:
            RPCS.labels("Subscribe", "INVALID_ARGUMENT").inc()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "after must be a sequence number, 0 or more")
        SUBSCRIPTIONS.inc()
        try:
            order = EventOrder(after=request.after if request.start == api_pb2.SubscribeRequest.AFTER else 0,
                               live=job.HasField("stream"))
            if request.start == api_pb2.SubscribeRequest.NOW:
                order.quiet_until_seq = await self._last_seq(job.id)
            async for event in self._replay(job.id, order):
                yield event
            RPCS.labels("Subscribe", "OK").inc()
        except asyncio.CancelledError:  # the client went away
            RPCS.labels("Subscribe", "CANCELLED").inc()
            raise
        except Exception:
            RPCS.labels("Subscribe", "INTERNAL").inc()
            raise
        finally:
            SUBSCRIPTIONS.dec()

    async def _last_seq(self, job_id: str) -> int:
        """The stream sequence of the job's newest event so far (0: none yet)."""
        try:
            return (await self.rt.js.get_last_msg("RESULTS", bus.results_subject(job_id))).seq
        except NotFoundError:
            return 0

    async def _replay(self, job_id: str, order: EventOrder) -> AsyncIterator[pb.JobEvent]:
        """The job's events from the stream's start, in the order `order` gives them.

        The stream ends with the job even if its last event never made it to the bus: a quiet stream
        looks at the job record, and an ended job ends the stream with an `ended` event.
        """
        subject = bus.results_subject(job_id)

        async def read_from(seq: int):
            while True:  # NATS may be restarting: wait for it (the client sees a quiet stream)
                try:
                    return await self.rt.js.subscribe(subject, ordered_consumer=True, config=ConsumerConfig(
                        deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=seq))
                except NatsError as exc:
                    self.rt.log.warning("Subscribe waits for NATS: %s", exc, extra={"job_id": job_id})
                    await asyncio.sleep(1.0)

        sub = await read_from(1)
        quiet_checks, last_seq = 0, 0
        try:
            while not order.ended:
                try:
                    msg = await sub.next_msg(timeout=END_CHECK_S)
                except (NatsTimeout, NatsError):
                    # Quiet: read on from the last event seen, on a fresh consumer (one that lived
                    # through a NATS restart may have gone stale), and look at the job itself.
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
                    sub = await read_from(last_seq + 1)
                    try:
                        job = await self.rt.jobs.get(job_id)
                    except NatsError:
                        continue
                    quiet_checks = quiet_checks + 1 if job is None or job.state in bus.TERMINAL else 0
                    # A live stream's summary waits for its final pulse, which may take the pulse
                    # service up to FUSION_DEADLINE_S (scoring the audience's last messages).
                    needed = 2 + (math.ceil(self.rt.settings.fusion_deadline_s / END_CHECK_S) if order.held else 0)
                    if quiet_checks >= needed:  # ended, and nothing more came: the end event was lost
                        for event in order.end(job or pb.Job(id=job_id, state=pb.FAILED,
                                                             reason="the job record has expired")):
                            yield event
                    continue
                last_seq, quiet_checks = msg.metadata.sequence.stream, 0
                for event in order.add(pb.JobEvent.FromString(msg.data), last_seq):
                    yield event
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()


def speaker_bounds(speakers: api_pb2.Speakers) -> dict[str, int]:
    """A request's speaker counts as Job fields, or INVALID_ARGUMENT saying what is wrong with them."""
    problem = diarization.bounds_problem(speakers.min_speakers, speakers.max_speakers)
    if problem:
        raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, problem)
    return {"min_speakers": speakers.min_speakers, "max_speakers": speakers.max_speakers}


def api_audience(message: pb.AudienceMessage, job: pb.Job) -> pb.AudienceMessage:
    """The message as kept: what the client said, placed in media time (scores come from the model)."""
    return pb.AudienceMessage(stream_id=job.id, message_id=message.message_id, author=message.author,
                              text=message.text, time_s=message.time_s or stream_view(job).media_seconds)


def build(runtime: Runtime) -> Gateway:
    return Gateway(runtime)
