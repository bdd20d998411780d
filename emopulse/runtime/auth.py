"""API keys, and who is calling.

A key is ``ep_<id>_<secret>``: the id finds its record, the secret (32 random bytes) is shown once at
creation and never stored; the record keeps a salted HMAC-SHA256 of it (a key has the entropy of a
random token, so a slow password KDF would add latency and no safety). Records live in the NATS KV
bucket ``api_keys``, which has no age limit. Every gateway replica reads a key's record again after
``AUTH_CACHE_S``, so a revoked key is refused everywhere within seconds.

The gateway's ``Gate`` (a gRPC server interceptor, one for every RPC of the API) turns the
``authorization: Bearer <key>`` header into a :class:`Caller` that handlers read from ``CALLER``.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from contextvars import ContextVar
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import KeyNotFoundError

from emopulse.processing import quotas
from emopulse.runtime.bus import kv_values
from emopulse.runtime.settings import Settings
from emopulse.v1 import events_pb2 as ev

BUCKET = "api_keys"
_TOKEN = re.compile(r"ep_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
LAST_USED_EVERY_S = 60.0  # a key's last-used time is written at most this often


@dataclass(frozen=True)
class Caller:
    """Whose call this is: every job, stream and event belongs to one tenant; an admin sees all."""

    tenant: str
    admin: bool = False
    key_id: str = ""
    limits: quotas.Limits | None = None  # None: no quotas (auth off, or an admin)

    def sees(self, tenant: str) -> bool:
        return self.admin or tenant == self.tenant

    def holds(self, tenant: str, key_id: str) -> bool:
        """What one key made and only it may use (a direct upload's reference); an admin may too."""
        return self.admin or (tenant == self.tenant and key_id == self.key_id)


#: With auth off (the embedded default on loopback) every caller is this one: today's behaviour.
OPEN = Caller(tenant="", admin=True)
CALLER: ContextVar[Caller] = ContextVar("caller", default=OPEN)


class Refused(Exception):
    """The call carries no usable key: UNAUTHENTICATED, with this message."""


def default_limits(settings: Settings) -> quotas.Limits:
    """The quotas every tenant has unless its key says otherwise."""
    return quotas.Limits(
        media_minutes_per_month=settings.quota_media_minutes_per_month, concurrent_jobs=settings.quota_concurrent_jobs,
        concurrent_streams=settings.quota_concurrent_streams, upload_bytes=settings.upload_limit_bytes,
        audience_per_minute=settings.quota_audience_per_minute,
        requests_per_second=settings.quota_requests_per_second, burst=settings.quota_burst)


def _digest(salt: bytes, secret: str) -> bytes:
    return hmac.new(salt, secret.encode(), hashlib.sha256).digest()


def bearer(metadata) -> str:
    """The key in an ``authorization: Bearer <key>`` header, or ""."""
    value = dict(metadata or ()).get("authorization", "")
    scheme, _, key = value.partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


class KeyStore:
    """The API keys, in a KV bucket every gateway replica and the admin command share."""

    def __init__(self, js, kv, cache_s: float = 2.0, limits: quotas.Limits = quotas.Limits()):
        self.js, self.kv = js, kv
        self.cache_s = cache_s
        self.limits = limits
        self._cache: dict[str, tuple[float, ev.ApiKey | None]] = {}

    @classmethod
    async def open(cls, js, settings: Settings) -> KeyStore:
        kv = await js.create_key_value(KeyValueConfig(bucket=BUCKET, history=1, storage=StorageType.FILE,
                                                      replicas=settings.stream_replicas))
        return cls(js, kv, settings.auth_cache_s, default_limits(settings))

    async def create(self, name: str, tenant: str = "", admin: bool = False,
                     limits: dict[str, float] | None = None) -> tuple[ev.ApiKey, str]:
        """A new key: its record, and the key itself (shown once, never stored). The tenant defaults
        to the key's own id, so keys share a tenant only when asked to; ``limits`` override the
        settings' quotas for it (quotas.Limits names)."""
        if not name.strip():
            raise ValueError("a key needs a name (--name)")
        checked = self.limits.merged(limits or {})  # refuses an unknown limit or a bad value now, not at each call
        limits = {name: float(getattr(checked, name)) for name in limits or {}}
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        record = ev.ApiKey(id=key_id, name=name.strip(), tenant=tenant.strip() or key_id, admin=admin,
                           salt=salt, hash=_digest(salt, secret), created_at=time.time(), limits=limits)
        await self.kv.create(key_id, record.SerializeToString())
        return record, f"ep_{key_id}_{secret}"

    async def get(self, key_id: str) -> ev.ApiKey | None:
        try:
            entry = await self.kv.get(key_id)
        except KeyNotFoundError:
            return None
        return ev.ApiKey.FromString(entry.value or b"") if entry.value else None

    async def all(self) -> list[ev.ApiKey]:
        records = [ev.ApiKey.FromString(value) for value in (await kv_values(self.js, BUCKET)).values()]
        return sorted(records, key=lambda r: r.created_at)

    async def revoke(self, key_id: str) -> ev.ApiKey:
        record = await self.get(key_id)
        if record is None:
            raise KeyError(f"no key with id {key_id!r}")
        if not record.revoked_at:
            record.revoked_at = time.time()
            await self.kv.put(key_id, record.SerializeToString())
        return record

    async def _record(self, key_id: str) -> ev.ApiKey | None:
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is None or now - cached[0] > self.cache_s:
            cached = (now, await self.get(key_id))
            self._cache[key_id] = cached
        return cached[1]

    async def caller(self, key: str) -> Caller:
        """The caller a key stands for; Refused when it is missing, malformed, unknown or revoked."""
        if not key:
            raise Refused("an API key is required: send `authorization: Bearer <key>` (EMOPULSE_API_KEY)")
        match = _TOKEN.fullmatch(key)
        record = await self._record(match.group(1)) if match else None
        if record is None or not hmac.compare_digest(record.hash, _digest(record.salt, match.group(2))):
            raise Refused("the API key is not valid")
        if record.revoked_at:
            raise Refused("the API key has been revoked")
        if time.time() - record.last_used_at > LAST_USED_EVERY_S:
            await self._touch(record)
        limits = None if record.admin else self.limits.merged(dict(record.limits))
        return Caller(tenant=record.tenant, admin=record.admin, key_id=record.id, limits=limits)

    async def _touch(self, record: ev.ApiKey) -> None:
        """Note the key's use (best effort: a lost race only delays the note)."""
        record.last_used_at = time.time()
        try:
            await self.kv.put(record.id, record.SerializeToString())
        except Exception:
            pass


class Gate(grpc.aio.ServerInterceptor):
    """Every call to the guarded gRPC service (the API) passes here. A request that is not valid
    protobuf gets INVALID_ARGUMENT (left to itself, gRPC answers UNKNOWN); with a ``check(key) ->
    Caller`` set (auth on) the key decides who calls, else everyone is ``OPEN``; handlers read the
    caller from ``CALLER``. Other services (health, reflection) pass untouched."""

    def __init__(self):
        self.service = ""
        self.check = None

    def guard(self, service: str, check=None) -> None:
        self.service, self.check = service, check

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None or not self.service or not details.method.startswith(f"/{self.service}/"):
            return handler
        caller = OPEN
        if self.check is not None:
            try:
                caller = await self.check(bearer(details.invocation_metadata))
            except Refused as exc:
                return _answering(handler, grpc.StatusCode.UNAUTHENTICATED, str(exc))
            except quotas.Exceeded as exc:  # the tenant's request rate
                return _answering(handler, grpc.StatusCode.RESOURCE_EXHAUSTED, exc.message, exc.retry_after_s)
        return _as(handler, caller)


def _kind(handler) -> str:
    return ("stream" if handler.request_streaming else "unary") + "_" + ("stream" if handler.response_streaming else "unary")


def _rebuilt(handler, behaviour):
    """The handler's shape with ``behaviour``, taking the requests as bytes (``behaviour`` decodes them)."""
    make = getattr(grpc, f"{_kind(handler)}_rpc_method_handler")
    return make(behaviour, request_deserializer=None, response_serializer=handler.response_serializer)


def _decoder(handler):
    """bytes -> request; a malformed one aborts the call with INVALID_ARGUMENT naming the message type."""
    decode = handler.request_deserializer
    name = getattr(getattr(decode, "__self__", None), "__name__", "request")

    async def decoded(raw: bytes, context):
        try:
            return decode(raw) if decode else raw
        except (DecodeError, ValueError):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"the request is not a valid {name} message")
    return decoded


