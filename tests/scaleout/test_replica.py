"""History, search and unread reads from a streaming replica (MESSAGES_READ_DATABASE_URL): a user
reads their own writes at once even while the replica's replay is paused, others read from
the replica, and reads go to the primary when the replica is down. Real servers: a primary
from initdb and a replica from pg_basebackup -R, each its own postmaster."""

from __future__ import annotations

import asyncio
import random
import re
import string
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from chat_testkit.chat import Chat
from chat_testkit.pgcluster import Server, primary_and_replica
from chat_testkit.users import TestUser, register_user
from tests.scaleout.stack import Replicas, migrate_all


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Server, Server]]:
    """A primary and its streaming replica, with the database ``chat`` migrated."""
    with primary_and_replica() as (primary, replica):

        async def create() -> None:
            conn = await asyncpg.connect(primary.url())
            try:
                await conn.execute("CREATE DATABASE chat")
            finally:
                await conn.close()

        asyncio.run(create())
        migrate_all(primary.url("chat"))
        yield primary, replica


@pytest.fixture(scope="module")
def services(
    service_env: dict[str, str],
    cluster: tuple[Server, Server],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Replicas]:
    """auth, rooms and messages on the primary; message-service reads from the replica."""
    primary, replica = cluster
    env = {**service_env, "DATABASE_URL": primary.url("chat")}
    system = Replicas(env, tmp_path_factory.mktemp("replica-logs"))
    try:
        auth = {"AUTH_URL": system.url("auth")}
        system.start({"auth": ("auth_service", {})})
        system.start({"rooms": ("room_service", auth)})
        system.start(
            {
                "messages": (
                    "message_service",
                    {
                        **auth,
                        "ROOMS_URL": system.url("rooms"),
                        "MESSAGES_READ_DATABASE_URL": replica.url("chat"),
                        "MESSAGES_READ_WAIT": "0.3",
                    },
                )
            }
        )
        yield system
    finally:
        system.stop()


