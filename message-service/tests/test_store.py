"""The store against real Postgres: batches from two "replicas" (two pools) racing on the same
rooms and the same idempotency keys."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from chatcore.migrations import migrate
from message_service import store
from message_service.store import NewMessage

MIGRATIONS = Path(__file__).parents[1] / "message_service" / "migrations"


@pytest.fixture
async def pools(database_url: str) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    """Two pools on the migrated database, as two replicas of the service would hold."""
    await migrate(database_url, "messages", MIGRATIONS)
    first = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    second = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield first, second
    await first.close()
    await second.close()


def _new(room: uuid.UUID, sender: uuid.UUID, key: str) -> NewMessage:
    return NewMessage(uuid.uuid4(), room, sender, key, f"body of {key}")


async def test_racing_batches_keep_seqs_gapless_and_keys_unique(
    pools: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    """Batches over three rooms, in shuffled orders, each key sent by two racing batches on
    two pools: one row per key, and each room's seqs are exactly 1..n."""
    rooms = [uuid.uuid4() for _ in range(3)]
    senders = [uuid.uuid4() for _ in range(4)]
    rng = random.Random(7)
    keys = [(rng.choice(rooms), rng.choice(senders), f"k{n}") for n in range(240)]

    def batches() -> list[list[NewMessage]]:
        shuffled = keys[:]
        rng.shuffle(shuffled)
        return [[_new(*k) for k in shuffled[i : i + 20]] for i in range(0, len(shuffled), 20)]

    # Every key goes out twice, once per pool, in different batches and orders.
    work = [(pools[0], b) for b in batches()] + [(pools[1], b) for b in batches()]
    rng.shuffle(work)
    results = await asyncio.gather(*(store.append_messages(pool, b) for pool, b in work))

    created = [row for result in results for row in result.values()]
    assert len(created) == len(keys)  # each key stored once, by whichever batch won
    async with pools[0].acquire() as conn:
        for room in rooms:
            seqs = await conn.fetch(
                "SELECT seq FROM messages.messages WHERE room_id = $1 ORDER BY seq", room
            )
            expected = sum(1 for k in keys if k[0] == room)
            assert [r["seq"] for r in seqs] == list(range(1, expected + 1))
            last = await conn.fetchval(
                "SELECT last_seq FROM messages.rooms WHERE room_id = $1", room
            )
            assert last == expected
    found = await store.messages_by_keys(pools[0], [(k[1], k[2]) for k in keys])
    assert len(found) == len(keys)
    assert {row["id"] for row in found.values()} == {row["id"] for row in created}


async def test_sender_marker_follows_their_newest_message(
    pools: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    """One batch moves each sender's marker to their newest message in each room."""
    room, a, b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    batch = [_new(room, a, "1"), _new(room, b, "1"), _new(room, a, "2"), _new(room, b, "2")]
    batch.append(_new(room, b, "3"))
    rows = await store.append_messages(pools[0], batch)
    assert sorted(r["seq"] for r in rows.values()) == [1, 2, 3, 4, 5]
    states = await store.read_states(pools[0], a, [room])
    assert (states[0]["last_seq"], states[0]["read_seq"]) == (5, 3)
    states = await store.read_states(pools[0], b, [room])
    assert (states[0]["last_seq"], states[0]["read_seq"]) == (5, 5)


async def test_read_states_in_the_order_asked(pools: tuple[asyncpg.Pool, asyncpg.Pool]) -> None:
    """Rooms with no messages and no marker are listed with zeros, in the order given."""
    user = uuid.uuid4()
    rooms = [uuid.uuid4() for _ in range(1000)]
    await store.append_messages(pools[0], [_new(rooms[500], uuid.uuid4(), "x")])
    states = await store.read_states(pools[0], user, rooms)
    assert [s["room_id"] for s in states] == rooms
    assert [(s["last_seq"], s["read_seq"]) for s in states if s["last_seq"]] == [(1, 0)]
    assert (await store.mark_read(pools[0], user, rooms[500], 9))["read_seq"] == 1
    assert (await store.mark_read(pools[0], user, rooms[1], 9))["read_seq"] == 0


async def test_outbox_claim_reads_each_message_from_its_room_partition(
    pools: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    """The notification worker's claim finds each outbox row's message (its room, seq, sender
    and body) by the room the row names, looking in that room's partition alone, and still
    claims a row whose message is gone (no room then)."""
    from message_service import store_notify

    pool = pools[0]
    rooms = [uuid.uuid4() for _ in range(20)]
    # An outbox row is written for a recipient with somewhere to be notified: a webhook.
    hooked = uuid.uuid4()
    sent = [
        replace(_new(room, uuid.uuid4(), f"k{i}"), notify=f'{{"recipients": ["{hooked}"]}}')
        for i, room in enumerate(rooms)
    ]
    # One transaction, rolled back: the notification worker of the suite's running
    # message-service shares this database and would claim committed rows first.
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            await conn.execute(
                "INSERT INTO messages.webhooks (id, user_id, url, secret)"
                " VALUES ($1, $2, 'http://127.0.0.1:9/hook', 's')",
                uuid.uuid4(),
                hooked,
            )
            await store.append_messages(conn, sent)  # type: ignore[arg-type]
            await conn.execute("DELETE FROM messages.messages WHERE id = $1", sent[0].id)
            await conn.execute("ANALYZE messages.messages")
            claimed = await store_notify.claim_outbox(conn, 1000)
            explained = await conn.fetch(
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                + store_notify.CLAIM_OUTBOX,
                5,
            )
        finally:
            await transaction.rollback()
        plan = "\n".join(row[0] for row in explained)
    ours = {m.id for m in sent}  # other tests' rows may wait in the outbox too
    found = {row["message_id"]: row for row in claimed if row["message_id"] in ours}
    assert set(found) == ours
    assert found[sent[0].id]["room_id"] is None
    for message in sent[1:]:
        row = found[message.id]
        assert (row["room_id"], row["seq"], row["sender_id"], row["body"]) == (
            message.room_id,
            1,
            message.sender_id,
            message.body,
        )
    # Run-time pruning: at most the 5 rooms' partitions are ever read, never all 16.
    assert plan.count("(never executed)") >= 16 - 5, plan
