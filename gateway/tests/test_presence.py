"""Connection leases in Redis (gateway.presence): the cap, the sweep of a dead process's
leases, and the release of all of them at shutdown."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from chatcore import presence_keys
from chatcore.events import parse_room_event
from chatcore.redisconn import Names
from gateway.pipelines import Pipelines
from gateway.presence import Presence


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def pipelines(redis: aioredis.Redis) -> AsyncIterator[Pipelines]:
    shared = Pipelines(redis)
    yield shared
    await shared.aclose()


@pytest.fixture
def names(redis_prefix: str) -> Names:
    return Names(f"{redis_prefix}presence-{uuid.uuid4().hex[:6]}:")


async def test_a_lease_over_the_cap_is_not_taken(
    pipelines: Pipelines, redis: aioredis.Redis, names: Names
) -> None:
    """At the cap a connect takes no lease and leaves nothing listed under the process."""
    presence = Presence(pipelines, names, 30)
    user = str(uuid.uuid4())
    assert await presence.lease(user, "c1", [], cap=1) == 0
    assert await presence.lease(user, "c2", [], cap=1) == -1
    listed = await redis.smembers(names.key("presence", "process", presence.process_id))
    assert listed == {f"{user}|c1".encode()}
    assert presence.local == {"c1": user}
    assert await redis.zcard(presence_keys.leases_key(names, user)) == 1


async def test_a_dead_process_is_swept_by_another(
    pipelines: Pipelines, redis: aioredis.Redis, names: Names
) -> None:
    """Leases no one renews are released by another process's sweep: the user is announced
    offline with a last-seen time, leaves the room's online set, and the process is forgotten."""
    dead, sweeper = Presence(pipelines, names, 0.3), Presence(pipelines, names, 0.3)
    user, room = str(uuid.uuid4()), str(uuid.uuid4())
    assert await dead.lease(user, "c1", [room]) == 0
    await dead.enter_rooms(user, [room])
    assert (await Presence(pipelines, names, 0.3).room_state(room))["online"] == [user]
    pubsub = redis.pubsub()
    await pubsub.subscribe(names.room_channel(room))
    sweeping = asyncio.create_task(sweeper.run())
    try:
        async with asyncio.timeout(5):
            while (message := await pubsub.get_message(True, timeout=1)) is None:
                pass
            # The sweep forgets the process once it has released the process's leases.
            while await redis.zscore(names.key("presence", "processes"), dead.process_id):
                await asyncio.sleep(0.01)
    finally:
        sweeping.cancel()
        await asyncio.gather(sweeping, return_exceptions=True)
        await pubsub.aclose()
    frame = json.loads(parse_room_event(message["data"]).frame)
    assert frame["online"] is False
    assert frame["user_id"] == user
    state = await Presence(pipelines, names, 0.3).room_state(room)
    assert state == {"online": [], "last_seen": {user: frame["last_seen"]}}
    assert not await redis.exists(names.key("presence", "process", dead.process_id))


async def test_shutdown_releases_every_lease_together(
    pipelines: Pipelines, redis: aioredis.Redis, names: Names
) -> None:
    """Once ``stopping`` is set a disconnect gives nothing back; release_all gives back every
    lease of the process, the users left with none go offline, and the process is forgotten."""
    presence = Presence(pipelines, names, 30)
    a, b, room = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    for user, conn in [(a, "a1"), (a, "a2"), (b, "b1")]:
        if await presence.lease(user, conn, [room]) == 0:
            await presence.enter_rooms(user, [room])
    presence.stopping = True
    await presence.disconnected(a, "a1")
    assert await redis.zcard(presence_keys.leases_key(names, a)) == 2
    await presence.release_all()
    for user in (a, b):
        assert await redis.zcard(presence_keys.leases_key(names, user)) == 0
    assert presence.local == {}
    state = await Presence(pipelines, names, 30).room_state(room)
    assert state["online"] == []
    assert set(state["last_seen"]) == {a, b}
    assert await redis.zscore(names.key("presence", "processes"), presence.process_id) is None


async def test_the_lease_loop_ends_when_cancelled_or_stopping(
    pipelines: Pipelines, redis: aioredis.Redis, names: Names
) -> None:
    """Cancelled at any point of a round, a long renewal pipeline included, the loop ends
    (a cancellation redis-py turned into an error of its own once kept it running, and a
    gateway's shutdown waited for it); once ``stopping`` is set it ends by itself."""
    presence = Presence(pipelines, names, 0.03)
    for n in range(3000):
        presence.local[f"c{n}"] = str(uuid.uuid4())
    for delay in (0.0, 0.005, 0.011, 0.017, 0.023, 0.031, 0.043, 0.057):
        task = asyncio.ensure_future(presence.run())
        await asyncio.sleep(delay)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=5)
        assert task in done, f"still running {delay} s into it, after its cancel"
    task = asyncio.ensure_future(presence.run())
    await asyncio.sleep(0.02)
    presence.stopping = True
    done, _ = await asyncio.wait([task], timeout=5)
    assert task in done
    assert not task.cancelled()
