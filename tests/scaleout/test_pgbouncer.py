"""Every service through PgBouncer in transaction mode: the traps of transaction pooling
(asyncpg's prepared statements, session advisory locks) are avoided, and a cross-service
scenario (accounts, rooms, sends over the websocket, history, edits, reactions, read markers)
works end to end with each service's DATABASE_URL pointing at PgBouncer."""

from __future__ import annotations

import asyncio
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from chat_testkit.chat import Chat
from chat_testkit.pgbouncer import PgBouncer, pgbouncer
from chat_testkit.sockets import OpenSocket
from chat_testkit.users import register_user
from chatcore.db import create_pool
from tests.scaleout.stack import Replicas, migrate_all


@pytest.fixture(scope="module")
def bouncer(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgBouncer]:
    """PgBouncer (transaction mode, 4 server connections) in front of the run's Postgres."""
    workdir = Path(tmp_path_factory.getbasetemp()).parent / f"pgbouncer-{uuid.uuid4().hex[:8]}"
    with pgbouncer(database_url, workdir) as running:
        yield running


@pytest.fixture(scope="module")
def pooled(
    service_env: dict[str, str],
    bouncer: PgBouncer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Replicas]:
    """auth, rooms, messages and a gateway whose database is reached through PgBouncer only;
    migrations went to Postgres itself, as docs/operations.md says."""
    migrate_all(service_env["DATABASE_URL"])
    env = {**service_env, "DATABASE_URL": bouncer.url(service_env["DATABASE_URL"])}
    env["DB_POOLER"] = "pgbouncer"
    system = Replicas(env, tmp_path_factory.mktemp("pgbouncer-logs"))
    try:
        auth = {"AUTH_URL": system.url("auth")}
        rooms = {"ROOMS_URL": system.url("rooms")}
        messages = {"MESSAGES_URL": system.url("messages")}
        system.start({"auth": ("auth_service", {})})
        system.start(
            {
                "rooms": ("room_service", auth),
                "messages": ("message_service", {**auth, **rooms}),
                "gateway": ("gateway", {**auth, **rooms, **messages}),
            }
        )
        yield system
    finally:
        system.stop()


async def test_named_prepared_statements_break_behind_pgbouncer_and_the_pooler_setting_fixes_it(
    database_url: str, bouncer: PgBouncer
) -> None:
    """With asyncpg's statement cache, queries through PgBouncer fail; pooler='pgbouncer' works."""
    url = bouncer.url(database_url)

    async def hammer(pool: asyncpg.Pool) -> None:
        async def one(i: int) -> None:
            for _ in range(25):
                assert await pool.fetchval("SELECT $1::int + 1", i) == i + 1

        await asyncio.gather(*(one(i) for i in range(8)))

    cached = await create_pool(url, application_name="cached", min_size=8, max_size=8)
    try:
        with pytest.raises(asyncpg.InvalidSQLStatementNameError):
            await hammer(cached)
    finally:
        await cached.close()
    unnamed = await create_pool(
        url, application_name="unnamed", min_size=8, max_size=8, pooler="pgbouncer"
    )
    try:
        await hammer(unnamed)
    finally:
        await unnamed.close()


async def test_a_session_advisory_lock_leaks_behind_pgbouncer_but_a_transaction_lock_does_not(
    database_url: str, bouncer: PgBouncer
) -> None:
    """A session lock stays on a server connection; a transaction lock ends at commit."""
    url = bouncer.url(database_url)
    key = uuid.uuid4().int >> 65
    direct = await asyncpg.connect(database_url)
    pool = await create_pool(
        url, application_name="locks", min_size=1, max_size=1, pooler="pgbouncer"
    )
    try:
        async with pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", key)
                assert await direct.fetchval("SELECT pg_try_advisory_lock($1)", key) is False
            assert await direct.fetchval("SELECT pg_try_advisory_lock($1)", key) is True
            await direct.execute("SELECT pg_advisory_unlock($1)", key)
        # The trap store.room_turn avoids: a session lock stays on the server connection,
        # which PgBouncer keeps (and hands to other clients) after its client has gone.
        client = await asyncpg.connect(url, statement_cache_size=0)
        await client.execute("SELECT pg_advisory_lock($1)", key)
        await client.close()
        holders = await direct.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1::bigint::oid",
            key & 0xFFFFFFFF,
        )
        assert holders == 1
    finally:
        await pool.close()
        # Ends the leaked lock: close every server connection PgBouncer holds.
        await direct.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND objid = $1::bigint::oid",
            key & 0xFFFFFFFF,
        )
        await direct.close()


