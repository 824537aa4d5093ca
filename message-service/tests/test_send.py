"""Sending: order under concurrency across replicas, idempotency under races, and exactly one
room-channel payload per committed message."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import asyncpg
import orjson

from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from chat_testkit.users import TestUser
from chatcore.events import Kind

if TYPE_CHECKING:
    from conftest import Chat, OpenFeed


async def test_fifty_concurrent_senders_get_seqs_one_to_n(
    chat: Chat,
    crowd: Sequence[TestUser],
    second_replica: ServiceProcess,
    room_feed: OpenFeed,
    db: asyncpg.Connection,
) -> None:
    """50 senders at once, through two replicas: seqs exactly 1..N, each published once."""
    owner, *others = crowd
    room_id = await chat.room(owner, *others)
    feed = await room_feed(room_id)
    per_sender = 4
    urls = [chat.url, second_replica.url]
    batches_before = [await chat.metric("messages_batch_size_count", url) for url in urls]

    async def sender(i: int, user: TestUser) -> list[dict[str, object]]:
        sent = []
        for n in range(per_sender):
            r = await chat.post(user, room_id, f"{i}-{n}", url=urls[(i + n) % 2])
            assert r.status_code == 201, r.text
            sent.append(r.json())
        return sent

    results = await asyncio.gather(*(sender(i, u) for i, u in enumerate(crowd)))
    total = len(crowd) * per_sender
    acked = [m for sent in results for m in sent]
    assert sorted(m["seq"] for m in acked) == list(range(1, total + 1))
    for sent in results:  # one sender's messages keep the order they were sent in
        assert [m["seq"] for m in sent] == sorted(m["seq"] for m in sent)
    stored = await db.fetch(
        "SELECT seq, id FROM messages.messages WHERE room_id = $1 ORDER BY seq",
        uuid.UUID(room_id),
    )
    assert [r["seq"] for r in stored] == list(range(1, total + 1))
    assert {str(r["id"]) for r in stored} == {m["id"] for m in acked}
    # Concurrent sends were committed in groups, not one transaction each.
    batches = [await chat.metric("messages_batch_size_count", url) for url in urls]
    assert sum(batches) - sum(batches_before) < total

    await feed.collect(total)
    assert all(e.kind is Kind.MESSAGE for e in feed.events)
    assert sorted(e.seq for e in feed.events) == list(range(1, total + 1))
    by_seq = {m["seq"]: m for m in acked}
    for event in feed.events:
        frame = orjson.loads(event.frame)
        # A room with only new messages: each one's change position is its seq.
        assert frame == {"type": "message", "pos": event.seq, "message": by_seq[event.seq]}
        assert event.pos == event.seq

    # Every reader sees the same order, whichever replica it asks.
    pages = [(await chat.history(owner, room_id, url, limit=200)).json()["items"] for url in urls]
    assert pages[0] == pages[1]
    assert [m["seq"] for m in pages[0]] == list(range(total, total - 200, -1))


async def test_racing_duplicates_make_one_message_and_take_no_seq(
    chat: Chat,
    make_user: MakeUser,
    second_replica: ServiceProcess,
    room_feed: OpenFeed,
    db: asyncpg.Connection,
) -> None:
    """20 identical sends at once, on two replicas: one 201, the rest 200, one row, no gap."""
    owner = await make_user()
    room_id = await chat.room(owner)
    feed = await room_feed(room_id)
    first = await chat.send(owner, room_id, "before")
    key = f"dup-{uuid.uuid4().hex}"
    urls = [chat.url, second_replica.url]
    answers = await asyncio.gather(
        *(chat.post(owner, room_id, "once", key, url=urls[i % 2]) for i in range(20))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 19 + [201], [a.text for a in answers]
    messages = [a.json() for a in answers]
    assert all(m == messages[0] for m in messages)
    assert messages[0]["seq"] == first["seq"] + 1
    assert messages[0]["body"] == "once"
    count = await db.fetchval(
        "SELECT count(*) FROM messages.messages WHERE sender_id = $1 AND client_msg_id = $2",
        owner.id,
        key,
    )
    assert count == 1

    # The same key later, even with another body or room, still names the first message.
    again = await chat.post(owner, room_id, "different body", key)
    assert (again.status_code, again.json()) == (200, messages[0])
    after = await chat.send(owner, room_id, "after")
    assert after["seq"] == first["seq"] + 2  # the duplicates consumed no seq

    await feed.collect(3)
    assert sorted(e.seq for e in feed.events) == [1, 2, 3]


async def test_same_key_from_two_senders_is_two_messages(chat: Chat, make_user: MakeUser) -> None:
    """client_msg_id is scoped to its sender: two users may use the same one."""
    a, b = await make_user(), await make_user()
    room_id = await chat.room(a, b)
    first = await chat.post(a, room_id, "from a", "shared-key")
    second = await chat.post(b, room_id, "from b", "shared-key")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert (first.json()["seq"], second.json()["seq"]) == (1, 2)


async def test_message_object_shape(chat: Chat, make_user: MakeUser) -> None:
    """A sent message has the contract's fields; the body is trimmed."""
    owner = await make_user()
    room_id = await chat.room(owner)
    r = await chat.post(owner, room_id, "  hi there \n", "shape-1")
    assert r.status_code == 201
    message = r.json()
    assert set(message) == {
        "id",
        "room_id",
        "seq",
        "sender_id",
        "body",
        "client_msg_id",
        "created_at",
        "edited_at",
        "deleted",
        "attachments",
        "reply_to",
        "thread_root_id",
        "mentions",
        "reactions",
        "thread",
    }
    assert message["attachments"] == []
    assert message["room_id"] == room_id
    assert message["sender_id"] == str(owner.id)
    assert (message["body"], message["client_msg_id"], message["seq"]) == ("hi there", "shape-1", 1)
    assert (message["edited_at"], message["deleted"]) == (None, False)
    assert message["created_at"].endswith("Z")
