"""The SQL of reports and the audit log (schema ``messages``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

REPORT = (
    "id, message_id, room_id, sender_id, reporter_id, reason, created_at, resolution,"
    " resolved_by, resolved_at"
)
AUDIT = "id, at, actor_id, action, room_id, target_id, detail"
# Keyset bound after every real (created_at, id).
_START = (datetime.fromisoformat("0001-01-01T00:00:00+00:00"), uuid.UUID(int=0))


async def add_report(
    pool: asyncpg.Pool, message: asyncpg.Record, reporter: uuid.UUID, reason: str
) -> tuple[asyncpg.Record, bool]:
    """The reporter's report of the message: (row, True) new, (row, False) made before."""
    row = await pool.fetchrow(
        f"""INSERT INTO messages.reports (message_id, room_id, sender_id, reporter_id, reason)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (message_id, reporter_id) DO NOTHING RETURNING {REPORT}""",
        message["id"],
        message["room_id"],
        message["sender_id"],
        reporter,
        reason,
    )
    if row is not None:
        return row, True
    old = await pool.fetchrow(
        f"SELECT {REPORT} FROM messages.reports WHERE message_id = $1 AND reporter_id = $2",
        message["id"],
        reporter,
    )
    if old is None:  # only a concurrent delete could do this, and nothing deletes reports
        raise RuntimeError("a report vanished")
    return old, False


async def report_by_id(pool: asyncpg.Pool, report_id: uuid.UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(f"SELECT {REPORT} FROM messages.reports WHERE id = $1", report_id)


async def open_reports(
    pool: asyncpg.Pool,
    room_id: uuid.UUID | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Open reports of the room (None: of every room), oldest first, after the cursor."""
    at, report_id = after or _START
    return await pool.fetch(
        f"""SELECT {REPORT} FROM messages.reports
            WHERE resolution IS NULL AND ($1::uuid IS NULL OR room_id = $1)
              AND (created_at, id) > ($2::timestamptz, $3::uuid)
            ORDER BY created_at, id LIMIT $4""",
        room_id,
        at,
        report_id,
        limit,
    )


async def resolve(
    pool: asyncpg.Pool, report_id: uuid.UUID, actor: uuid.UUID, action: str, detail: dict[str, Any]
) -> asyncpg.Record | None:
    """Resolve the report and every other open report of its message, and write the audit
    entry, in one transaction; None if it was resolved already."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE messages.reports SET resolution = $3, resolved_by = $2,
                    resolved_at = clock_timestamp()
                WHERE id = $1 AND resolution IS NULL RETURNING {REPORT}""",
            report_id,
            actor,
            action,
        )
        if row is None:
            return None
        await conn.execute(
            """UPDATE messages.reports SET resolution = $2, resolved_by = $3,
                   resolved_at = clock_timestamp()
               WHERE message_id = $1 AND resolution IS NULL""",
            row["message_id"],
            action,
            actor,
        )
        await append_audit(
            conn,
            actor,
            "resolve_report",
            row["room_id"],
            row["sender_id"],
            {**detail, "report_id": str(report_id), "resolution": action},
        )
        return row


async def append_audit(
    conn: Any,
    actor: uuid.UUID,
    action: str,
    room_id: uuid.UUID | None,
    target: uuid.UUID | None,
    detail: dict[str, Any],
) -> None:
    """One moderation action, appended to ``messages.audit``."""
    await conn.execute(
        """INSERT INTO messages.audit (actor_id, action, room_id, target_id, detail)
           VALUES ($1, $2, $3, $4, $5)""",
        actor,
        action,
        room_id,
        target,
        detail,
    )


async def audit_page(pool: asyncpg.Pool, before: int | None, limit: int) -> list[asyncpg.Record]:
    """Audit entries, newest first, before the id ``before``."""
    return await pool.fetch(
        f"SELECT {AUDIT} FROM messages.audit WHERE id < $1 ORDER BY id DESC LIMIT $2",
        before if before is not None else 2**63 - 1,
        limit,
    )
