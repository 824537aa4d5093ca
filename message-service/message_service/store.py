"""Every SQL statement of message-service; the only module that touches schema ``messages``.

Functions are batch-first where the hot path is: :func:`append_messages` stores any number of
sends, to any number of rooms, in one statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from message_service.models import SEQ_MAX


def _columns(alias: str) -> str:
    a = f"{alias}." if alias else ""
    return (
        f"{a}id, {a}room_id, {a}seq, {a}sender_id, {a}body, {a}client_msg_id, {a}created_at, "
        f"{a}edited_at, {a}deleted_at IS NOT NULL AS deleted"
    )


MESSAGE_COLUMNS = _columns("")

SendKey = tuple[uuid.UUID, str]


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One accepted send, before it has a seq."""

    id: uuid.UUID
    room_id: uuid.UUID
    sender_id: uuid.UUID
    client_msg_id: str
    body: str
    # The notification job (JSON) written to the outbox with the message; "" for none, as
    # for every group-room message that mentions no one (notify_targets.py).
    notify: str = ""
    # The contract's attachment objects this message carries (checked before it is queued).
    attachments: tuple[dict[str, Any], ...] = ()

    @property
    def key(self) -> SendKey:
        return (self.sender_id, self.client_msg_id)


# One statement, so one round trip and one implicit transaction per batch:
#   1. claim each idempotency key (sorted, so two batches take key locks in one order); a
#      key someone already holds is skipped, and waits for that holder's commit if needed;
#   2. count the fresh sends per room and take that many seqs from each room's counter row
#      (sorted by room; the aggregate before it means every key is claimed first);
#   3. number each room's fresh sends in arrival order with the seqs just taken;
#   4. insert the messages and move each sender's read marker to their newest one;
#   5. write the outbox row of each message that may notify (docs/operations.md).
#   6. attach the uploads each fresh message names ($6/$7: message id, attachment id pairs;
#      empty for the common message without files), each only if still unattached.
# Duplicates take no seq, so a room's seqs stay 1, 2, 3, ... whatever the races.
_APPEND = f"""
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $8::text[])
        WITH ORDINALITY AS t(id, room_id, sender_id, client_msg_id, body, notify, ord)
),
claimed AS (
    INSERT INTO messages.send_keys (sender_id, client_msg_id, message_id)
    SELECT sender_id, client_msg_id, id FROM input ORDER BY sender_id, client_msg_id
    ON CONFLICT DO NOTHING
    RETURNING message_id
),
fresh AS (
    SELECT i.* FROM input i JOIN claimed c ON c.message_id = i.id
),
counts AS (
    SELECT room_id, count(*) AS n FROM fresh GROUP BY room_id
),
taken AS (
    INSERT INTO messages.rooms AS r (room_id, last_seq)
    SELECT room_id, n FROM counts ORDER BY room_id
    ON CONFLICT (room_id) DO UPDATE SET last_seq = r.last_seq + excluded.last_seq
    RETURNING room_id, last_seq
),
numbered AS (
    SELECT f.*,
           t.last_seq - c.n + row_number() OVER (PARTITION BY f.room_id ORDER BY f.ord) AS seq
    FROM fresh f JOIN counts c USING (room_id) JOIN taken t USING (room_id)
),
inserted AS (
    INSERT INTO messages.messages (id, room_id, seq, sender_id, client_msg_id, body)
    SELECT id, room_id, seq, sender_id, client_msg_id, body FROM numbered
    RETURNING {MESSAGE_COLUMNS}
),
marked AS (
    INSERT INTO messages.read_markers AS m (user_id, room_id, seq)
    SELECT sender_id, room_id, max(seq) FROM numbered
    GROUP BY sender_id, room_id ORDER BY sender_id, room_id
    ON CONFLICT (user_id, room_id) DO UPDATE SET seq = GREATEST(m.seq, excluded.seq)
),
outbox AS (
    INSERT INTO messages.notify_outbox (message_id, job)
    SELECT id, notify::jsonb FROM numbered WHERE notify <> ''
),
attached AS (
    UPDATE messages.attachments a SET message_id = p.message_id
    FROM unnest($6::uuid[], $7::uuid[]) AS p(message_id, attachment_id)
    JOIN fresh f ON f.id = p.message_id
    WHERE a.id = p.attachment_id AND a.message_id IS NULL AND a.deleted_at IS NULL
    RETURNING a.id, a.message_id
)
-- attached_ids: what each message really got; a send racing another for one upload loses it.
SELECT i.*, (SELECT array_agg(t.id) FROM attached t WHERE t.message_id = i.id) AS attached_ids
FROM inserted i
"""


async def append_messages(
    pool: asyncpg.Pool, batch: Sequence[NewMessage]
) -> dict[uuid.UUID, asyncpg.Record]:
    """Store the sends whose keys are new, committed; the stored rows by message id.

    ``batch`` must not hold one key twice. A send missing from the answer had a key that was
    already taken: :func:`messages_by_keys` reads the message it names.
    """
    pairs = [(m.id, a["id"]) for m in batch for a in m.attachments]
    rows = await pool.fetch(
        _APPEND,
        [m.id for m in batch],
        [m.room_id for m in batch],
        [m.sender_id for m in batch],
        [m.client_msg_id for m in batch],
        [m.body for m in batch],
        [p[0] for p in pairs],
        [p[1] for p in pairs],
        [m.notify for m in batch],
    )
    return {row["id"]: row for row in rows}