async def test_the_services_work_through_pgbouncer_in_transaction_mode(
    pooled: Replicas, bouncer: PgBouncer, open_socket: OpenSocket
) -> None:
    """Accounts, rooms, concurrent room changes, socket sends, history, edit, reaction and
    read markers, every query through PgBouncer."""
    async with httpx.AsyncClient(timeout=20.0) as http:
        chat = Chat(http, pooled.url("rooms"), pooled.url("messages"))
        owner = await register_user(http, pooled.url("auth"), display_name="방장 owner")
        reader = await register_user(http, pooled.url("auth"))
        others = [await register_user(http, pooled.url("auth")) for _ in range(6)]
        room = await chat.room(owner, reader)
        # Concurrent changes of one room take turns (store.room_turn) through PgBouncer.
        await asyncio.gather(*(chat.add(owner, room, u) for u in others))
        answer = await http.get(f"{pooled.url('rooms')}/rooms/{room}", headers=owner.headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["member_count"] == 8

        sender = await open_socket(pooled.url("gateway"), owner.access_token)
        listener = await open_socket(pooled.url("gateway"), reader.access_token)
        for i in range(10):
            await sender.send(
                {"type": "send", "room_id": room, "body": f"안녕 {i}", "client_msg_id": f"c{i}"}
            )
        assert await listener.messages(room, 10) == list(range(1, 11))
        sent = await chat.send(reader, room, "over http")
        assert sent["seq"] == 11

        history = await http.get(
            f"{pooled.url('messages')}/messages",
            params={"room_id": room, "limit": 50},
            headers=reader.headers,
        )
        assert history.status_code == 200, history.text
        items = history.json()["items"]
        assert sorted(m["seq"] for m in items) == list(range(1, 12))
        first = next(m for m in items if m["seq"] == 1)
        assert first["body"] == "안녕 0"

        edited = await http.patch(
            f"{pooled.url('messages')}/messages/{first['id']}",
            json={"body": "고침 edited"},
            headers=owner.headers,
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["edited_at"] is not None
        emoji = urllib.parse.quote("👍")
        reacted = await http.put(
            f"{pooled.url('messages')}/messages/{first['id']}/reactions/{emoji}",
            headers=reader.headers,
        )
        assert reacted.status_code == 200, reacted.text
        read = await http.post(
            f"{pooled.url('messages')}/messages/read",
            json={"room_id": room, "seq": 5},
            headers=others[0].headers,
        )
        assert read.status_code == 200, read.text
        assert read.json()["unread"] == 6
        unread = await http.get(
            f"{pooled.url('messages')}/messages/unread", headers=others[0].headers
        )
        assert unread.status_code == 200, unread.text
        assert [r["unread"] for r in unread.json()["items"] if r["room_id"] == room] == [6]
        changes = await http.get(
            f"{pooled.url('messages')}/messages/changes",
            params={"room_id": room, "after_seq": 0},
            headers=reader.headers,
        )
        assert changes.status_code == 200, changes.text
        kinds = [c["type"] for c in changes.json()["items"]]
        assert kinds.count("message") >= 1
        assert len(kinds) >= 11

    database = database_url_name(pooled.env["DATABASE_URL"])
    stats = {row["database"]: row for row in bouncer.show("STATS")}
    assert int(stats[database]["total_xact_count"]) > 50


def database_url_name(url: str) -> str:
    return urllib.parse.urlsplit(url).path.lstrip("/")
