"""Every SQL statement about attachments (schema ``messages``, table ``attachments``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

ATTACHMENT_COLUMNS = (
    "id, room_id, uploader_id, message_id, filename, content_type, size, width, height, "
    "storage_key, thumbnail_key, created_at, deleted_at"
)


async def insert(pool: asyncpg.Pool, row: dict[str, Any]) -> asyncpg.Record:
    """Store a new upload's row (not yet attached to a message)."""
    record = await pool.fetchrow(
        f"""INSERT INTO messages.attachments
               (id, room_id, uploader_id, filename, content_type, size, width, height,
                storage_key, thumbnail_key)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            RETURNING {ATTACHMENT_COLUMNS}""",
        row["id"],
        row["room_id"],
        row["uploader_id"],
        row["filename"],
        row["content_type"],
        row["size"],
        row["width"],
        row["height"],
        row["storage_key"],
        row["thumbnail_key"],
    )
    if record is None:  # an INSERT ... RETURNING always returns its row
        raise RuntimeError("insert returned no row")
    return record


async def stored_bytes(pool: asyncpg.Pool, uploader_id: uuid.UUID) -> int:
    """The bytes the user has stored now (what the quota counts)."""
    total = await pool.fetchval(
        """SELECT coalesce(sum(size), 0) FROM messages.attachments
           WHERE uploader_id = $1 AND deleted_at IS NULL""",
        uploader_id,
    )
    return int(total)


async def by_id(pool: asyncpg.Pool, attachment_id: uuid.UUID) -> asyncpg.Record | None:
    """The attachment, unless it is gone or marked deleted."""
    return await pool.fetchrow(
        f"""SELECT {ATTACHMENT_COLUMNS} FROM messages.attachments
            WHERE id = $1 AND deleted_at IS NULL""",
        attachment_id,
    )


async def by_ids(pool: asyncpg.Pool, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, asyncpg.Record]:
    """The attachments not marked deleted among ``ids``, by id."""
    rows = await pool.fetch(
        f"""SELECT {ATTACHMENT_COLUMNS} FROM messages.attachments
            WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL""",
        list(ids),
    )
    return {row["id"]: row for row in rows}


async def of_messages(
    pool: asyncpg.Pool, message_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[asyncpg.Record]]:
    """The attachments of each message (in upload order), by message id."""
    rows = await pool.fetch(
        f"""SELECT {ATTACHMENT_COLUMNS} FROM messages.attachments
            WHERE message_id = ANY($1::uuid[]) AND deleted_at IS NULL
            ORDER BY created_at, id""",
        list(message_ids),
    )
    found: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for row in rows:
        found.setdefault(row["message_id"], []).append(row)
    return found


async def mark_deleted_of_message(
    pool: asyncpg.Pool, message_id: uuid.UUID
) -> list[asyncpg.Record]:
    """Mark the message's attachments deleted (no longer served); their rows, for removing
    the stored objects."""
    return await pool.fetch(
        f"""UPDATE messages.attachments SET deleted_at = now()
            WHERE message_id = $1 AND deleted_at IS NULL
            RETURNING {ATTACHMENT_COLUMNS}""",
        message_id,
    )


async def forget(pool: asyncpg.Pool, ids: Sequence[uuid.UUID]) -> None:
    """Drop the rows whose stored objects are gone."""
    await pool.execute("DELETE FROM messages.attachments WHERE id = ANY($1::uuid[])", list(ids))


async def sweep(
    conn: asyncpg.pool.PoolConnectionProxy, unattached_ttl: float, limit: int
) -> list[asyncpg.Record]:
    """Lock up to ``limit`` rows to remove (uploads never attached for ``unattached_ttl``
    seconds, and rows marked deleted), skipping rows another replica holds. Call inside a
    transaction, remove the objects, then :func:`forget_in` them in the same transaction."""
    return await conn.fetch(
        """SELECT id, storage_key, thumbnail_key FROM messages.attachments
           WHERE (message_id IS NULL AND created_at < now() - make_interval(secs => $1))
              OR deleted_at IS NOT NULL
           LIMIT $2
           FOR UPDATE SKIP LOCKED""",
        float(unattached_ttl),
        limit,
    )


async def forget_in(conn: asyncpg.pool.PoolConnectionProxy, ids: Sequence[uuid.UUID]) -> None:
    await conn.execute("DELETE FROM messages.attachments WHERE id = ANY($1::uuid[])", list(ids))


async def url_signing_key(pool: asyncpg.Pool, candidate: bytes) -> bytes:
    """The shared URL-signing key: ``candidate`` if none was stored yet, else the stored one."""
    key = await pool.fetchval(
        """WITH made AS (
               INSERT INTO messages.url_signing_key (id, key) VALUES (1, $1)
               ON CONFLICT (id) DO NOTHING RETURNING key
           )
           SELECT key FROM made
           UNION ALL
           SELECT key FROM messages.url_signing_key WHERE id = 1
           LIMIT 1""",
        candidate,
    )
    return bytes(key)
