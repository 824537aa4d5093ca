"""The SQL of site administration (schema ``auth``): administrators, deactivation and the
audit log."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from auth_service.store import USER_COLUMNS

ADMIN_COLUMNS = f"{USER_COLUMNS}, is_admin, deactivated_at"
AUDIT = "id, at, actor_id, action, target_id, detail"


async def make_admin(pool: asyncpg.Pool, key: str) -> asyncpg.Record | None:
    """Make the account with this email key a site administrator; None if there is none."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"UPDATE auth.users SET is_admin = true WHERE email_key = $1 RETURNING {ADMIN_COLUMNS}",
            key,
        )
        if row is not None:
            await append_audit(conn, None, "make_admin", row["id"], {})
        return row


async def account(pool: asyncpg.Pool, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(f"SELECT {ADMIN_COLUMNS} FROM auth.users WHERE id = $1", user_id)


async def set_active(
    pool: asyncpg.Pool, actor: uuid.UUID, user_id: uuid.UUID, active: bool
) -> asyncpg.Record | None:
    """Deactivate (revoking every refresh-token family) or reactivate the account, with its
    audit entry; None if there is no such account."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE auth.users
                SET deactivated_at = CASE WHEN $2 THEN NULL
                                          ELSE coalesce(deactivated_at, now()) END
                WHERE id = $1 RETURNING {ADMIN_COLUMNS}""",
            user_id,
            active,
        )
        if row is None:
            return None
        if not active:
            await conn.execute(
                """UPDATE auth.refresh_families SET revoked_at = now()
                   WHERE user_id = $1 AND revoked_at IS NULL""",
                user_id,
            )
        await append_audit(conn, actor, "reactivate" if active else "deactivate", user_id, {})
        return row


async def is_active(pool: asyncpg.Pool, user_id: uuid.UUID) -> bool:
    found: bool = await pool.fetchval(
        "SELECT deactivated_at IS NULL FROM auth.users WHERE id = $1", user_id
    )
    return bool(found)


async def append_audit(
    conn: Any,
    actor: uuid.UUID | None,
    action: str,
    target: uuid.UUID | None,
    detail: dict[str, Any],
) -> None:
    await conn.execute(
        "INSERT INTO auth.audit (actor_id, action, target_id, detail) VALUES ($1, $2, $3, $4)",
        actor,
        action,
        target,
        detail,
    )


async def audit_page(pool: asyncpg.Pool, before: int | None, limit: int) -> list[asyncpg.Record]:
    return await pool.fetch(
        f"SELECT {AUDIT} FROM auth.audit WHERE id < $1 ORDER BY id DESC LIMIT $2",
        before if before is not None else 2**63 - 1,
        limit,
    )
