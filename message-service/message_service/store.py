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

from message_service import store_changes
from message_service.models import SEQ_MAX


def _columns(alias: str, *, new: bool = False) -> str:
    """The message columns; ``new``: of a message this statement inserts, which no reply
    can have yet, so its ``thread`` is NULL without a look-up."""
    a = f"{alias}." if alias else ""
    thread = "NULL::jsonb AS thread" if new else thread_column(f"{a}id")
    return (
        f"{a}id, {a}room_id, {a}seq, {a}sender_id, {a}body, {a}client_msg_id, {a}created_at, "
        f"{a}edited_at, {a}deleted_at IS NOT NULL AS deleted, {a}pos, {a}reply_to, "
        f"{a}thread_root_id, {a}mentions, {thread}"
    )


def thread_column(root: str) -> str:
    """``thread``: the summary of the thread rooted at ``root`` (an SQL expression), or NULL.
    One index probe, and only the tiny ``threads`` table."""
    return f"""(SELECT jsonb_build_object(
                'reply_count', t.reply_count,
                'last_reply_at', to_char(t.last_reply_at AT TIME ZONE 'UTC',
                                         'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                'last_reply_seq', t.last_reply_seq)
             FROM messages.threads t WHERE t.root_id = {root}) AS thread"""


MESSAGE_COLUMNS = _columns("")

SendKey = tuple[uuid.UUID, str]


class _Nothing(Exception):
    """Raised inside a transaction to roll it back when there is nothing to change."""


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
    reply_to: uuid.UUID | None = None
    # Already resolved to the thread's root (a reply to a reply names the same root).
    thread_root_id: uuid.UUID | None = None
    mentions: tuple[uuid.UUID, ...] = ()

    @property
    def key(self) -> SendKey:
        return (self.sender_id, self.client_msg_id)


