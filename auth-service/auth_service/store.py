"""Every SQL statement of auth-service; the only module that touches schema ``auth``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import IntEnum
from typing import TYPE_CHECKING, Any

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

from chatcore.errors import Conflict

USER_COLUMNS = "id, email, display_name, status_text, avatar_type, avatar_etag, created_at"
# What issuing tokens needs besides: the site roles and whether the account is active.
TOKEN_COLUMNS = f"{USER_COLUMNS}, is_admin, deactivated_at"


async def create_user(
    pool: asyncpg.Pool, *, email: str, key: str, password_hash: str, display_name: str
) -> asyncpg.Record:
    try:
        row = await pool.fetchrow(
            f"""INSERT INTO auth.users (email, email_key, password_hash, display_name)
                VALUES ($1, $2, $3, $4) RETURNING {USER_COLUMNS}""",
            email,
            key,
            password_hash,
            display_name,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict("That email is already registered.", code="email_taken") from None
    assert row is not None
    return row


async def credentials_by_email(pool: asyncpg.Pool, key: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        f"SELECT {TOKEN_COLUMNS}, password_hash FROM auth.users WHERE email_key = $1", key
    )


async def set_password_hash(pool: asyncpg.Pool, user_id: uuid.UUID, password_hash: str) -> None:
    await pool.execute(
        "UPDATE auth.users SET password_hash = $2, updated_at = now() WHERE id = $1",
        user_id,
        password_hash,
    )


async def user_by_id(pool: asyncpg.Pool, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(f"SELECT {USER_COLUMNS} FROM auth.users WHERE id = $1", user_id)


async def update_profile(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    *,
    display_name: str | None,
    status_text: str | None,
) -> asyncpg.Record | None:
    """The profile after setting the fields that are not None; None if the user is gone."""
    return await pool.fetchrow(
        f"""UPDATE auth.users
            SET display_name = coalesce($2, display_name),
                status_text = coalesce($3, status_text),
                updated_at = now()
            WHERE id = $1 RETURNING {USER_COLUMNS}""",
        user_id,
        display_name,
        status_text,
    )


# --- avatars -------------------------------------------------------------------------------


async def set_avatar(
    pool: asyncpg.Pool, user_id: uuid.UUID, *, content_type: str, data: bytes, etag: str
) -> asyncpg.Record | None:
    """Store the image and point the profile at it, together; None if the user is gone."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE auth.users SET avatar_type = $2, avatar_etag = $3, updated_at = now()
                WHERE id = $1 RETURNING {USER_COLUMNS}""",
            user_id,
            content_type,
            etag,
        )
        if row is None:
            return None
        await conn.execute(
            """INSERT INTO auth.avatars (user_id, content_type, data) VALUES ($1, $2, $3)
               ON CONFLICT (user_id) DO UPDATE
               SET content_type = excluded.content_type, data = excluded.data,
                   updated_at = now()""",
            user_id,
            content_type,
            data,
        )
        return row


async def avatar(pool: asyncpg.Pool, user_id: uuid.UUID) -> asyncpg.Record | None:
    """``content_type``, ``data`` and ``etag`` of the user's avatar, or None."""
    return await pool.fetchrow(
        """SELECT a.content_type, a.data, u.avatar_etag AS etag
           FROM auth.avatars a JOIN auth.users u ON u.id = a.user_id
           WHERE a.user_id = $1""",
        user_id,
    )


# --- the directory -------------------------------------------------------------------------


async def search_users(
    pool: asyncpg.Pool,
    *,
    name_pattern: str,
    email_key: str,
    after: tuple[str, uuid.UUID] | None,
    limit: int,
    hidden: list[uuid.UUID] | None = None,
    email_prefix: str | None = None,
) -> list[asyncpg.Record]:
    """Users whose lower-cased display name matches a LIKE pattern (``\\`` escapes), or whose
    email key is exactly ``email_key`` or starts with ``email_prefix`` (a LIKE pattern; None:
    no prefix search), ordered by (lower(display_name), id), after the given sort key; neither
    deactivated accounts nor the ``hidden`` ones. ``email_matched`` marks exact email matches."""
    after_name, after_id = after if after is not None else (None, None)
    return await pool.fetch(
        f"""SELECT {USER_COLUMNS}, lower(display_name) AS sort_name,
                   email_key = $2 AS email_matched
            FROM auth.users
            WHERE (lower(display_name) LIKE lower($1) ESCAPE '\\' OR email_key = $2
                   OR email_key LIKE $7 ESCAPE '\\')
              AND ($3::text IS NULL OR (lower(display_name), id) > ($3::text, $4::uuid))
              AND deactivated_at IS NULL AND NOT (id = ANY($6::uuid[]))
            ORDER BY lower(display_name), id
            LIMIT $5""",
        name_pattern,
        email_key,
        after_name,
        after_id,
        limit,
        hidden or [],
        email_prefix,
    )


