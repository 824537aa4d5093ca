"""Every SQL statement of room-service, the only module that holds any or names schema
``rooms``: the reads, run here, and the statements of the changes, which changes.py runs in
its transactions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import asyncpg

from chatcore import db
from chatcore.errors import NotFound
from room_service import events

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn = PoolConnectionProxy[asyncpg.Record]

ROOM = "r.id, r.kind, r.title, r.created_by, r.created_at, r.member_count, r.visibility"
# A room row after a change: what its events carry. `now()` is the transaction's time.
CHANGED = "id, kind, title, created_by, created_at, member_count, visibility, version, now() AS at"
MEMBER = "user_id, role, joined_at"
# Keyset bounds that sort after and before every real (joined_at, id).
NEWEST = (datetime(9999, 12, 31, tzinfo=UTC), uuid.UUID(int=(1 << 128) - 1))
OLDEST = (datetime(1, 1, 1, tzinfo=UTC), uuid.UUID(int=0))


def room_not_found() -> NotFound:
    # The same answer for a room that does not exist and one the caller is not in.
    return NotFound("No such room.", code="room_not_found")


def not_member() -> NotFound:
    return NotFound("That user is not a member of the room.", code="not_member")


@dataclass(frozen=True)
class Change:
    """A committed change: the answer for the caller, and the events to publish."""

    row: dict[str, Any]
    events: list[events.Event] = field(default_factory=list)
    created: bool = False


def room_json(room: asyncpg.Record, my_role: str) -> dict[str, Any]:
    """The contract's ``room``: the room's fields and the reader's role in it."""
    return {**{k: room[k] for k in events.ROOM_FIELDS}, "my_role": my_role}


# --- reads ---------------------------------------------------------------------------------


async def room_for(pool: asyncpg.Pool, room_id: uuid.UUID, user: uuid.UUID) -> dict[str, Any]:
    """The room with the caller's role; 404 unless the caller is a member."""
    row = await pool.fetchrow(
        f"""SELECT {ROOM}, m.role AS my_role FROM rooms.rooms r
            JOIN rooms.members m ON m.room_id = r.id AND m.user_id = $2
            WHERE r.id = $1""",
        room_id,
        user,
    )
    if row is None:
        raise room_not_found()
    return dict(row)


