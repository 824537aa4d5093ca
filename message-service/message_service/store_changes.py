"""The SQL of the per-room change stream, reactions, threads and receipts (schema ``messages``).

A room's changes are numbered by ``rooms.last_pos``. New messages keep their position on
their own row; every other change is a row of ``changes`` (migration 0002). Every function
that makes a change takes the room's counter row first, so all writes of a room take their
row locks in one order (room, then message or reaction) and cannot deadlock one another.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from message_service.models import SEQ_MAX

# A connection of the pool, inside a transaction.
Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

# The most user ids listed per reaction (contract: the first 50).
REACTION_USERS = 50
# The most distinct emoji on one message.
REACTIONS_MAX = 20


class TooManyReactions(Exception):
    """The message already carries the most distinct emoji allowed."""


class _Unchanged(Exception):
    """Raised inside a transaction to roll it back (and give back its position)."""


async def take_position(conn: Conn, room_id: uuid.UUID) -> tuple[int, int]:
    """The room's next change position and its last seq, with the room's row locked until
    the transaction ends. The room has a row: it has a message the change is about."""
    row = await conn.fetchrow(
        """UPDATE messages.rooms SET last_pos = last_pos + 1 WHERE room_id = $1
           RETURNING last_pos, last_seq""",
        room_id,
    )
    if row is None:
        raise LookupError("a change to a room with no messages")
    return int(row["last_pos"]), int(row["last_seq"])


async def record(
    conn: Conn,
    room_id: uuid.UUID,
    pos: int,
    seq_at: int,
    kind: str,
    message_id: uuid.UUID,
    data: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO messages.changes (room_id, pos, seq_at, kind, message_id, data)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        room_id,
        pos,
        seq_at,
        kind,
        message_id,
        data,
    )


async def react(
    pool: asyncpg.Pool,
    room_id: uuid.UUID,
    message_id: uuid.UUID,
    emoji: str,
    user_id: uuid.UUID,
    *,
    added: bool,
) -> tuple[int, int] | None:
    """Add (or remove) the user's reaction: ``(position, count of that emoji after it)``;
    None if there was nothing to change (already there, or not there to remove).

    Counted inside the transaction that changes it, under the room's lock, so concurrent
    reactions each see the count their own change produced.
    """
    try:
        async with pool.acquire() as conn, conn.transaction():
            pos, seq_at = await take_position(conn, room_id)
            if added:
                changed = await conn.fetchval(
                    """INSERT INTO messages.reactions (message_id, emoji, user_id)
                       VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true""",
                    message_id,
                    emoji,
                    user_id,
                )
            else:
                changed = await conn.fetchval(
                    """DELETE FROM messages.reactions
                       WHERE message_id = $1 AND emoji = $2 AND user_id = $3 RETURNING true""",
                    message_id,
                    emoji,
                    user_id,
                )
            if not changed:
                raise _Unchanged
            counts = await conn.fetchrow(
                """SELECT count(DISTINCT emoji) AS kinds,
                          count(*) FILTER (WHERE emoji = $2) AS count
                   FROM messages.reactions WHERE message_id = $1""",
                message_id,
                emoji,
            )
            if counts is None:  # an aggregate always returns its row
                raise RuntimeError("reaction counts returned no row")
            if added and counts["kinds"] > REACTIONS_MAX:
                raise TooManyReactions
            count = int(counts["count"])
            data = {"emoji": emoji, "user_id": str(user_id), "added": added, "count": count}
            await record(conn, room_id, pos, seq_at, "reaction", message_id, data)
            return pos, count
    except _Unchanged:
        return None


async def reactions_of(
    pool: asyncpg.Pool, message_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Each message's ``reactions`` ([{emoji, count, user_ids}], the first reacted first;
    ``user_ids`` the first 50), by message id; messages with none are left out."""
    if not message_ids:
        return {}
    rows = await pool.fetch(
        """SELECT message_id, emoji, count(*) AS count,
                  (array_agg(user_id ORDER BY created_at, user_id))[1:$2] AS user_ids
           FROM messages.reactions WHERE message_id = ANY($1::uuid[])
           GROUP BY message_id, emoji ORDER BY message_id, min(created_at), emoji""",
        list(message_ids),
        REACTION_USERS,
    )
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row["message_id"], []).append(
            {"emoji": row["emoji"], "count": row["count"], "user_ids": row["user_ids"]}
        )
    return found


async def references(
    pool: asyncpg.Pool, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, asyncpg.Record]:
    """``room_id`` and ``thread_root_id`` of the messages named, by id (one query for a batch)."""
    rows = await pool.fetch(
        """SELECT id, room_id, thread_root_id FROM messages.messages
           WHERE id = ANY($1::uuid[])""",
        list(ids),
    )
    return {row["id"]: row for row in rows}


async def thread_replies(
    pool: asyncpg.Pool, root_id: uuid.UUID, after: int, limit: int, columns: str
) -> list[asyncpg.Record]:
    """Up to ``limit`` replies in the thread with seq above ``after``, oldest first."""
    return await pool.fetch(
        f"""SELECT {columns} FROM messages.messages
            WHERE thread_root_id = $1 AND seq > $2 ORDER BY seq LIMIT $3""",
        root_id,
        after,
        limit,
    )


