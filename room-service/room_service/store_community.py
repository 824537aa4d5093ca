"""The SQL of public rooms, invites, bans, mutes, blocks and the audit log (schema ``rooms``):
the reads, run here, and the statements community.py runs in its transactions."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from room_service.store import OLDEST, ROOM

# --- reads ---------------------------------------------------------------------------------

# Keyset bounds that sort before every real (member_count, id) of the directory's order.
TOP = (2**31 - 1, uuid.UUID(int=(1 << 128) - 1))


async def public_rooms(
    pool: asyncpg.Pool,
    viewer: uuid.UUID,
    pattern: str | None,
    after: tuple[int, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Public rooms whose title matches the LIKE ``pattern`` (None: all), most members first,
    after the cursor's (member_count, id), with the viewer's role (None if not a member)."""
    count, room_id = after or TOP
    return await pool.fetch(
        f"""SELECT {ROOM}, m.role AS my_role FROM rooms.rooms r
            LEFT JOIN rooms.members m ON m.room_id = r.id AND m.user_id = $1
            WHERE r.visibility = 'public'
              AND ($2::text IS NULL OR lower(r.title) LIKE lower($2))
              AND (r.member_count, r.id) < ($3::integer, $4::uuid)
            ORDER BY r.member_count DESC, r.id DESC
            LIMIT $5""",
        viewer,
        pattern,
        count,
        room_id,
        limit,
    )


async def invite_room(pool: asyncpg.Pool, code: str) -> uuid.UUID | None:
    """The room an invite code opens, or None if there is no such (unrevoked) code."""
    room: uuid.UUID | None = await pool.fetchval(
        "SELECT room_id FROM rooms.invites WHERE code = $1", code
    )
    return room


async def blocked_by(pool: asyncpg.Pool, blocker: uuid.UUID, blocked: uuid.UUID) -> bool:
    """Whether ``blocker`` has blocked ``blocked``."""
    found: bool = await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM rooms.blocks WHERE blocker = $1 AND blocked = $2)",
        blocker,
        blocked,
    )
    return found


async def blocks_of(
    pool: asyncpg.Pool, blocker: uuid.UUID, after: tuple[Any, uuid.UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """The people ``blocker`` blocked, oldest block first, after the cursor."""
    at, user = after or OLDEST
    return await pool.fetch(
        """SELECT blocked AS user_id, created_at FROM rooms.blocks
           WHERE blocker = $1 AND (created_at, blocked) > ($2::timestamptz, $3::uuid)
           ORDER BY created_at, blocked LIMIT $4""",
        blocker,
        at,
        user,
        limit,
    )


async def block(pool: asyncpg.Pool, blocker: uuid.UUID, blocked: uuid.UUID) -> None:
    await pool.execute(
        "INSERT INTO rooms.blocks (blocker, blocked) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        blocker,
        blocked,
    )


async def unblock(pool: asyncpg.Pool, blocker: uuid.UUID, blocked: uuid.UUID) -> bool:
    """False if there was no such block."""
    status: str = await pool.execute(
        "DELETE FROM rooms.blocks WHERE blocker = $1 AND blocked = $2", blocker, blocked
    )
    return status != "DELETE 0"


async def bans_of(
    pool: asyncpg.Pool, room_id: uuid.UUID, after: tuple[Any, uuid.UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """The room's bans in force, oldest first, after the cursor's (created_at, user_id)."""
    at, user = after or OLDEST
    return await pool.fetch(
        f"""SELECT {BAN} FROM rooms.bans
            WHERE room_id = $1 AND (until IS NULL OR until > now())
              AND (created_at, user_id) > ($2::timestamptz, $3::uuid)
            ORDER BY created_at, user_id LIMIT $4""",
        room_id,
        at,
        user,
        limit,
    )


async def audit_page(pool: asyncpg.Pool, before: int | None, limit: int) -> list[asyncpg.Record]:
    """Audit entries, newest first, before the id ``before``."""
    return await pool.fetch(
        f"""SELECT {AUDIT} FROM rooms.audit WHERE id < $1 ORDER BY id DESC LIMIT $2""",
        before if before is not None else 2**63 - 1,
        limit,
    )


# --- the statements of community.py --------------------------------------------------------

BAN = "room_id, user_id, banned_by, reason, until, created_at"
MUTE = "room_id, user_id, muted_by, until, created_at"
INVITE = "code, room_id, created_by, created_at, expires_at, max_uses, uses"
AUDIT = "id, at, actor_id, action, room_id, target_id, detail"

BANNED = """SELECT EXISTS (SELECT 1 FROM rooms.bans WHERE room_id = $1 AND user_id = $2
    AND (until IS NULL OR until > now()))"""
# Which of $2 have blocked $1.
BLOCKERS = "SELECT blocker FROM rooms.blocks WHERE blocked = $1 AND blocker = ANY($2::uuid[])"
UPSERT_BAN = f"""INSERT INTO rooms.bans (room_id, user_id, banned_by, reason, until)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (room_id, user_id) DO UPDATE SET banned_by = $3, reason = $4, until = $5,
        created_at = now()
    RETURNING {BAN}"""
DELETE_BAN = """DELETE FROM rooms.bans WHERE room_id = $1 AND user_id = $2
    AND (until IS NULL OR until > now())"""
UPSERT_MUTE = f"""INSERT INTO rooms.mutes (room_id, user_id, muted_by, until)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (room_id, user_id) DO UPDATE SET muted_by = $3, until = $4, created_at = now()
    RETURNING {MUTE}"""
DELETE_MUTE = "DELETE FROM rooms.mutes WHERE room_id = $1 AND user_id = $2 AND until > now()"
DROP_MUTE = "DELETE FROM rooms.mutes WHERE room_id = $1 AND user_id = $2"
INSERT_INVITE = f"""INSERT INTO rooms.invites (code, room_id, created_by, expires_at, max_uses)
    VALUES ($1, $2, $3, $4, $5) RETURNING {INVITE}"""
INVITE_EXISTS = "SELECT 1 FROM rooms.invites WHERE code = $1"
DELETE_INVITE = "DELETE FROM rooms.invites WHERE room_id = $1 AND code = $2"
# One use of a live code. The row lock orders racing joins: each sees the uses committed
# before it, so a code of n uses admits exactly n.
USE_INVITE = """UPDATE rooms.invites SET uses = uses + 1
    WHERE code = $1 AND room_id = $2 AND (expires_at IS NULL OR expires_at > now())
      AND (max_uses IS NULL OR uses < max_uses)
    RETURNING code"""
APPEND_AUDIT = """INSERT INTO rooms.audit (actor_id, action, room_id, target_id, detail)
    VALUES ($1, $2, $3, $4, $5::jsonb)"""