# One statement, so one round trip and one implicit transaction per batch:
#   1. claim each idempotency key (sorted, so two batches take key locks in one order); a
#      key someone already holds is skipped, and waits for that holder's commit if needed;
#   2. count the fresh sends per room, and the threads they reply in, and take that many seqs
#      and change positions from each room's counter row (sorted by room; the aggregate
#      before it means every key is claimed first);
#   3. number each room's fresh sends in arrival order with the seqs and positions just taken
#      (each touched thread's new summary takes a position after the room's messages);
#   4. insert the messages, their mentions, the thread summaries and their changes, and move
#      each sender's read marker to their newest one;
#   5. write the outbox row of each message that may notify (docs/operations.md): one that
#      names a recipient with a push subscription or a webhook. The check reads the
#      subscriptions committed before this statement began, so a subscription made before
#      the send is seen; one made during it races the message either way;
#   6. attach the uploads each fresh message names ($10/$11: message id, attachment id pairs;
#      empty for the common message without files), each only if still unattached.
# Duplicates take no seq, so a room's seqs stay 1, 2, 3, ... whatever the races. A batch of
# plain messages writes exactly what it did before the change stream: the position is a
# column of the message row, and the thread and mention parts have no rows to work on.
_APPEND = f"""
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
                         $6::uuid[], $7::uuid[], $8::text[], $9::text[])
        WITH ORDINALITY AS t(id, room_id, sender_id, client_msg_id, body,
                             reply_to, thread_root_id, mention_list, notify, ord)
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
    SELECT room_id, count(*) AS n, count(DISTINCT thread_root_id) AS t
    FROM fresh GROUP BY room_id
),
taken AS (
    INSERT INTO messages.rooms AS r (room_id, last_seq, last_pos)
    SELECT room_id, n, n + t FROM counts ORDER BY room_id
    ON CONFLICT (room_id) DO UPDATE SET last_seq = r.last_seq + excluded.last_seq,
                                        last_pos = r.last_pos + excluded.last_pos
    RETURNING room_id, last_seq, last_pos
),
numbered AS (
    SELECT f.*,
           t.last_seq - c.n + row_number() OVER w AS seq,
           t.last_pos - c.n - c.t + row_number() OVER w AS pos,
           t.last_seq AS room_seq, t.last_pos - c.t AS room_pos
    FROM fresh f JOIN counts c USING (room_id) JOIN taken t USING (room_id)
    WINDOW w AS (PARTITION BY f.room_id ORDER BY f.ord)
),
inserted AS (
    INSERT INTO messages.messages (id, room_id, seq, sender_id, client_msg_id, body, pos,
                                   reply_to, thread_root_id, mentions)
    SELECT id, room_id, seq, sender_id, client_msg_id, body, pos, reply_to, thread_root_id,
           string_to_array(nullif(mention_list, ''), ',')::uuid[]
    FROM numbered
    RETURNING {_columns("", new=True)}
),
mentioned AS (
    INSERT INTO messages.mentions (user_id, room_id, seq)
    SELECT DISTINCT unnest(string_to_array(mention_list, ',')::uuid[]), room_id, seq
    FROM numbered WHERE mention_list <> ''
),
replies AS (
    SELECT thread_root_id AS root_id, room_id, count(*) AS n, max(seq) AS last_seq,
           min(room_seq) AS room_seq,
           min(room_pos) + dense_rank() OVER (PARTITION BY room_id ORDER BY thread_root_id)
               AS pos
    FROM numbered WHERE thread_root_id IS NOT NULL
    GROUP BY thread_root_id, room_id
),
summed AS (
    INSERT INTO messages.threads AS h (root_id, room_id, reply_count, last_reply_at,
                                       last_reply_seq)
    SELECT root_id, room_id, n, now(), last_seq FROM replies ORDER BY root_id
    ON CONFLICT (root_id) DO UPDATE SET reply_count = h.reply_count + excluded.reply_count,
        last_reply_at = excluded.last_reply_at,
        last_reply_seq = GREATEST(h.last_reply_seq, excluded.last_reply_seq)
    RETURNING root_id, reply_count, last_reply_at, last_reply_seq
),
thread_changes AS (
    INSERT INTO messages.changes (room_id, pos, seq_at, kind, message_id)
    SELECT room_id, pos, room_seq, 'thread', root_id FROM replies
),
marked AS (
    INSERT INTO messages.read_markers AS m (user_id, room_id, seq)
    SELECT sender_id, room_id, max(seq) FROM numbered
    GROUP BY sender_id, room_id ORDER BY sender_id, room_id
    ON CONFLICT (user_id, room_id) DO UPDATE SET seq = GREATEST(m.seq, excluded.seq)
),
outbox AS (
    INSERT INTO messages.notify_outbox (message_id, room_id, job)
    SELECT id, room_id, notify::jsonb FROM numbered
    WHERE notify <> '' AND EXISTS (
        SELECT FROM jsonb_array_elements_text(notify::jsonb -> 'recipients') AS r(user_id)
        WHERE EXISTS (SELECT FROM messages.push_subscriptions p
                      WHERE p.user_id = r.user_id::uuid)
           OR EXISTS (SELECT FROM messages.webhooks w WHERE w.user_id = r.user_id::uuid))
    RETURNING message_id
),
attached AS (
    UPDATE messages.attachments a SET message_id = p.message_id
    FROM unnest($10::uuid[], $11::uuid[]) AS p(message_id, attachment_id)
    JOIN fresh f ON f.id = p.message_id
    WHERE a.id = p.attachment_id AND a.message_id IS NULL AND a.deleted_at IS NULL
    RETURNING a.id, a.message_id
)
-- attached_ids: what each message really got; a send racing another for one upload loses it.
SELECT i.*, s.reply_count AS root_reply_count, s.last_reply_at AS root_last_reply_at,
       s.last_reply_seq AS root_last_reply_seq, r.pos AS root_pos,
       (SELECT array_agg(t.id) FROM attached t WHERE t.message_id = i.id) AS attached_ids,
       EXISTS (SELECT FROM outbox o WHERE o.message_id = i.id) AS notifies
FROM inserted i
LEFT JOIN summed s ON s.root_id = i.thread_root_id
LEFT JOIN replies r ON r.root_id = i.thread_root_id
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
        [m.reply_to for m in batch],
        [m.thread_root_id for m in batch],
        [",".join(str(u) for u in m.mentions) for m in batch],
        [m.notify for m in batch],
        [p[0] for p in pairs],
        [p[1] for p in pairs],
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
    pool: asyncpg.Pool, message: Any, sender_id: uuid.UUID, body: str
) -> tuple[asyncpg.Record, int] | None:
    """The message with its new body and the change's position; None unless it is the
    sender's and not deleted (then no position is taken)."""
    try:
        async with pool.acquire() as conn, conn.transaction():
            pos, seq_at = await store_changes.take_position(conn, message["room_id"])
            row = await conn.fetchrow(
                f"""UPDATE messages.messages SET body = $3, edited_at = now()
                    WHERE id = $1 AND sender_id = $2 AND deleted_at IS NULL
                    RETURNING {MESSAGE_COLUMNS}""",
                message["id"],
                sender_id,
                body,
            )
            if row is None:
                raise _Nothing
            await store_changes.record(conn, row["room_id"], pos, seq_at, "edited", row["id"])
            return row, pos
    except _Nothing:  # rolled back: the position is not spent
        return None


