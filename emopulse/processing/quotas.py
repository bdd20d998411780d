"""Per-tenant quotas: what a tenant may use, and the message that says which limit a call hit.

Pure: no I/O, the clock is passed in (``now``, unix seconds). Counts that several gateway replicas
share (media minutes, jobs, streams, upload bytes per month) live in ``emopulse.runtime.usage``;
the running jobs and streams are counted by the caller; the rates (requests per second, audience
messages per minute) are counted in memory by each replica with :class:`RateLimits`.

Every limit is a field of :class:`Limits`; 0 means unlimited. Over a limit, a check raises
:class:`Exceeded` naming the field, the limit, the use, and when it resets.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import datetime, timezone

WINDOW_S = 60.0  # the audience window


@dataclass(frozen=True)
class Limits:
    """A tenant's limits (0 = unlimited). The gateway builds one from its settings; a key may override any field."""

    media_minutes_per_month: float = 600.0
    concurrent_jobs: int = 8
    concurrent_streams: int = 2
    upload_bytes: int = 2 * 1024**3
    audience_per_minute: int = 600
    requests_per_second: float = 20.0
    burst: int = 40

    def merged(self, overrides: dict) -> Limits:
        """These limits with `overrides` (field name -> value) applied; a name that is no field, or a
        value that is negative or not a number, is a ValueError naming the field."""
        fields = {f.name: type(getattr(self, f.name)) for f in dataclasses.fields(self)}
        changes = {}
        for name, value in overrides.items():
            if name not in fields:
                raise ValueError(f"unknown limit {name!r}; known limits: {', '.join(fields)}")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"limit {name} must be a number, not {value!r}") from None
            if not math.isfinite(number) or number < 0:
                raise ValueError(f"limit {name} must be 0 (unlimited) or more, not {value!r}")
            if fields[name] is int and number != int(number):
                raise ValueError(f"limit {name} must be a whole number, not {value!r}")
            changes[name] = fields[name](number)
        return dataclasses.replace(self, **changes)


