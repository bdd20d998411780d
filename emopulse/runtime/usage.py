"""What each tenant used, per calendar month (UTC), shared by every gateway replica.

One record per (tenant, month) in the NATS KV bucket ``usage``, as small JSON, e.g.
``{"tenant": "acme", "month": "2026-12", "media_s": 754.2, "jobs": 3, "streams": 1,
"upload_bytes": 91234567, "audience": 0}``. It is changed only by compare-and-set (``update`` with
the revision read, ``create`` for the first write), so replicas adding at once never lose an increment.
The bucket has no age limit: past months are the tenant's bill. Records are few and tiny (one per
tenant and month).

Audience messages per minute are not counted here but in memory by each replica
(``quotas.RateLimits``): a CAS round trip per message would cost more than the message. The monthly
``audience`` counter is there for reporting; add to it in batches if at all.
"""
from __future__ import annotations

import base64
import json
import re

from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BadRequestError, KeyNotFoundError, KeyWrongLastSequenceError

from emopulse.processing.quotas import month_key

BUCKET = "usage"
COUNTED_BUCKET = "usage_counted"
COUNTERS = {"media_s": float, "jobs": int, "streams": int, "upload_bytes": int, "audience": int}
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_PLAIN_TENANT = re.compile(r"[A-Za-z0-9_-]+")


def record_key(tenant: str, month: str) -> str:
    """``<tenant>.<YYYY-MM>``. A tenant with characters a KV key cannot hold (or none: the open
    caller's "") is written as "=" and its unpadded base64url, which no plain name starts with."""
    if not _PLAIN_TENANT.fullmatch(tenant):
        tenant = "=" + base64.urlsafe_b64encode(tenant.encode()).decode().rstrip("=")
    return f"{tenant}.{month}"


def _month(month: str | float) -> str:
    """``YYYY-MM`` as given, or the month of a time (a job's acceptance)."""
    if isinstance(month, str):
        if not _MONTH.fullmatch(month):
            raise ValueError(f"month must be YYYY-MM, not {month!r}")
        return month
    return month_key(month)


def empty(tenant: str, month: str) -> dict:
    return {"tenant": tenant, "month": month, **{name: kind() for name, kind in COUNTERS.items()}}


class UsageStore:
    """Monthly usage per tenant in a KV bucket."""

    def __init__(self, kv, counted=None):
        self.kv = kv
        self.counted = counted  # markers of what count_once has counted

    @classmethod
    async def open(cls, js, replicas: int = 1, markers_age_s: float = 7 * 24 * 3600) -> UsageStore:
        kv = await js.create_key_value(KeyValueConfig(bucket=BUCKET, history=1, storage=StorageType.FILE,
                                                      replicas=replicas))
        # A marker outlives any redelivery of what it marks (the bus keeps events this long), then goes.
        counted = await js.create_key_value(KeyValueConfig(bucket=COUNTED_BUCKET, history=1, storage=StorageType.FILE,
                                                           replicas=replicas, ttl=markers_age_s))
        return cls(kv, counted)

    async def count_once(self, marker: str, tenant: str, month: str | float, **deltas: float) -> bool:
        """Add to ``month``'s counters once per ``marker`` (a job id): a redelivered end is not counted
        again. The marker is written first, so a crash between the two loses that count, never doubles it."""
        try:
            await self.counted.create(marker, b"")
        except (KeyWrongLastSequenceError, BadRequestError):  # the marker is there: counted already
            return False
        await self._change(tenant, _month(month), deltas)
        return True

    async def count_upto(self, marker: str, tenant: str, month: str | float, media_s: float) -> dict | None:
        """Count a job's media up to ``media_s`` in all, however often it is called: a live stream as it
        plays, then once more when it ends. The marker holds the seconds counted so far (changed by
        CAS, before the month's record, so a crash in between loses at most that step, never doubles
        it). Returns the month's record when something was added, else None. A marker of count_once
        (empty) means counted in full."""
        while True:
            try:
                entry = await self.counted.get(marker)
                counted, revision = (float(entry.value) if entry.value else None), entry.revision
            except KeyNotFoundError:
                counted, revision = 0.0, None
            if counted is None or media_s <= counted:
                return None
            value = f"{media_s:.3f}".encode()
            try:
                if revision is None:
                    await self.counted.create(marker, value)
                else:
                    await self.counted.update(marker, value, last=revision)
            except (KeyWrongLastSequenceError, BadRequestError):
                continue  # another replica counted meanwhile: read what it counted
            return await self._change(tenant, _month(month), {"media_s": media_s - counted})

    async def add(self, tenant: str, now: float, **deltas: float) -> dict:
        """Add to this month's counters (names in COUNTERS); returns the record as stored."""
        return await self._change(tenant, month_key(now), deltas)

    async def get(self, tenant: str, now: float) -> dict:
        """This month's record (all zeros when nothing was counted yet)."""
        month = month_key(now)
        record, _ = await self._read(record_key(tenant, month), tenant, month)
        return record

    async def _read(self, key: str, tenant: str, month: str) -> tuple[dict, int | None]:
        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:  # also a deleted key
            return empty(tenant, month), None
        return {**empty(tenant, month), **json.loads(entry.value)}, entry.revision

    async def _change(self, tenant: str, month: str, deltas: dict) -> dict:
        unknown = set(deltas) - set(COUNTERS)
        if unknown:
            raise ValueError(f"unknown usage counter(s) {sorted(unknown)}; known: {', '.join(COUNTERS)}")
        key = record_key(tenant, month)
        while True:
            record, revision = await self._read(key, tenant, month)
            if not any(deltas.values()):
                return record
            for name, delta in deltas.items():
                # Never below zero: usage is a bill, and no correction may turn it into credit.
                value = max(0, record[name] + delta)
                record[name] = round(value, 3) if COUNTERS[name] is float else int(value)
            data = json.dumps(record, separators=(",", ":")).encode()
            try:
                if revision is None:
                    await self.kv.create(key, data)
                else:
                    await self.kv.update(key, data, last=revision)
                return record
            except KeyWrongLastSequenceError:
                continue  # another replica wrote first: read its record and add again