def _as(handler, caller: Caller):
    """The handler, run with ``CALLER`` set to ``caller`` and its requests decoded safely."""
    inner, decoded = getattr(handler, _kind(handler)), _decoder(handler)

    async def requests(raw_requests, context):
        async for raw in raw_requests:
            yield await decoded(raw, context)

    async def arguments(request, context):
        CALLER.set(caller)
        return requests(request, context) if handler.request_streaming else await decoded(request, context)

    if handler.response_streaming:
        async def behaviour(request, context):
            async for item in inner(await arguments(request, context), context):
                yield item
    else:
        async def behaviour(request, context):
            return await inner(await arguments(request, context), context)
    return _rebuilt(handler, behaviour)


def retry_after(seconds: float | None) -> tuple:
    """Trailing metadata that says when to try again (gRPC has no standard header; HTTP's name is kept)."""
    return (("retry-after", f"{max(0.0, seconds):.1f}"),) if seconds is not None else ()


def _answering(handler, code: grpc.StatusCode, message: str, after_s: float | None = None):
    """A handler of the same shape that only answers ``code`` (with retry-after, when known)."""
    async def answer(context):
        context.set_trailing_metadata(retry_after(after_s))
        await context.abort(code, message)

    if handler.response_streaming:
        async def behaviour(request, context):
            await answer(context)
            yield  # an async generator, as the shape requires
    else:
        async def behaviour(request, context):
            await answer(context)
    return _rebuilt(handler, behaviour)
