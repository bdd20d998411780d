"""Monthly usage on a real nats-server: racing replicas lose no increment, months stay apart, and the
a job's media is counted once, in the month the job was accepted in."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import nats
import pytest

from emopulse.runtime.usage import UsageStore, record_key


def utc(*args) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


DECEMBER = utc(2026, 12, 31, 23, 59, 59)
JANUARY = utc(2027, 1, 1)


@pytest.fixture
async def connections(nats_url):
    """Two connections: two gateway replicas."""
    ncs = [await nats.connect(nats_url), await nats.connect(nats_url)]
    yield [nc.jetstream() for nc in ncs]
    for nc in ncs:
        await nc.close()


async def test_replicas_adding_at_once_lose_no_increment(connections):
    stores = [await UsageStore.open(js) for js in connections]
    tasks = [stores[i % 2].add("acme", DECEMBER, media_s=1.5, jobs=1, upload_bytes=1000) for i in range(20)]
    await asyncio.gather(*tasks)

    record = await stores[0].get("acme", DECEMBER)
    assert (record["media_s"], record["jobs"], record["upload_bytes"], record["streams"]) == (30.0, 20, 20000, 0)
    # Exactly one stored write per add: none overwrote another.
    entry = await stores[1].kv.get(record_key("acme", "2026-12"))
    assert entry.revision == 20
    assert json.loads(entry.value)["jobs"] == 20


async def test_add_returns_the_record_as_stored(connections):
    store = await UsageStore.open(connections[0])
    assert await store.get("acme", DECEMBER) == {"tenant": "acme", "month": "2026-12", "media_s": 0.0, "jobs": 0,
                                                 "streams": 0, "upload_bytes": 0, "audience": 0}
    first = await store.add("acme", DECEMBER, streams=1)
    second = await store.add("acme", DECEMBER, streams=1, audience=40)
    assert (first["streams"], second["streams"], second["audience"]) == (1, 2, 40)
    assert await store.get("acme", DECEMBER) == second
    with pytest.raises(ValueError, match="minutes"):
        await store.add("acme", DECEMBER, minutes=3)


async def test_months_and_tenants_are_counted_apart(connections):
    store = await UsageStore.open(connections[0])
    await store.add("acme", DECEMBER, media_s=600, jobs=1)
    await store.add("acme", JANUARY, media_s=60, jobs=1)
    await store.add("globex", DECEMBER, media_s=5, jobs=1)

    december, january = await store.get("acme", DECEMBER), await store.get("acme", JANUARY)
    assert (december["month"], december["media_s"], december["jobs"]) == ("2026-12", 600.0, 1)
    assert (january["month"], january["media_s"], january["jobs"]) == ("2027-01", 60.0, 1)
    assert (await store.get("globex", DECEMBER))["media_s"] == 5.0
    assert (await store.get("globex", JANUARY))["media_s"] == 0.0


async def test_a_job_is_counted_in_the_month_it_was_accepted_in(connections):
    store = await UsageStore.open(connections[0])
    await store.add("acme", JANUARY, media_s=60)
    # A job accepted on 31 December ends in January: its media goes to December, January is untouched.
    assert (await store.count_upto("job-dec", "acme", DECEMBER, media_s=480))["media_s"] == 480.0
    assert (await store.count_upto("job-dec", "acme", "2026-12", media_s=510.5))["media_s"] == 510.5
    assert (await store.get("acme", JANUARY))["media_s"] == 60.0
    with pytest.raises(ValueError, match="YYYY-MM"):
        await store.count_upto("job-x", "acme", "December", media_s=1)


async def test_any_tenant_name_gets_a_valid_key_of_its_own(connections):
    store = await UsageStore.open(connections[0])
    names = ["", "acme corp", "acme.corp", "=acme", "acme"]
    for i, tenant in enumerate(names):
        await store.add(tenant, DECEMBER, jobs=i + 1)
    assert [(await store.get(t, DECEMBER))["jobs"] for t in names] == [1, 2, 3, 4, 5]
    assert len({record_key(t, "2026-12") for t in names}) == len(names)


async def test_records_survive_reopening_the_bucket(connections):
    await (await UsageStore.open(connections[0])).add("acme", DECEMBER, jobs=2)
    again = await UsageStore.open(connections[1])  # create_key_value on an existing bucket keeps it
    assert (await again.get("acme", DECEMBER))["jobs"] == 2


async def test_a_stream_metered_as_it_plays_is_counted_once_in_all(connections):
    """Two pulse replicas meter one live stream as it plays, then its end is counted (twice, as a
    redelivery would): the month holds exactly the stream's media, never more."""
    stores = [await UsageStore.open(js) for js in connections]
    ticks = [stores[i % 2].count_upto("stream-1", "acme", DECEMBER, media_s=5.0 * (i // 2 + 1)) for i in range(20)]
    added = await asyncio.gather(*ticks)
    assert (await stores[0].get("acme", DECEMBER))["media_s"] == 50.0
    assert sum(r is not None for r in added) <= 10  # the same total twice is counted once
    assert await stores[1].count_upto("stream-1", "acme", DECEMBER, media_s=30.0) is None  # behind: nothing
    ended = await stores[1].count_upto("stream-1", "acme", "2026-12", media_s=52.25)
    assert ended["media_s"] == 52.25
    assert await stores[0].count_upto("stream-1", "acme", DECEMBER, media_s=52.25) is None
    # a job counted whole by count_once is not counted again
    assert await stores[0].count_once("job-1", "acme", DECEMBER, media_s=7.0)
    assert not await stores[1].count_once("job-1", "acme", DECEMBER, media_s=7.0)
    assert await stores[1].count_upto("job-1", "acme", DECEMBER, media_s=9.0) is None
    assert (await stores[0].get("acme", DECEMBER))["media_s"] == 59.25