async def room_states(pool: asyncpg.Pool, room_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    """``last_pos, last_seq, oldest_seq, oldest_pos`` of each room, in the order given (0, 0,
    1, 1 for a room with no message yet): one query, one index look-up per room."""
    return await pool.fetch(
        """SELECT coalesce(c.last_pos, 0) AS last_pos, coalesce(c.last_seq, 0) AS last_seq,
                  coalesce(c.oldest_seq, 1) AS oldest_seq, coalesce(c.oldest_pos, 1) AS oldest_pos
           FROM unnest($1::uuid[]) WITH ORDINALITY AS r(room_id, ord)
           LEFT JOIN messages.rooms c ON c.room_id = r.room_id
           ORDER BY r.ord""",
        list(room_ids),
    )


async def seqs_at_pos(
    pool: asyncpg.Pool, asks: Sequence[tuple[uuid.UUID, int]]
) -> dict[tuple[uuid.UUID, int], int]:
    """Each room's last seq as of change position ``pos``, by ``(room_id, pos)``.

    Every position between two ``changes`` rows is a new message, so it is the seq of the
    nearest change at or before ``pos`` plus the positions after it (one index probe each).
    """
    if not asks:
        return {}
    rows = await pool.fetch(
        """SELECT r.room_id, r.pos AS asked, c.pos, c.seq_at
           FROM unnest($1::uuid[], $2::bigint[]) AS r(room_id, pos)
           CROSS JOIN LATERAL (
               SELECT pos, seq_at FROM messages.changes
               WHERE room_id = r.room_id AND pos <= r.pos ORDER BY pos DESC LIMIT 1) c""",
        [room_id for room_id, _ in asks],
        [pos for _, pos in asks],
    )
    found = {(row["room_id"], int(row["asked"])): row for row in rows}
    seqs = {}
    for key in asks:
        row = found.get(key)
        seqs[key] = key[1] if row is None else int(row["seq_at"]) + (key[1] - int(row["pos"]))
    return seqs


async def pos_of_seqs(
    pool: asyncpg.Pool, asks: Sequence[tuple[uuid.UUID, int]]
) -> dict[tuple[uuid.UUID, int], int]:
    """The position of each room's message ``seq``, by ``(room_id, seq)`` (left out if there
    is no such message)."""
    if not asks:
        return {}
    rows = await pool.fetch(
        """SELECT r.room_id, r.seq, m.pos
           FROM unnest($1::uuid[], $2::bigint[]) AS r(room_id, seq)
           CROSS JOIN LATERAL (
               SELECT pos FROM messages.messages
               WHERE room_id = r.room_id AND seq = r.seq LIMIT 1) m""",
        [room_id for room_id, _ in asks],
        [seq for _, seq in asks],
    )
    return {(row["room_id"], int(row["seq"])): int(row["pos"]) for row in rows}


# (room_id, after, limit): a room's rows after a seq or a position, at most ``limit``.
After = tuple[uuid.UUID, int, int]


def _by_room(rows: list[asyncpg.Record]) -> dict[uuid.UUID, list[asyncpg.Record]]:
    found: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for row in rows:
        found.setdefault(row["room_id"], []).append(row)
    return found


async def messages_after(
    pool: asyncpg.Pool, asks: Sequence[After], columns: str
) -> dict[uuid.UUID, list[asyncpg.Record]]:
    """Each room's messages after its seq, oldest first, at most its limit: by room (one
    query, an index range scan per room)."""
    if not asks:
        return {}
    rows = await pool.fetch(
        f"""SELECT m.* FROM unnest($1::uuid[], $2::bigint[], $3::int[]) AS r(room_id, seq, lim)
            CROSS JOIN LATERAL (
                SELECT {columns} FROM messages.messages
                WHERE room_id = r.room_id AND seq > r.seq AND seq <= $4
                ORDER BY seq LIMIT r.lim) m""",
        [room_id for room_id, _, _ in asks],
        [seq for _, seq, _ in asks],
        [limit for _, _, limit in asks],
        SEQ_MAX,
    )
    return _by_room(rows)


async def changes_after(
    pool: asyncpg.Pool, asks: Sequence[After]
) -> dict[uuid.UUID, list[asyncpg.Record]]:
    """Each room's other changes after its position, in order, at most its limit: by room."""
    if not asks:
        return {}
    rows = await pool.fetch(
        """SELECT c.* FROM unnest($1::uuid[], $2::bigint[], $3::int[]) AS r(room_id, pos, lim)
           CROSS JOIN LATERAL (
               SELECT room_id, pos, seq_at, kind, message_id, data FROM messages.changes
               WHERE room_id = r.room_id AND pos > r.pos ORDER BY pos LIMIT r.lim) c""",
        [room_id for room_id, _, _ in asks],
        [pos for _, pos, _ in asks],
        [limit for _, _, limit in asks],
    )
    return _by_room(rows)


async def messages_by_ids(
    pool: asyncpg.Pool, ids: Sequence[uuid.UUID], columns: str
) -> dict[uuid.UUID, asyncpg.Record]:
    if not ids:
        return {}
    rows = await pool.fetch(
        f"SELECT {columns} FROM messages.messages WHERE id = ANY($1::uuid[])", list(ids)
    )
    return {row["id"]: row for row in rows}


async def receipts(pool: asyncpg.Pool, room_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every read marker of the room: ``user_id, read_seq``."""
    return await pool.fetch(
        """SELECT user_id, seq AS read_seq FROM messages.read_markers
           WHERE room_id = $1 ORDER BY seq DESC, user_id""",
        room_id,
    )
