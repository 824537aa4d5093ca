"""The group-commit writer in-process, on real Postgres and Redis: grouping, duplicates inside
one batch, and one bad send among good ones."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from chatcore.db import create_pool
from chatcore.errors import InvalidInput
from chatcore.events import parse_room_event
from chatcore.migrations import migrate
from chatcore.redisconn import Names
from message_service.app import events_redis
from message_service.publisher import Publisher
from message_service.store import NewMessage
from message_service.writer import Writer

MIGRATIONS = Path(__file__).parents[1] / "message_service" / "migrations"


# The service's writer runs on one generic plan (its own pool); through a pooler, on the
# service's pool, planned for each batch (Postgres' default choice here): both store the same.
@pytest.fixture(params=["force_generic_plan", "auto"])
async def writer(
    request: pytest.FixtureRequest, database_url: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[Writer]:
    await migrate(database_url, "messages", MIGRATIONS)
    pool = await create_pool(
        database_url,
        application_name="test-writer",
        min_size=1,
        max_size=2,
        settings={"plan_cache_mode": request.param},
    )
    events = events_redis(redis_url)
    publisher = Publisher(events, Names(f"{redis_prefix}writer:"), max_pending=10_000)
    writer = Writer(pool, publisher, batch_max=64)
    yield writer
    await writer.stop()
    await publisher.stop()
    await events.aclose()
    await pool.close()


def _batches() -> float:
    return REGISTRY.get_sample_value("messages_batch_size_count") or 0.0


async def test_concurrent_sends_are_committed_in_groups(
    writer: Writer, redis_url: str, redis_prefix: str
) -> None:
    """300 sends at once take a handful of transactions (at most 64 each), seqs 1..300,
    each published once."""
    room = uuid.uuid4()
    client = aioredis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe(f"{redis_prefix}writer:room:{room}")
    assert (await pubsub.get_message(timeout=5))["type"] == "subscribe"
    before = _batches()
    senders = [uuid.uuid4() for _ in range(30)]
    sends = [NewMessage(uuid.uuid4(), room, senders[n % 30], f"c{n}", f"m{n}") for n in range(300)]
    appended = await asyncio.gather(*(writer.append(m) for m in sends))
    assert sorted(a.message["seq"] for a in appended) == list(range(1, 301))
    assert all(a.created for a in appended)
    batches = _batches() - before
    assert 300 / 64 <= batches < 30, batches
    published = []
    while len(published) < 300:
        message = await pubsub.get_message(timeout=5)
        assert message is not None, len(published)
        published.append(parse_room_event(message["data"]).seq)
    assert await pubsub.get_message(timeout=0.3) is None
    assert sorted(published) == list(range(1, 301))
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    await client.aclose()


async def test_duplicates_and_a_bad_send_in_one_batch(writer: Writer) -> None:
    """Two sends with one key in a batch share one message; a send the database refuses
    gets its own error while the rest are stored, with no seq gap."""
    room, sender = uuid.uuid4(), uuid.uuid4()
    first = NewMessage(uuid.uuid4(), room, sender, "same", "one")
    twin = NewMessage(uuid.uuid4(), room, sender, "same", "two")
    bad = NewMessage(uuid.uuid4(), room, sender, "bad", "nul \x00 inside")
    other = NewMessage(uuid.uuid4(), room, sender, "other", "fine")
    results = await asyncio.gather(
        *(writer.append(m) for m in (first, twin, bad, other)), return_exceptions=True
    )
    a, b, error, c = results
    assert isinstance(error, InvalidInput)
    assert not isinstance(a, BaseException)
    assert not isinstance(b, BaseException)
    assert not isinstance(c, BaseException)
    assert (a.created, b.created, c.created) == (True, False, True)
    assert a.message == b.message
    assert a.message["body"] == "one"
    assert sorted([a.message["seq"], c.message["seq"]]) == [1, 2]
