"""The SQL of membership notices in a room's change stream (schema ``messages``, migration
0009): rows of ``changes`` of kind ``membership``, one per room-service membership version."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg


class _Duplicate(Exception):
    """Raised inside the transaction to give the position back: the event is stored already."""


async def record(
    pool: asyncpg.Pool, room_id: uuid.UUID, version: int, data: dict[str, Any]
) -> tuple[int, int] | None:
    """Store a membership notice at the room's next position: ``(pos, seq_at)``; None if
    this version of the room was stored already (by this or another replica).

    A room with no message yet gets its counter row here (its seq stays 0): the row lock is
    the one every change of the room takes first, so positions stay gap-free and in commit
    order.
    """
    try:
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """INSERT INTO messages.rooms AS r (room_id, last_seq, last_pos)
                   VALUES ($1, 0, 1)
                   ON CONFLICT (room_id) DO UPDATE SET last_pos = r.last_pos + 1
                   RETURNING last_pos, last_seq""",
                room_id,
            )
            if row is None:
                raise RuntimeError("the room counter returned no row")
            pos, seq_at = int(row["last_pos"]), int(row["last_seq"])
            stored = await conn.fetchval(
                """INSERT INTO messages.changes (room_id, pos, seq_at, kind, message_id, data)
                   VALUES ($1, $2, $3, 'membership', NULL, $4)
                   ON CONFLICT (room_id, ((data ->> 'version')::bigint))
                       WHERE kind = 'membership' DO NOTHING
                   RETURNING true""",
                room_id,
                pos,
                seq_at,
                {**data, "version": version},
            )
            if not stored:
                raise _Duplicate
            return pos, seq_at
    except _Duplicate:
        return None


async def after(
    pool: asyncpg.Pool, room_id: uuid.UUID, pos: int, limit: int
) -> list[asyncpg.Record]:
    """The room's membership notices after position ``pos``, oldest first."""
    return list(
        await pool.fetch(
            """SELECT pos, seq_at, kind, message_id, data FROM messages.changes
               WHERE room_id = $1 AND pos > $2 AND kind = 'membership'
               ORDER BY pos LIMIT $3""",
            room_id,
            pos,
            limit,
        )
    )