async def _metric(http: httpx.AsyncClient, url: str, line: str) -> float:
    text = (await http.get(f"{url}/metrics")).text
    found = re.search(rf"^{re.escape(line)} ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def _seqs(http: httpx.AsyncClient, url: str, user: TestUser, room: str) -> list[int]:
    answer = await http.get(
        f"{url}/messages", params={"room_id": room, "limit": 100}, headers=user.headers
    )
    assert answer.status_code == 200, answer.text
    return sorted(m["seq"] for m in answer.json()["items"])


async def _replay(replica: Server, paused: bool) -> None:
    conn = await asyncpg.connect(replica.url())
    try:
        await conn.execute(f"SELECT pg_wal_replay_{'pause' if paused else 'resume'}()")
    finally:
        await conn.close()


async def test_reads_go_to_the_replica_and_a_writer_reads_its_own_writes_under_lag(
    services: Replicas, cluster: tuple[Server, Server]
) -> None:
    """With replay paused: the sender's history and unread include the new message at once
    (from the primary); another member's read comes from the lagging replica."""
    primary, replica = cluster
    messages = services.url("messages")
    replica_reads = 'messages_reads_total{server="replica"}'
    async with httpx.AsyncClient(timeout=20.0) as http:
        chat = Chat(http, services.url("rooms"), messages)
        writer = await register_user(http, services.url("auth"), display_name="작성자 writer")
        other = await register_user(http, services.url("auth"))
        room = await chat.room(writer, other)
        await chat.send(writer, room, "첫 번째 first")
        await asyncio.sleep(0.5)  # the replica catches up (no lag made yet)
        before = await _metric(http, messages, replica_reads)
        assert await _seqs(http, messages, other, room) == [1]
        assert await _metric(http, messages, replica_reads) == before + 1

        await _replay(replica, paused=True)
        try:
            await chat.send(writer, room, "두 번째 second")
            # Read-your-writes: the sender sees seq 2 at once, although the replica lags.
            assert await _seqs(http, messages, writer, room) == [1, 2]
            expired = await _metric(http, messages, "messages_read_replica_wait_expired_total")
            assert expired >= 1
            # A member with no write of their own reads the replica, which has not replayed
            # seq 2 yet: proof that reads really go there.
            assert await _seqs(http, messages, other, room) == [1]
            lag = await _replay_lag_bytes(primary)
            assert lag > 0
        finally:
            await _replay(replica, paused=False)
        for _ in range(100):
            if await _seqs(http, messages, other, room) == [1, 2]:
                break
            await asyncio.sleep(0.05)
        assert await _seqs(http, messages, other, room) == [1, 2]
        unread = await http.get(f"{messages}/messages/unread", headers=other.headers)
        assert unread.status_code == 200, unread.text
        assert [r["unread"] for r in unread.json()["items"] if r["room_id"] == room] == [2]


async def _found(http: httpx.AsyncClient, url: str, user: TestUser, words: str) -> list[int]:
    answer = await http.get(f"{url}/messages/search", params={"q": words}, headers=user.headers)
    assert answer.status_code == 200, answer.text
    return sorted(hit["message"]["seq"] for hit in answer.json()["items"])


async def test_search_reads_the_replica_and_a_writer_finds_its_own_message_under_lag(
    services: Replicas, cluster: tuple[Server, Server]
) -> None:
    """With replay paused: the sender's search finds the new message at once (from the
    primary); another member's search runs on the lagging replica and does not yet."""
    _, replica = cluster
    messages = services.url("messages")
    replica_reads = 'messages_reads_total{server="replica"}'
    word = "".join(random.choice(string.ascii_lowercase) for _ in range(12))
    async with httpx.AsyncClient(timeout=20.0) as http:
        chat = Chat(http, services.url("rooms"), messages)
        writer = await register_user(http, services.url("auth"))
        other = await register_user(http, services.url("auth"))
        room = await chat.room(writer, other)
        await chat.send(writer, room, f"{word} 첫 번째")
        await asyncio.sleep(0.5)  # the replica catches up (no lag made yet)
        before = await _metric(http, messages, replica_reads)
        assert await _found(http, messages, other, word) == [1]
        assert await _metric(http, messages, replica_reads) == before + 1

        await _replay(replica, paused=True)
        try:
            await chat.send(writer, room, f"{word} 두 번째")
            assert await _found(http, messages, writer, word) == [1, 2]
            assert await _found(http, messages, other, word) == [1]
        finally:
            await _replay(replica, paused=False)
        for _ in range(40):  # within the per-user search rate (5/s)
            if await _found(http, messages, other, word) == [1, 2]:
                break
            await asyncio.sleep(0.25)
        assert await _found(http, messages, other, word) == [1, 2]


async def test_reads_fall_back_to_the_primary_when_the_replica_is_down(
    services: Replicas, cluster: tuple[Server, Server]
) -> None:
    """Replica stopped: history and unread still answer, from the primary."""
    _, replica = cluster
    messages = services.url("messages")
    async with httpx.AsyncClient(timeout=20.0) as http:
        chat = Chat(http, services.url("rooms"), messages)
        writer = await register_user(http, services.url("auth"))
        other = await register_user(http, services.url("auth"))
        room = await chat.room(writer, other)
        await chat.send(writer, room, "before")
        replica.stop()
        try:
            await chat.send(writer, room, "during")
            assert await _seqs(http, messages, other, room) == [1, 2]
            assert await _seqs(http, messages, writer, room) == [1, 2]
            unread = await http.get(f"{messages}/messages/unread", headers=other.headers)
            assert unread.status_code == 200, unread.text
            assert await _found(http, messages, other, "during") == [2]
        finally:
            replica.start()


async def _replay_lag_bytes(primary: Server) -> int:
    """How far the replica's replay is behind the primary's WAL, in bytes."""
    conn = await asyncpg.connect(primary.url())
    try:
        lag = await conn.fetchval(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint"
            " FROM pg_stat_replication"
        )
        return int(lag or 0)
    finally:
        await conn.close()