async def delete_message(pool: asyncpg.Pool, message: Any) -> tuple[asyncpg.Record, int] | None:
    """The tombstone the message becomes and the change's position; None if it was already
    one (then no position is taken)."""
    try:
        async with pool.acquire() as conn, conn.transaction():
            pos, seq_at = await store_changes.take_position(conn, message["room_id"])
            row = await conn.fetchrow(
                f"""UPDATE messages.messages SET body = NULL, deleted_at = now()
                    WHERE id = $1 AND deleted_at IS NULL
                    RETURNING {MESSAGE_COLUMNS}""",
                message["id"],
            )
            if row is None:
                raise _Nothing
            await store_changes.record(conn, row["room_id"], pos, seq_at, "deleted", row["id"])
            return row, pos
    except _Nothing:  # rolled back: the position is not spent
        return None


async def newest_before(
    pool: asyncpg.Pool,
    room_id: uuid.UUID,
    before: int | None,
    limit: int,
    top_level: bool = False,
) -> list[asyncpg.Record]:
    """Up to ``limit`` messages with seq below ``before`` (all if None), newest first;
    ``top_level``: without thread replies."""
    return await pool.fetch(
        f"""SELECT {MESSAGE_COLUMNS} FROM messages.messages
            WHERE room_id = $1 AND seq < $2 AND (NOT $4::bool OR thread_root_id IS NULL)
            ORDER BY seq DESC LIMIT $3""",
        room_id,
        SEQ_MAX if before is None else before,
        limit,
        top_level,
    )


async def oldest_after(
    pool: asyncpg.Pool,
    room_id: uuid.UUID,
    after: int,
    before: int | None,
    limit: int,
    top_level: bool = False,
) -> list[asyncpg.Record]:
    """Up to ``limit`` messages with ``after < seq < before``, oldest first; ``top_level``:
    without thread replies."""
    return await pool.fetch(
        f"""SELECT {MESSAGE_COLUMNS} FROM messages.messages
            WHERE room_id = $1 AND seq > $2 AND seq < $3
              AND (NOT $5::bool OR thread_root_id IS NULL)
            ORDER BY seq LIMIT $4""",
        room_id,
        after,
        SEQ_MAX if before is None else before,
        limit,
        top_level,
    )


async def mark_read(
    pool: asyncpg.Pool, user_id: uuid.UUID, room_id: uuid.UUID, seq: int
) -> asyncpg.Record:
    """Move the user's marker up to ``seq`` (clamped to the room's last seq, never back);
    ``last_seq`` and ``read_seq`` after it, and ``previous`` (the marker before; -1: none)."""
    row = await pool.fetchrow(
        """WITH room AS (
               SELECT coalesce(
                   (SELECT last_seq FROM messages.rooms WHERE room_id = $2), 0) AS last_seq
           ),
           before AS (
               SELECT seq FROM messages.read_markers WHERE user_id = $1 AND room_id = $2
           ),
           marker AS (
               INSERT INTO messages.read_markers AS m (user_id, room_id, seq)
               SELECT $1, $2, LEAST($3, room.last_seq) FROM room
               ON CONFLICT (user_id, room_id) DO UPDATE SET seq = GREATEST(m.seq, excluded.seq)
               RETURNING seq
           )
           SELECT room.last_seq, marker.seq AS read_seq,
                  coalesce((SELECT seq FROM before), -1) AS previous
           FROM room, marker""",
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
    """``room_id, last_seq, last_pos, read_seq, mentions`` of each room, in the order given:
    one query, however many rooms (three index look-ups per room)."""
    return await pool.fetch(
        """SELECT r.room_id, coalesce(c.last_seq, 0) AS last_seq,
                  coalesce(c.last_pos, 0) AS last_pos, coalesce(m.seq, 0) AS read_seq,
                  (SELECT count(*) FROM messages.mentions x
                   WHERE x.user_id = $1 AND x.room_id = r.room_id
                     AND x.seq > coalesce(m.seq, 0)) AS mentions
           FROM unnest($2::uuid[]) WITH ORDINALITY AS r(room_id, ord)
           LEFT JOIN messages.rooms c ON c.room_id = r.room_id
           LEFT JOIN messages.read_markers m ON m.user_id = $1 AND m.room_id = r.room_id
           ORDER BY r.ord""",
        user_id,
        list(room_ids),
    )


async def positions(pool: asyncpg.Pool, room_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    """``room_id, last_seq, last_pos`` of each room, in the order given (0 for a room with no
    change yet): one query, one index look-up per room."""
    return await pool.fetch(
        """SELECT r.room_id, coalesce(c.last_seq, 0) AS last_seq,
                  coalesce(c.last_pos, 0) AS last_pos
           FROM unnest($1::uuid[]) WITH ORDINALITY AS r(room_id, ord)
           LEFT JOIN messages.rooms c ON c.room_id = r.room_id
           ORDER BY r.ord""",
        list(room_ids),
    )
