"""The statements of retention (message_service.retention): SQL only."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

# A room's messages expire after its own period, else the global one; 0 keeps them forever.
_KEEP = "coalesce(r.retention_seconds, $1::bigint)"


async def set_room(pool: asyncpg.Pool, room_id: uuid.UUID, seconds: int | None) -> None:
    """Set (or, with None, clear) the room's own retention period."""
    await pool.execute(
        """INSERT INTO messages.rooms (room_id, last_seq, retention_seconds) VALUES ($1, 0, $2)
           ON CONFLICT (room_id) DO UPDATE SET retention_seconds = excluded.retention_seconds""",
        room_id,
        seconds,
    )


async def of_room(pool: asyncpg.Pool, room_id: uuid.UUID) -> asyncpg.Record | None:
    """``retention_seconds, oldest_seq`` of the room (None before anything was stored)."""
    row: asyncpg.Record | None = await pool.fetchrow(
        "SELECT retention_seconds, oldest_seq FROM messages.rooms WHERE room_id = $1", room_id
    )
    return row


async def oldest_seq(pool: asyncpg.Pool, room_id: uuid.UUID) -> int:
    """The seq the room's retained history begins at (1 while nothing has expired)."""
    found = await pool.fetchval("SELECT oldest_seq FROM messages.rooms WHERE room_id = $1", room_id)
    return int(found) if found is not None else 1


async def expired_rooms(pool: asyncpg.Pool, global_seconds: int, limit: int) -> list[Any]:
    """Rooms whose oldest retained message has expired: ``room_id, keep``."""
    return await pool.fetch(
        f"""SELECT r.room_id, {_KEEP} AS keep FROM messages.rooms r
            WHERE {_KEEP} > 0 AND r.oldest_seq <= r.last_seq AND EXISTS (
                SELECT 1 FROM messages.messages m
                WHERE m.room_id = r.room_id AND m.seq = r.oldest_seq
                    AND m.created_at < now() - make_interval(secs => {_KEEP}))
            LIMIT $2""",
        global_seconds,
        limit,
    )


async def trim(conn: Any, room_id: uuid.UUID, keep: int, batch: int) -> list[uuid.UUID]:
    """In the caller's transaction: remove the room's oldest expired messages (at most
    ``batch``, a run from ``oldest_seq`` on), with their reactions, mentions, thread
    summaries and changes; mark their attachments deleted (the attachment sweep removes the
    files); move ``oldest_seq`` / ``oldest_pos`` past them. The removed messages' ids."""
    start = await conn.fetchval(
        "SELECT oldest_seq FROM messages.rooms WHERE room_id = $1 FOR UPDATE", room_id
    )
    if start is None:
        return []
    window = await conn.fetch(
        """SELECT seq, pos, created_at < now() - make_interval(secs => $3::bigint) AS expired
           FROM messages.messages WHERE room_id = $1 AND seq >= $2 ORDER BY seq LIMIT $4""",
        room_id,
        start,
        keep,
        batch,
    )
    run = []
    for row in window:
        if not row["expired"]:
            break
        run.append(row)
    if not run:
        return []
    last_seq, last_pos = int(run[-1]["seq"]), int(run[-1]["pos"])
    removed = await conn.fetch(
        """DELETE FROM messages.messages WHERE room_id = $1 AND seq BETWEEN $2 AND $3
           RETURNING id""",
        room_id,
        start,
        last_seq,
    )
    ids = [r["id"] for r in removed]
    await conn.execute("DELETE FROM messages.reactions WHERE message_id = ANY($1::uuid[])", ids)
    await conn.execute(
        "DELETE FROM messages.mentions WHERE room_id = $1 AND seq <= $2", room_id, last_seq
    )
    await conn.execute("DELETE FROM messages.threads WHERE root_id = ANY($1::uuid[])", ids)
    await conn.execute(
        "DELETE FROM messages.changes WHERE room_id = $1 AND pos <= $2", room_id, last_pos
    )
    await conn.execute(
        """UPDATE messages.attachments SET deleted_at = now()
           WHERE message_id = ANY($1::uuid[]) AND deleted_at IS NULL""",
        ids,
    )
    await conn.execute(
        "UPDATE messages.rooms SET oldest_seq = $2, oldest_pos = $3 WHERE room_id = $1",
        room_id,
        last_seq + 1,
        last_pos + 1,
    )
    return ids
