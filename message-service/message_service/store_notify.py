"""Every SQL statement of notifications: preferences, push subscriptions, webhooks, the
outbox and the deliveries (tables of migration 0005)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn = PoolConnectionProxy[asyncpg.Record]

# --- preferences ---------------------------------------------------------------------------


async def settings_of(pool: asyncpg.Pool, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT level, rooms FROM messages.notify_settings WHERE user_id = $1", user_id
    )


async def save_settings(
    pool: asyncpg.Pool, user_id: uuid.UUID, level: str, rooms: dict[str, str]
) -> None:
    await pool.execute(
        """INSERT INTO messages.notify_settings (user_id, level, rooms)
           VALUES ($1, $2, $3::jsonb)
           ON CONFLICT (user_id) DO UPDATE SET level = excluded.level, rooms = excluded.rooms""",
        user_id,
        level,
        rooms,
    )


# --- push subscriptions and webhooks -------------------------------------------------------


async def save_subscription(
    pool: asyncpg.Pool, user_id: uuid.UUID, endpoint: str, p256dh: str, auth: str
) -> uuid.UUID:
    """Store the subscription (taking the endpoint over from anyone who had it); its id."""
    subscription_id: uuid.UUID = await pool.fetchval(
        """INSERT INTO messages.push_subscriptions (id, user_id, endpoint, p256dh, auth)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (endpoint) DO UPDATE
               SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth
           RETURNING id""",
        uuid.uuid4(),
        user_id,
        endpoint,
        p256dh,
        auth,
    )
    return subscription_id


async def delete_subscription(pool: asyncpg.Pool, user_id: uuid.UUID, endpoint: str) -> bool:
    status: str = await pool.execute(
        "DELETE FROM messages.push_subscriptions WHERE user_id = $1 AND endpoint = $2",
        user_id,
        endpoint,
    )
    return status != "DELETE 0"


async def drop_subscription(pool: asyncpg.Pool, subscription_id: uuid.UUID) -> None:
    """Forget a subscription its push service says is gone (404/410)."""
    await pool.execute("DELETE FROM messages.push_subscriptions WHERE id = $1", subscription_id)


async def add_webhook(pool: asyncpg.Pool, user_id: uuid.UUID, url: str, secret: str) -> uuid.UUID:
    webhook_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO messages.webhooks (id, user_id, url, secret) VALUES ($1, $2, $3, $4)",
        webhook_id,
        user_id,
        url,
        secret,
    )
    return webhook_id


async def webhooks_of(pool: asyncpg.Pool, user_id: uuid.UUID) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT id, url, created_at FROM messages.webhooks WHERE user_id = $1
           ORDER BY created_at, id""",
        user_id,
    )


async def count_webhooks(pool: asyncpg.Pool, user_id: uuid.UUID) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM messages.webhooks WHERE user_id = $1", user_id
    )
    return count


async def delete_webhook(pool: asyncpg.Pool, user_id: uuid.UUID, webhook_id: uuid.UUID) -> bool:
    status: str = await pool.execute(
        "DELETE FROM messages.webhooks WHERE id = $1 AND user_id = $2", webhook_id, user_id
    )
    return status != "DELETE 0"


# --- the outbox ----------------------------------------------------------------------------


# Each message is read from its room's partition alone, by its id: the LIMIT keeps the look-up
# a per-row subquery, which Postgres prunes to one partition, where a join would scan every
# partition.
CLAIM_OUTBOX = """SELECT o.message_id, o.job, o.created_at, m.room_id, m.seq, m.sender_id, m.body
    FROM (SELECT message_id, room_id, job, created_at FROM messages.notify_outbox
          ORDER BY created_at
          LIMIT $1
          FOR UPDATE SKIP LOCKED) o
    LEFT JOIN LATERAL (
        SELECT room_id, seq, sender_id, body FROM messages.messages
        WHERE room_id = o.room_id AND id = o.message_id
        LIMIT 1
    ) m ON true
    ORDER BY o.created_at"""


async def claim_outbox(conn: Conn, limit: int) -> list[asyncpg.Record]:
    """Outbox rows no other worker holds, with their messages, locked until the transaction
    ends (the caller's: expand and delete in it)."""
    return await conn.fetch(CLAIM_OUTBOX, limit)


async def recipients_settings(
    conn: Conn, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, asyncpg.Record]:
    rows = await conn.fetch(
        """SELECT user_id, level, rooms FROM messages.notify_settings
           WHERE user_id = any($1::uuid[])""",
        list(user_ids),
    )
    return {row["user_id"]: row for row in rows}


