"""Quotas: pure checks with a fake clock. Each refusal names its limit, the limit, the use and when it resets."""
from datetime import datetime, timezone

import pytest

from emopulse.processing import quotas
from emopulse.processing.quotas import Exceeded, Limits, TokenBucket


def utc(*args) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


# --- token bucket ----------------------------------------------------------------------------------

def test_bucket_allows_the_burst_then_refuses_with_the_exact_wait():
    bucket = TokenBucket(rate=10, burst=20)
    for _ in range(20):
        bucket.take(100.0)
    with pytest.raises(Exceeded) as refused:
        bucket.take(100.0)
    assert refused.value.limit == "requests_per_second"
    assert refused.value.retry_after_s == pytest.approx(0.1)
    assert str(refused.value) == "requests per second: limit 10/s (burst 20); retry in 0.1 s"


def test_bucket_refills_at_its_rate_and_the_wait_shrinks():
    bucket = TokenBucket(rate=4, burst=2)
    bucket.take(0.0)
    bucket.take(0.0)
    with pytest.raises(Exceeded) as refused:
        bucket.take(0.1)  # 0.4 of a token back
    assert refused.value.retry_after_s == pytest.approx(0.15)
    bucket.take(0.25)  # exactly one token back
    with pytest.raises(Exceeded):
        bucket.take(0.25)


def test_bucket_never_holds_more_than_its_burst():
    bucket = TokenBucket(rate=10, burst=3)
    bucket.take(0.0)
    for _ in range(3):
        bucket.take(1000.0)  # a long idle time refills to the burst, no further
    with pytest.raises(Exceeded) as refused:
        bucket.take(1000.0)
    assert refused.value.retry_after_s == pytest.approx(0.1)


def test_bucket_with_a_clock_stepping_back_refills_nothing_twice():
    bucket = TokenBucket(rate=1, burst=1)
    bucket.take(10.0)
    with pytest.raises(Exceeded):
        bucket.take(9.0)  # the clock stepped back: no refill
    with pytest.raises(Exceeded) as refused:
        bucket.take(10.5)  # half a second since 10.0, not 1.5 since 9.0
    assert refused.value.retry_after_s == pytest.approx(0.5)


def test_bucket_rate_zero_is_unlimited_and_burst_zero_is_one_seconds_worth():
    unlimited = TokenBucket(rate=0, burst=0)
    for _ in range(10_000):
        unlimited.take(0.0)
    bucket = TokenBucket(rate=5, burst=0)
    for _ in range(5):
        bucket.take(0.0)
    with pytest.raises(Exceeded):
        bucket.take(0.0)


def test_a_short_wait_is_not_shown_as_zero():
    bucket = TokenBucket(rate=25, burst=1)
    bucket.take(0.0)
    with pytest.raises(Exceeded) as refused:
        bucket.take(0.0)
    assert "retry in 0.04 s" in str(refused.value)


# --- months ----------------------------------------------------------------------------------------

def test_month_boundaries_in_utc():
    mid = utc(2026, 3, 15, 12, 30)
    assert quotas.month_start(mid) == utc(2026, 3, 1)
    assert quotas.next_month(mid) == utc(2026, 4, 1)
    assert quotas.month_key(mid) == "2026-03"
    # The first instant belongs to its own month, the last second before it to the one before.
    assert quotas.month_start(utc(2026, 4, 1)) == utc(2026, 4, 1)
    assert quotas.month_key(utc(2026, 4, 1) - 1) == "2026-03"


def test_december_rolls_over_to_january():
    last_second = utc(2026, 12, 31, 23, 59, 59)
    assert quotas.month_start(last_second) == utc(2026, 12, 1)
    assert quotas.next_month(last_second) == utc(2027, 1, 1)
    assert quotas.month_key(last_second) == "2026-12"
    assert quotas.month_key(utc(2027, 1, 1)) == "2027-01"
    assert quotas.next_month(utc(2027, 1, 1)) == utc(2027, 2, 1)


# --- checks ----------------------------------------------------------------------------------------

def test_media_minutes_refused_at_the_limit_with_its_reset():
    limits = Limits(media_minutes_per_month=120)
    now = utc(2026, 12, 20)
    quotas.check_media(100 * 60, 20 * 60, limits, now)  # exactly reaching the limit is allowed
    with pytest.raises(Exceeded) as refused:
        quotas.check_media(120 * 60, 0, limits, now)
    assert refused.value.limit == "media_minutes_per_month"
    assert str(refused.value) == "media minutes this month: 120.0 of 120 used; resets 2027-01-01T00:00:00Z"
    assert refused.value.retry_after_s == utc(2027, 1, 1) - now


def test_media_minutes_refused_when_the_new_file_would_pass_the_limit():
    with pytest.raises(Exceeded) as refused:
        quotas.check_media(100 * 60, 30 * 60, Limits(media_minutes_per_month=120), utc(2026, 6, 3))
    assert str(refused.value) == ("media minutes this month: 100.0 of 120 used, 30.0 more asked; "
                                  "resets 2026-07-01T00:00:00Z")


