"""Every SQL statement of auth-service; the only module that touches schema ``auth``."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from chatcore.errors import Conflict

USER_COLUMNS = "id, email, display_name, status_text, avatar_type, avatar_etag, created_at"


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
        f"SELECT {USER_COLUMNS}, password_hash FROM auth.users WHERE email_key = $1", key
    )


async def set_password_hash(pool: asyncpg.Pool, user_id: uuid.UUID, password_hash: str) -> None:
    await pool.execute(
        "UPDATE auth.users SET password_hash = $2, updated_at = now() WHERE id = $1",
        user_id,
        password_hash,
    )


async def user_by_id(pool: asyncpg.Pool, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(f"SELECT {USER_COLUMNS} FROM auth.users WHERE id = $1", user_id)


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