# --- refresh tokens ------------------------------------------------------------------------


async def start_family(pool: asyncpg.Pool, user_id: uuid.UUID, token_hash: bytes, ttl: int) -> None:
    """A new refresh-token family for one login, holding its first token."""
    async with pool.acquire() as conn, conn.transaction():
        family_id = await conn.fetchval(
            "INSERT INTO auth.refresh_families (user_id) VALUES ($1) RETURNING id", user_id
        )
        await _insert_token(conn, family_id, token_hash, ttl)


class Rotation(IntEnum):
    ROTATED = 0
    UNKNOWN = 1  # no such token, expired, or its family is already revoked
    REUSED = 2  # a spent token came back: the family has now been revoked


@dataclass(frozen=True)
class RotationResult:
    outcome: Rotation
    user: asyncpg.Record | None = None


async def rotate(pool: asyncpg.Pool, old_hash: bytes, new_hash: bytes, ttl: int) -> RotationResult:
    """Spend the token ``old_hash`` and add ``new_hash`` to its family, in one transaction.

    The conditional UPDATE takes the row lock: of two concurrent calls with the same token,
    the second waits, then finds it spent, and so counts as a reuse.
    """
    async with pool.acquire() as conn, conn.transaction():
        spent = await conn.fetchrow(
            """UPDATE auth.refresh_tokens t SET used_at = now()
               FROM auth.refresh_families f
               WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now()
                 AND f.id = t.family_id AND f.revoked_at IS NULL
               RETURNING t.family_id, f.user_id""",
            old_hash,
        )
        if spent is not None:
            user = await conn.fetchrow(
                f"SELECT {TOKEN_COLUMNS} FROM auth.users WHERE id = $1", spent["user_id"]
            )
            await _insert_token(conn, spent["family_id"], new_hash, ttl)
            return RotationResult(Rotation.ROTATED, user)
        known = await conn.fetchrow(
            "SELECT family_id, used_at FROM auth.refresh_tokens WHERE token_hash = $1", old_hash
        )
        if known is None or known["used_at"] is None:
            return RotationResult(Rotation.UNKNOWN)
        await _revoke(conn, known["family_id"])
        return RotationResult(Rotation.REUSED)


async def revoke_family_of(pool: asyncpg.Pool, token_hash: bytes) -> bool:
    """Revoke the family the token belongs to (spent or not); False if no token matches."""
    async with pool.acquire() as conn:
        family_id = await conn.fetchval(
            "SELECT family_id FROM auth.refresh_tokens WHERE token_hash = $1", token_hash
        )
        if family_id is None:
            return False
        await _revoke(conn, family_id)
        return True


async def _revoke(conn: PoolConnectionProxy[asyncpg.Record], family_id: uuid.UUID) -> None:
    await conn.execute(
        """UPDATE auth.refresh_families SET revoked_at = now()
           WHERE id = $1 AND revoked_at IS NULL""",
        family_id,
    )


async def _insert_token(
    conn: PoolConnectionProxy[asyncpg.Record], family_id: uuid.UUID, token_hash: bytes, ttl: int
) -> None:
    await conn.execute(
        """INSERT INTO auth.refresh_tokens (token_hash, family_id, expires_at)
           VALUES ($1, $2, now() + $3::interval)""",
        token_hash,
        family_id,
        timedelta(seconds=ttl),
    )


def user_json(row: Any, *, with_email: bool) -> dict[str, Any]:
    """The contract's ``user`` object; ``email`` only for the user themself or the directory."""
    avatar_url = (
        f"/auth/users/{row['id']}/avatar?v={row['avatar_etag']}" if row["avatar_type"] else None
    )
    user = {
        "id": row["id"],
        "display_name": row["display_name"],
        "avatar_url": avatar_url,
        "status_text": row["status_text"],
        "created_at": row["created_at"],
    }
    if with_email:
        user["email"] = row["email"]
    return user
