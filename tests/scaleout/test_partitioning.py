"""Migration 0009 partitions messages.messages by room on a database that already holds
100,000 messages: every row survives unchanged, every key includes room_id, and nothing
refers to a message by a foreign key."""

from __future__ import annotations

import secrets
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

import message_service
from chatcore.migrations import migrate

MIGRATIONS = Path(message_service.__file__).parent / "migrations"
PARTITIONING = "0009"
MESSAGES = 100_000
ROOMS = 500


@pytest.fixture
async def empty_database(database_url: str) -> AsyncIterator[str]:
    """A database of this test's own (the run's holds the services' schemas already)."""
    base = database_url.rsplit("/", 1)[0]
    name = f"chat_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{base}/{name}"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _before(tmp_path: Path) -> Path:
    """The migrations as they stood before partitioning."""
    folder = tmp_path / "before"
    folder.mkdir()
    for path in MIGRATIONS.glob("*.sql"):
        if path.name < PARTITIONING:
            shutil.copy(path, folder / path.name)
    return folder


async def _rows(conn: asyncpg.Connection) -> list[tuple[object, ...]]:
    rows = await conn.fetch("SELECT * FROM messages.messages ORDER BY room_id, seq")
    return [tuple(r.values()) for r in rows]


@pytest.mark.slow
async def test_partitioning_keeps_every_one_of_100000_messages(
    empty_database: str, tmp_path: Path
) -> None:
    """100,000 messages COPYed in before 0009 read back identical after it; seqs go on."""
    await migrate(empty_database, "messages", _before(tmp_path))
    conn = await asyncpg.connect(empty_database)
    try:
        rooms = [uuid.uuid4() for _ in range(ROOMS)]
        per_room = MESSAGES // ROOMS
        stamp = datetime.now(UTC)
        records = []
        for r, room in enumerate(rooms):
            sender = uuid.uuid4()
            for seq in range(1, per_room + 1):
                deleted = seq % 97 == 0
                records.append(
                    (
                        uuid.uuid4(),
                        room,
                        seq,
                        sender,
                        f"c{r}-{seq}",
                        None if deleted else f"메시지 {seq} message {secrets.token_hex(4)}",
                        seq,
                        stamp if deleted else None,
                    )
                )
        columns = ["id", "room_id", "seq", "sender_id", "client_msg_id", "body", "pos"]
        columns.append("deleted_at")
        await conn.copy_records_to_table(
            "messages", schema_name="messages", records=records, columns=columns
        )
        await conn.execute(
            "INSERT INTO messages.rooms (room_id, last_seq, last_pos)"
            " SELECT room_id, max(seq), max(seq) FROM messages.messages GROUP BY room_id"
        )
        before = await _rows(conn)
        assert len(before) == MESSAGES

        started = time.monotonic()
        assert await migrate(empty_database, "messages", MIGRATIONS) == [
            p.name[:4] for p in sorted(MIGRATIONS.glob("*.sql")) if p.name >= PARTITIONING
        ]
        took = time.monotonic() - started
        print(f"partitioned {MESSAGES} messages in {took:.2f} s")

        assert await _rows(conn) == before
        strategy = await conn.fetchval(
            "SELECT partstrat::text FROM pg_partitioned_table"
            " WHERE partrelid = 'messages.messages'::regclass"
        )
        assert strategy == "h"
        partitions = await conn.fetch(
            "SELECT c.relname, (SELECT count(*) FROM messages.messages m"
            "   WHERE m.tableoid = c.oid) AS n"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'messages.messages'::regclass"
        )
        assert len(partitions) == 16
        assert all(p["n"] > 0 for p in partitions)
        keys = await conn.fetch(
            "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint"
            " WHERE conrelid = 'messages.messages'::regclass AND contype IN ('p', 'u')"
        )
        assert {k["conname"] for k in keys} == {"messages_pkey", "messages_room_seq"}
        assert all("room_id" in k["def"] for k in keys)
        foreign = await conn.fetchval(
            "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
            " WHERE n.nspname = 'messages' AND c.contype = 'f'"
        )
        assert foreign == 0

        # The seq of a room goes on without a gap; a second row at a taken seq is refused.
        room = rooms[0]
        await conn.execute(
            "INSERT INTO messages.messages (id, room_id, seq, sender_id, client_msg_id, body, pos)"
            " VALUES ($1, $2, $3, $4, 'next', 'next', $3)",
            uuid.uuid4(),
            room,
            per_room + 1,
            uuid.uuid4(),
        )
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO messages.messages"
                " (id, room_id, seq, sender_id, client_msg_id, body, pos)"
                " VALUES ($1, $2, 1, $3, 'again', 'again', 1)",
                uuid.uuid4(),
                room,
                uuid.uuid4(),
            )
        # A lookup by id alone uses the id index.
        lines = await conn.fetch(
            "EXPLAIN (FORMAT TEXT) SELECT * FROM messages.messages WHERE id = $1", before[5][0]
        )
        plan = "\n".join(str(line[0]) for line in lines)
        assert "messages_p" in plan
        assert "Index" in plan
    finally:
        await conn.close()