async def rooms_of(
    pool: asyncpg.Pool, user: uuid.UUID, before: tuple[Any, uuid.UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """The user's rooms, most recently joined first, after the cursor's (joined_at, id)."""
    at, room_id = before or NEWEST
    return await pool.fetch(
        f"""SELECT {ROOM}, m.role AS my_role, m.joined_at
            FROM rooms.members m JOIN rooms.rooms r ON r.id = m.room_id
            WHERE m.user_id = $1 AND (m.joined_at, m.room_id) < ($2::timestamptz, $3::uuid)
            ORDER BY m.joined_at DESC, m.room_id DESC
            LIMIT $4""",
        user,
        at,
        room_id,
        limit,
    )


# A user's rooms as GET /rooms/joined lists them (one JSON array): the caller adds the
# WHERE that picks the user (``m.user_id``).
_JOINED_JSON = """coalesce(json_agg(json_build_object(
                      'room_id', m.room_id,
                      'role', m.role,
                      'joined_at', to_char(m.joined_at AT TIME ZONE 'UTC',
                                           'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                      'version', r.version,
                      'member_count', r.member_count)),
                  '[]')::text
           FROM rooms.members m,
                LATERAL (SELECT version, member_count FROM rooms.rooms WHERE id = m.room_id) r"""


async def joined_json_many(pool: asyncpg.Pool, users: list[uuid.UUID]) -> list[str]:
    """:func:`joined_json` of each of ``users``, in order, in one query (the gateway asks for
    many connecting users at once)."""
    rows = await pool.fetch(
        f"""SELECT (SELECT {_JOINED_JSON} WHERE m.user_id = u.user_id) AS rooms
           FROM unnest($1::uuid[]) WITH ORDINALITY AS u(user_id, ord)
           ORDER BY u.ord""",
        users,
    )
    return [str(row["rooms"]) for row in rows]


async def joined_json(pool: asyncpg.Pool, user: uuid.UUID) -> str:
    """Every room of the user with its role, joining time, membership version and member
    count, as the JSON array of GET /rooms/joined, in one indexed query.

    Postgres builds the JSON: for a user in 1,000 rooms that costs the service a quarter of
    the CPU of decoding and re-encoding 1,000 rows. The version is a primary-key lookup per
    row on purpose: as a join the planner may hash the whole rooms table, which grows with
    every room of every user (the LATERAL subquery keeps it a lookup per row).
    """
    text: str = await pool.fetchval(f"SELECT {_JOINED_JSON} WHERE m.user_id = $1", user)
    return text


async def members_of(
    pool: asyncpg.Pool,
    room_id: uuid.UUID,
    user: uuid.UUID,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """The room's members in joining order after the cursor; 404 unless ``user`` is one."""
    async with pool.acquire() as conn:
        if await role_of(conn, room_id, user) is None:
            raise room_not_found()
        at, user_id = after or OLDEST
        return await conn.fetch(
            f"""SELECT {MEMBER} FROM rooms.members
                WHERE room_id = $1 AND (joined_at, user_id) > ($2::timestamptz, $3::uuid)
                ORDER BY joined_at, user_id
                LIMIT $4""",
            room_id,
            at,
            user_id,
            limit,
        )


async def membership(
    pool: asyncpg.Pool, room_id: uuid.UUID, caller: uuid.UUID, user: uuid.UUID
) -> dict[str, Any]:
    """``user``'s membership with the room's version, and the room's kind and title (and a
    direct room's members), so that a cache of memberships needs no other call to learn what
    a message there may notify; 404 unless both are members."""
    row = await pool.fetchrow(
        """SELECT t.user_id, t.role, t.joined_at, r.version, mu.until AS muted_until,
                  r.kind AS room_kind, r.title AS room_title,
                  CASE WHEN r.kind = 'direct' THEN ARRAY(
                      SELECT m.user_id FROM rooms.members m WHERE m.room_id = r.id
                      ORDER BY m.user_id) END AS direct_members
           FROM rooms.members c JOIN rooms.rooms r ON r.id = c.room_id
           LEFT JOIN rooms.members t ON t.room_id = c.room_id AND t.user_id = $3
           LEFT JOIN rooms.mutes mu
               ON mu.room_id = c.room_id AND mu.user_id = $3 AND mu.until > now()
           WHERE c.room_id = $1 AND c.user_id = $2""",
        room_id,
        caller,
        user,
    )
    if row is None:
        raise room_not_found()
    if row["user_id"] is None:
        raise not_member()
    return dict(row)


async def roles_in(
    pool: asyncpg.Pool, room_id: uuid.UUID, actor: uuid.UUID, target: uuid.UUID
) -> tuple[str, str, str | None]:
    """(kind, actor's role, target's role or None), for checks before calling auth-service;
    404 unless the actor is a member."""
    row = await pool.fetchrow(
        """SELECT r.kind, a.role AS actor, t.role AS target
           FROM rooms.rooms r JOIN rooms.members a ON a.room_id = r.id AND a.user_id = $2
           LEFT JOIN rooms.members t ON t.room_id = r.id AND t.user_id = $3
           WHERE r.id = $1""",
        room_id,
        actor,
        target,
    )
    if row is None:
        raise room_not_found()
    return row["kind"], row["actor"], row["target"]


async def direct_between(
    pool: asyncpg.Pool, caller: uuid.UUID, other: uuid.UUID
) -> asyncpg.Record | None:
    """The pair's direct room with how many of the two are in it, or None."""
    low, high = sorted((caller, other))
    return await pool.fetchrow(
        f"""SELECT {ROOM}, (SELECT count(*) FROM rooms.members m WHERE m.room_id = r.id) AS present
            FROM rooms.rooms r
            WHERE r.kind = 'direct' AND r.direct_low = $1 AND r.direct_high = $2""",
        low,
        high,
    )


async def role_of(conn: Conn, room_id: uuid.UUID, user: uuid.UUID) -> str | None:
    role: str | None = await conn.fetchval(
        "SELECT role FROM rooms.members WHERE room_id = $1 AND user_id = $2", room_id, user
    )
    return role


# --- a room's turn to change -------------------------------------------------------------


@asynccontextmanager
async def room_turn(
    pool: asyncpg.Pool, room_id: uuid.UUID, locks: asyncpg.Pool | None = None
) -> AsyncIterator[Conn]:
    """A connection holding the room's advisory lock, for one change and the publishing of
    its events: so a room's events are published in version order by every replica. The
    row lock alone is released at commit, before the publish.

    With ``locks`` (a pool reached through PgBouncer in transaction mode) a session lock
    would stay on whichever server connection ran it; the turn is then a transaction-scoped
    lock on a ``locks`` connection, whose transaction stays open (keeping its server
    connection) until the change has committed and been published."""
    key = (room_id.int >> 64) - (1 << 63)  # a signed 64-bit key from the id
    if locks is not None:
        async with locks.acquire() as holder, holder.transaction():
            await holder.execute("SELECT pg_advisory_xact_lock($1)", key)
            async with pool.acquire() as conn:
                yield conn
        return
    async with pool.acquire() as conn:
        # The pool then unlocks everything when it takes the connection back, should the
        # unlock below not run (a cancelled request). (The pool's proxy forwards the call.)
        cast(db.Connection, conn).holds_session_state()
        await conn.execute("SELECT pg_advisory_lock($1)", key)
        try:
            yield conn
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", key)


# --- the statements of changes.py ----------------------------------------------------------

INSERT_GROUP = f"""INSERT INTO rooms.rooms (id, kind, title, created_by, member_count, visibility)
    VALUES ($1, 'group', $2, $3, $4, $5) RETURNING {CHANGED}"""
# The unique index on the ordered pair decides between racing creators: the losers wait for
# the winner's commit, then insert nothing.
INSERT_DIRECT = f"""INSERT INTO rooms.rooms
        (id, kind, created_by, member_count, direct_low, direct_high)
    VALUES ($1, 'direct', $2, 2, $3, $4)
    ON CONFLICT (direct_low, direct_high) WHERE kind = 'direct' DO NOTHING
    RETURNING {CHANGED}"""
# Members in the order given, the first with role $3: joining order is their order.
INSERT_MEMBERS = f"""INSERT INTO rooms.members (room_id, user_id, role)
    SELECT $1, u.id, CASE WHEN u.n = 1 THEN $3 ELSE 'member' END
    FROM unnest($2::uuid[]) WITH ORDINALITY AS u(id, n) ORDER BY u.n
    RETURNING {MEMBER}"""
LOCK_ROOM = f"SELECT {CHANGED}, direct_low, direct_high FROM rooms.rooms WHERE id = $1 FOR UPDATE"
READD_MEMBERS = f"""INSERT INTO rooms.members (room_id, user_id, role)
    SELECT $1, u, 'member' FROM unnest($2::uuid[]) AS u
    ON CONFLICT DO NOTHING RETURNING {MEMBER}"""
ADD_MEMBER = f"""INSERT INTO rooms.members (room_id, user_id, role) VALUES ($1, $2, 'member')
    ON CONFLICT DO NOTHING RETURNING {MEMBER}"""
DELETE_MEMBER = "DELETE FROM rooms.members WHERE room_id = $1 AND user_id = $2"
GET_MEMBER = f"SELECT {MEMBER} FROM rooms.members WHERE room_id = $1 AND user_id = $2"
SET_ROLE = f"""UPDATE rooms.members SET role = $3 WHERE room_id = $1 AND user_id = $2
    RETURNING {MEMBER}"""
COUNT_OWNERS = "SELECT count(*) FROM rooms.members WHERE room_id = $1 AND role = 'owner'"
# The heir of a room whose last owner left: the admin who joined first, else the member.
PROMOTE_HEIR = f"""UPDATE rooms.members SET role = 'owner'
    WHERE room_id = $1 AND user_id = (
        SELECT user_id FROM rooms.members WHERE room_id = $1
        ORDER BY role = 'admin' DESC, joined_at, user_id LIMIT 1)
    RETURNING {MEMBER}"""
# One more version of the room, with its new member count (+$2), title or visibility ($3, $4
# unless null).
BUMP = f"""UPDATE rooms.rooms
    SET version = version + 1, member_count = member_count + $2, title = coalesce($3, title),
        visibility = coalesce($4, visibility)
    WHERE id = $1 RETURNING {CHANGED}"""

# --- the membership-event outbox (outbox.py) -----------------------------------------------

INSERT_OUTBOX = """INSERT INTO rooms.outbox (room_id, type, version, payload)
    VALUES ($1, $2, $3, $4)"""
# A room's waiting events, oldest first; rows another publisher holds are skipped.
# Waits for a relay holding some of the room's rows (no SKIP LOCKED): the room's events go
# out in version order, the relay's older ones first.
ROOM_OUTBOX = """SELECT id, room_id, type, version, payload FROM rooms.outbox
    WHERE room_id = $1 ORDER BY id FOR UPDATE"""
# Events a change's own publish left behind (older than $1 seconds), oldest first.
DUE_OUTBOX = """SELECT id, room_id, type, version, payload FROM rooms.outbox
    WHERE created_at < clock_timestamp() - make_interval(secs => $1)
    ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED"""
DELETE_OUTBOX = "DELETE FROM rooms.outbox WHERE id = ANY($1::bigint[])"