async def messages_by_keys(
    pool: asyncpg.Pool, keys: Sequence[SendKey]
) -> dict[SendKey, asyncpg.Record]:
    """The messages the idempotency keys name, by key (a key not taken is left out)."""
    rows = await pool.fetch(
        f"""SELECT k.sender_id AS key_sender, k.client_msg_id AS key_id, {_columns("m")}
            FROM unnest($1::uuid[], $2::text[]) AS t(sender_id, client_msg_id)
            JOIN messages.send_keys k USING (sender_id, client_msg_id)
            JOIN messages.messages m ON m.id = k.message_id""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(row["key_sender"], row["key_id"]): row for row in rows}


async def message_by_id(pool: asyncpg.Pool, message_id: uuid.UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(
        f"SELECT {MESSAGE_COLUMNS} FROM messages.messages WHERE id = $1", message_id
    )


async def edit_message(
    pool: asyncpg.Pool, message_id: uuid.UUID, sender_id: uuid.UUID, body: str
) -> asyncpg.Record | None:
    """The message with its new body; None unless it is the sender's and not deleted."""
    return await pool.fetchrow(
        f"""UPDATE messages.messages SET body = $3, edited_at = now()
            WHERE id = $1 AND sender_id = $2 AND deleted_at IS NULL
            RETURNING {MESSAGE_COLUMNS}""",
        message_id,
        sender_id,
        body,
    )


async def delete_message(pool: asyncpg.Pool, message_id: uuid.UUID) -> asyncpg.Record | None:
    """The tombstone the message becomes; None if it was already one (or does not exist)."""
    return await pool.fetchrow(
        f"""UPDATE messages.messages SET body = NULL, deleted_at = now()
            WHERE id = $1 AND deleted_at IS NULL
            RETURNING {MESSAGE_COLUMNS}""",
        message_id,
    )


async def newest_before(
    pool: asyncpg.Pool, room_id: uuid.UUID, before: int | None, limit: int
) -> list[asyncpg.Record]:
    """Up to ``limit`` messages with seq below ``before`` (all if None), newest first."""
    return await pool.fetch(
        f"""SELECT {MESSAGE_COLUMNS} FROM messages.messages
            WHERE room_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3""",
        room_id,
        SEQ_MAX if before is None else before,
        limit,
    )


async def oldest_after(
    pool: asyncpg.Pool, room_id: uuid.UUID, after: int, before: int | None, limit: int
) -> list[asyncpg.Record]:
    """Up to ``limit`` messages with ``after < seq < before``, oldest first."""
    return await pool.fetch(
        f"""SELECT {MESSAGE_COLUMNS} FROM messages.messages
            WHERE room_id = $1 AND seq > $2 AND seq < $3 ORDER BY seq LIMIT $4""",
        room_id,
        after,
        SEQ_MAX if before is None else before,
        limit,
    )


async def mark_read(
    pool: asyncpg.Pool, user_id: uuid.UUID, room_id: uuid.UUID, seq: int
) -> asyncpg.Record:
    """Move the user's marker up to ``seq`` (clamped to the room's last seq, never back);
    ``last_seq`` and ``read_seq`` after it."""
    row = await pool.fetchrow(
        """WITH room AS (
               SELECT coalesce(
                   (SELECT last_seq FROM messages.rooms WHERE room_id = $2), 0) AS last_seq
           ),
           marker AS (
               INSERT INTO messages.read_markers AS m (user_id, room_id, seq)
               SELECT $1, $2, LEAST($3, room.last_seq) FROM room
               ON CONFLICT (user_id, room_id) DO UPDATE SET seq = GREATEST(m.seq, excluded.seq)
               RETURNING seq
           )
           SELECT room.last_seq, marker.seq AS read_seq FROM room, marker""",
        user_id,
        room_id,
        seq,
    )
    if row is None:  # an INSERT ... ON CONFLICT DO UPDATE always returns its row
        raise RuntimeError("mark_read returned no row")
    return row


async def read_states(
    pool: asyncpg.Pool, user_id: uuid.UUID, room_ids: Sequence[uuid.UUID]
) -> list[asyncpg.Record]:
    """``room_id, last_seq, read_seq`` of each room, in the order given: one query, however
    many rooms (two index look-ups per room)."""
    return await pool.fetch(
        """SELECT r.room_id, coalesce(c.last_seq, 0) AS last_seq, coalesce(m.seq, 0) AS read_seq
           FROM unnest($2::uuid[]) WITH ORDINALITY AS r(room_id, ord)
           LEFT JOIN messages.rooms c ON c.room_id = r.room_id
           LEFT JOIN messages.read_markers m ON m.user_id = $1 AND m.room_id = r.room_id
           ORDER BY r.ord""",
        user_id,
        list(room_ids),
    )


def message_json(row: Any) -> dict[str, Any]:
    """The contract's ``message`` object."""
    return {
        "id": row["id"],
        "room_id": row["room_id"],
        "seq": row["seq"],
        "sender_id": row["sender_id"],
        "body": row["body"],
        "client_msg_id": row["client_msg_id"],
        "created_at": row["created_at"],
        "edited_at": row["edited_at"],
        "deleted": row["deleted"],
        # Filled by the caller that knows them (files.Files.fill, or the writer).
        "attachments": [],
    }