class Exceeded(Exception):
    """A call over a limit: RESOURCE_EXHAUSTED with `message`. `limit` is the Limits field's name;
    `retry_after_s` is how long until the limit resets, or None when no wait will do (a running job
    must end first, a file is too big)."""

    def __init__(self, limit: str, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.limit = limit
        self.message = message
        self.retry_after_s = retry_after_s


# --- calendar months (UTC) -------------------------------------------------------------------------

def _utc(now: float) -> datetime:
    return datetime.fromtimestamp(now, timezone.utc)


def month_start(now: float) -> float:
    """The first instant of `now`'s month, UTC."""
    t = _utc(now)
    return datetime(t.year, t.month, 1, tzinfo=timezone.utc).timestamp()


def next_month(now: float) -> float:
    """The first instant of the month after `now`'s, UTC: when monthly counts reset."""
    t = _utc(now)
    year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
    return datetime(year, month, 1, tzinfo=timezone.utc).timestamp()


def month_key(now: float) -> str:
    """`now`'s month as ``YYYY-MM`` (UTC): the usage record it counts in."""
    return _utc(now).strftime("%Y-%m")


def iso(ts: float) -> str:
    return _utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def _size(n: int) -> str:
    value, unit = float(n), "bytes"
    for bigger in ("KiB", "MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


def _seconds(s: float) -> str:
    return f"{s:.1f}" if s >= 1 else f"{s:.2g}"  # 0.04 s, not "0.0 s"


# --- checks ----------------------------------------------------------------------------------------

def check_media(used_s: float, adding_s: float, limits: Limits, now: float) -> None:
    """Media minutes this month: `used_s` already accepted, `adding_s` about to be (a file's duration,
    or the caller's estimate; 0 for work whose length is not known yet, such as a live stream). Refused
    when the month's minutes are all used, or when the new work would pass the limit."""
    limit = limits.media_minutes_per_month
    if not limit or (used_s < limit * 60 and used_s + adding_s <= limit * 60):
        return
    resets = next_month(now)
    asking = f", {adding_s / 60:.1f} more asked" if adding_s > 0 else ""
    raise Exceeded("media_minutes_per_month",
                   f"media minutes this month: {used_s / 60:.1f} of {limit:g} used{asking}; resets {iso(resets)}",
                   resets - now)


def check_concurrent(kind: str, running: int, limits: Limits) -> None:
    """Before starting one more job or live stream (`kind` "jobs" or "streams"), `running` now."""
    if kind not in ("jobs", "streams"):
        raise ValueError(f"kind must be 'jobs' or 'streams', not {kind!r}")
    name = f"concurrent_{kind}"
    limit = getattr(limits, name)
    if limit and running >= limit:
        what = "job" if kind == "jobs" else "stream"
        raise Exceeded(name, f"concurrent {kind}: {running} of {limit} running; frees up when a {what} ends")


def check_upload(size: int, limits: Limits) -> None:
    """One upload's size (checked as bytes arrive, so a big upload stops early)."""
    limit = limits.upload_bytes
    if limit and size > limit:
        raise Exceeded("upload_bytes", f"upload size: {_size(size)} is over the limit of {_size(limit)} "
                                       f"({limit} bytes) per upload")


def check_audience(count_in_window: int, adding: int, limits: Limits, window_start: float, now: float) -> None:
    """Audience messages in the fixed window that began at `window_start` (a window older than
    WINDOW_S counts as empty: the caller starts a new one)."""
    limit = limits.audience_per_minute
    if not limit:
        return
    resets = window_start + WINDOW_S
    if now >= resets:  # that window is over: this message opens the next one
        count_in_window, resets = 0, now + WINDOW_S
    if count_in_window + adding > limit:
        raise Exceeded("audience_per_minute", f"audience messages per minute: {count_in_window} of {limit} used; "
                                              f"resets in {_seconds(resets - now)} s", resets - now)


class TokenBucket:
    """Requests per second: `rate` tokens a second refill a bucket of `burst` (full at first); each
    request takes one. A burst of 0 means one second's worth (at least 1); a rate of 0, unlimited."""

    def __init__(self, rate: float, burst: int):
        self.rate = rate
        self.burst = burst
        self.capacity = float(burst) if burst > 0 else max(1.0, rate)
        self.tokens = self.capacity
        self.stamp: float | None = None  # when tokens was last brought up to date

    def take(self, now: float) -> None:
        if self.rate <= 0:
            return
        if self.stamp is not None and now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        # A clock that steps back refills nothing (and does not refill the same time twice later).
        self.stamp = now if self.stamp is None else max(self.stamp, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return
        wait = (1.0 - self.tokens) / self.rate
        raise Exceeded("requests_per_second", f"requests per second: limit {self.rate:g}/s (burst {self.capacity:g}); "
                                              f"retry in {_seconds(wait)} s", wait)


class RateLimits:
    """The limits one gateway replica counts in memory, per tenant: requests per second and audience
    messages per minute. They guard against bursts, which are over before replicas could agree on a
    shared count, so each replica counts its own calls: with N replicas behind a balancer a tenant
    gets up to N times the rate. A compare-and-set per request (as the monthly usage is counted)
    would cost a NATS round trip and contend on one record for every call."""

    def __init__(self):
        self._buckets: dict[str, TokenBucket] = {}
        self._audience: dict[str, tuple[float, int]] = {}  # tenant -> (window start, messages in it)

    def request(self, tenant: str, limits: Limits, now: float) -> None:
        bucket = self._buckets.get(tenant)
        if bucket is None or (bucket.rate, bucket.burst) != (limits.requests_per_second, limits.burst):
            bucket = self._buckets[tenant] = TokenBucket(limits.requests_per_second, limits.burst)
        bucket.take(now)

    def audience(self, tenant: str, limits: Limits, now: float, adding: int = 1) -> None:
        start, count = self._audience.get(tenant, (now, 0))
        if not start <= now < start + WINDOW_S:
            start, count = now, 0
        check_audience(count, adding, limits, start, now)
        self._audience[tenant] = (start, count + adding)