def test_concurrent_jobs_and_streams():
    limits = Limits(concurrent_jobs=2, concurrent_streams=1)
    quotas.check_concurrent("jobs", 1, limits)
    with pytest.raises(Exceeded) as refused:
        quotas.check_concurrent("jobs", 2, limits)
    assert refused.value.limit == "concurrent_jobs"
    assert str(refused.value) == "concurrent jobs: 2 of 2 running; frees up when a job ends"
    assert refused.value.retry_after_s is None
    with pytest.raises(Exceeded) as refused:
        quotas.check_concurrent("streams", 1, limits)
    assert str(refused.value) == "concurrent streams: 1 of 1 running; frees up when a stream ends"
    with pytest.raises(ValueError, match="kind"):
        quotas.check_concurrent("uploads", 0, limits)


def test_upload_size():
    limits = Limits(upload_bytes=2 * 1024**3)
    quotas.check_upload(2 * 1024**3, limits)
    with pytest.raises(Exceeded) as refused:
        quotas.check_upload(3 * 1024**3, limits)
    assert refused.value.limit == "upload_bytes"
    assert str(refused.value) == "upload size: 3.0 GiB is over the limit of 2.0 GiB (2147483648 bytes) per upload"
    assert refused.value.retry_after_s is None
    with pytest.raises(Exceeded, match="upload size: 1.5 KiB is over the limit of 1000 bytes"):
        quotas.check_upload(1536, Limits(upload_bytes=1000))


def test_audience_window():
    limits = Limits(audience_per_minute=3)
    quotas.check_audience(2, 1, limits, window_start=100.0, now=110.0)
    with pytest.raises(Exceeded) as refused:
        quotas.check_audience(3, 1, limits, window_start=100.0, now=110.0)
    assert refused.value.limit == "audience_per_minute"
    assert str(refused.value) == "audience messages per minute: 3 of 3 used; resets in 50.0 s"
    assert refused.value.retry_after_s == pytest.approx(50.0)
    quotas.check_audience(3, 1, limits, window_start=100.0, now=160.0)  # that window is over
    with pytest.raises(Exceeded) as refused:
        quotas.check_audience(0, 4, limits, window_start=100.0, now=170.0)  # too many for any window
    assert refused.value.retry_after_s == pytest.approx(60.0)


def test_zero_means_unlimited():
    none = Limits(media_minutes_per_month=0, concurrent_jobs=0, concurrent_streams=0, upload_bytes=0,
                  audience_per_minute=0, requests_per_second=0, burst=0)
    quotas.check_media(1e9, 1e9, none, 0.0)
    quotas.check_concurrent("jobs", 10**6, none)
    quotas.check_concurrent("streams", 10**6, none)
    quotas.check_upload(10**15, none)
    quotas.check_audience(10**6, 1, none, 0.0, 1.0)
    limiter = quotas.RateLimits()
    for _ in range(1000):
        limiter.request("t", none, 0.0)
        limiter.audience("t", none, 0.0)


# --- the in-memory rates per tenant ----------------------------------------------------------------

def test_rate_limits_count_each_tenant_apart():
    limits = Limits(requests_per_second=1, burst=2, audience_per_minute=2)
    limiter = quotas.RateLimits()
    limiter.request("a", limits, 0.0)
    limiter.request("a", limits, 0.0)
    with pytest.raises(Exceeded):
        limiter.request("a", limits, 0.0)
    limiter.request("b", limits, 0.0)  # another tenant has its own bucket
    limiter.request("a", limits.merged({"burst": 5}), 0.0)  # changed limits: a fresh bucket

    limiter.audience("a", limits, 0.0)
    limiter.audience("a", limits, 30.0)
    with pytest.raises(Exceeded) as refused:
        limiter.audience("a", limits, 59.0)
    assert refused.value.retry_after_s == pytest.approx(1.0)
    limiter.audience("b", limits, 59.0)
    limiter.audience("a", limits, 60.0)  # a new window


# --- overrides -------------------------------------------------------------------------------------

def test_defaults():
    limits = Limits()
    assert (limits.media_minutes_per_month, limits.concurrent_jobs, limits.concurrent_streams, limits.upload_bytes,
            limits.audience_per_minute, limits.requests_per_second, limits.burst) == (600.0, 8, 2, 2 * 1024**3,
                                                                                      600, 20.0, 40)


def test_overrides_apply_with_the_fields_types():
    base = Limits()
    merged = base.merged({"concurrent_jobs": "3", "media_minutes_per_month": 90, "requests_per_second": 0})
    assert merged.concurrent_jobs == 3 and isinstance(merged.concurrent_jobs, int)
    assert merged.media_minutes_per_month == 90.0 and isinstance(merged.media_minutes_per_month, float)
    assert merged.requests_per_second == 0
    assert merged.burst == base.burst
    assert base.concurrent_jobs == 8  # the defaults are untouched
    assert base.merged({}) == base


@pytest.mark.parametrize("overrides, named", [
    ({"concurrent_job": 3}, "concurrent_job"),
    ({"burst": -1}, "burst"),
    ({"burst": 1.5}, "burst"),
    ({"upload_bytes": "lots"}, "upload_bytes"),
    ({"media_minutes_per_month": float("inf")}, "media_minutes_per_month"),
])
def test_bad_overrides_name_the_field(overrides, named):
    with pytest.raises(ValueError, match=named):
        Limits().merged(overrides)