async def recipients_targets(conn: Conn, user_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    """``user_id, channel, target_id`` of every push subscription and webhook of the users."""
    return await conn.fetch(
        """SELECT user_id, 'push' AS channel, id AS target_id FROM messages.push_subscriptions
           WHERE user_id = any($1::uuid[])
           UNION ALL
           SELECT user_id, 'webhook', id FROM messages.webhooks
           WHERE user_id = any($1::uuid[])""",
        list(user_ids),
    )


async def expand_outbox(
    conn: Conn, message_ids: Sequence[uuid.UUID], deliveries: Sequence[Any]
) -> None:
    """Insert the deliveries (message_id, user_id, channel, target_id, payload) and delete
    the outbox rows they came from, in the caller's transaction."""
    if deliveries:
        await conn.execute(
            """INSERT INTO messages.notify_deliveries
                   (id, message_id, user_id, channel, target_id, payload)
               SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[],
                                    $5::uuid[], $6::jsonb[])
               ON CONFLICT ON CONSTRAINT notify_deliveries_once DO NOTHING""",
            [uuid.uuid4() for _ in deliveries],
            [d[0] for d in deliveries],
            [d[1] for d in deliveries],
            [d[2] for d in deliveries],
            [d[3] for d in deliveries],
            [d[4] for d in deliveries],
        )
    await conn.execute(
        "DELETE FROM messages.notify_outbox WHERE message_id = any($1::uuid[])", list(message_ids)
    )


# --- deliveries ----------------------------------------------------------------------------


async def claim_due(pool: asyncpg.Pool, limit: int, lease: float) -> list[asyncpg.Record]:
    """Pending deliveries that are due, taken for ``lease`` seconds (no other worker sees
    them until then), with what their channel needs: the subscription or the webhook."""
    return await pool.fetch(
        """WITH due AS (
               SELECT id FROM messages.notify_deliveries
               WHERE state = 'pending' AND next_at <= now()
               ORDER BY next_at LIMIT $1
               FOR UPDATE SKIP LOCKED
           ),
           claimed AS (
               UPDATE messages.notify_deliveries d
               SET next_at = now() + make_interval(secs => $2), attempts = d.attempts + 1
               FROM due WHERE d.id = due.id
               RETURNING d.id, d.channel, d.target_id, d.payload, d.attempts, d.created_at
           )
           SELECT c.*, p.endpoint, p.p256dh, p.auth, w.url, w.secret
           FROM claimed c
           LEFT JOIN messages.push_subscriptions p ON c.channel = 'push' AND p.id = c.target_id
           LEFT JOIN messages.webhooks w ON c.channel = 'webhook' AND w.id = c.target_id""",
        limit,
        lease,
    )


async def finish(pool: asyncpg.Pool, delivery_id: uuid.UUID, state: str, error: str | None) -> None:
    """A delivery is over: delivered, dead (out of retries) or dropped (no target left)."""
    await pool.execute(
        "UPDATE messages.notify_deliveries SET state = $2, last_error = $3 WHERE id = $1",
        delivery_id,
        state,
        error,
    )


async def retry_later(pool: asyncpg.Pool, delivery_id: uuid.UUID, delay: float, error: str) -> None:
    await pool.execute(
        """UPDATE messages.notify_deliveries
           SET next_at = now() + make_interval(secs => $2), last_error = $3
           WHERE id = $1 AND state = 'pending'""",
        delivery_id,
        delay,
        error,
    )


async def delivery_counts(pool: asyncpg.Pool) -> dict[str, int]:
    """Outbox rows, pending and dead deliveries (for the gauges; each an index scan)."""
    row = await pool.fetchrow(
        """SELECT (SELECT count(*) FROM messages.notify_outbox) AS outbox,
                  (SELECT count(*) FROM messages.notify_deliveries
                   WHERE state = 'pending') AS pending,
                  (SELECT count(*) FROM messages.notify_deliveries WHERE state = 'dead') AS dead"""
    )
    return {key: int(row[key]) for key in ("outbox", "pending", "dead")} if row else {}


async def purge_finished(pool: asyncpg.Pool, older_than: float) -> None:
    """Forget delivered and dropped deliveries older than ``older_than`` seconds (dead ones
    stay for the operator)."""
    await pool.execute(
        """DELETE FROM messages.notify_deliveries
           WHERE state IN ('delivered', 'dropped')
             AND created_at < now() - make_interval(secs => $1)""",
        older_than,
    )
