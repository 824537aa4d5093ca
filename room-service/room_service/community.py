"""Community changes, each in one transaction under the room's row lock like those of
changes.py: joining a public room or by invite, invites, bans, mutes. The statements are in
store_community.py."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chatcore.errors import ChatError, NotFound
from room_service import events, roles
from room_service import store_community as sql
from room_service.changes import _bump, _returned
from room_service.guards import audit, check_not_banned
from room_service.store import (
    ADD_MEMBER,
    DELETE_MEMBER,
    LOCK_ROOM,
    Change,
    not_member,
    role_of,
    room_json,
    room_not_found,
)

if TYPE_CHECKING:
    from room_service.store import Conn


class Gone(ChatError):
    status = 410
    default_code = "invite_expired"


def invite_not_found() -> NotFound:
    return NotFound("No such invite.", code="invite_not_found")


async def join_public(conn: Conn, room_id: uuid.UUID, user: uuid.UUID) -> Change:
    """``user`` joins a public room (one event); a member gets the room as it is. A private
    room the user is not in is a 404, like any room they cannot see."""
    async with conn.transaction():
        room = await conn.fetchrow(LOCK_ROOM, room_id)
        if room is None:
            raise room_not_found()
        role = await role_of(conn, room_id, user)
        if role is not None:
            return Change(room_json(room, role))
        if room["visibility"] != "public":
            raise room_not_found()
        await check_not_banned(conn, room_id, user)
        member = _returned(await conn.fetchrow(ADD_MEMBER, room_id, user))
        room = await _bump(conn, room_id, members=1)
        return Change(room_json(room, member["role"]), [events.member_added(room, user, member)])


async def join_by_invite(conn: Conn, room_id: uuid.UUID, code: str, user: uuid.UUID) -> Change:
    """``user`` joins by the code, using it once; a member already in uses nothing."""
    async with conn.transaction():
        room = await conn.fetchrow(LOCK_ROOM, room_id)
        if room is None:
            raise invite_not_found()
        role = await role_of(conn, room_id, user)
        if role is not None:
            return Change(room_json(room, role))
        await check_not_banned(conn, room_id, user)
        if await conn.fetchval(sql.USE_INVITE, code, room_id) is None:
            if await conn.fetchval(sql.INVITE_EXISTS, code) is None:
                raise invite_not_found()
            raise Gone("The invite has expired or been used up.")
        member = _returned(await conn.fetchrow(ADD_MEMBER, room_id, user))
        room = await _bump(conn, room_id, members=1)
        return Change(room_json(room, member["role"]), [events.member_added(room, user, member)])


async def create_invite(
    conn: Conn,
    room_id: uuid.UUID,
    actor: uuid.UUID,
    code: str,
    expires_at: datetime | None,
    max_uses: int | None,
) -> dict[str, Any]:
    async with conn.transaction():
        await _moderator(conn, room_id, actor)
        row = await conn.fetchrow(sql.INSERT_INVITE, code, room_id, actor, expires_at, max_uses)
        return dict(row) if row is not None else {}


async def revoke_invite(conn: Conn, room_id: uuid.UUID, actor: uuid.UUID, code: str) -> None:
    async with conn.transaction():
        await _moderator(conn, room_id, actor)
        if await conn.execute(sql.DELETE_INVITE, room_id, code) == "DELETE 0":
            raise invite_not_found()


async def ban(
    conn: Conn,
    room_id: uuid.UUID,
    actor: uuid.UUID,
    user: uuid.UUID,
    reason: str | None,
    until: datetime | None,
) -> Change:
    """Ban ``user`` (a member or not); a member is removed now (one ``member_removed``)."""
    async with conn.transaction():
        room, role = await _moderator(conn, room_id, actor)
        target = await role_of(conn, room_id, user)
        roles.check_moderate(role, target, own=user == actor)
        row = _returned(await conn.fetchrow(sql.UPSERT_BAN, room_id, user, actor, reason, until))
        await conn.execute(sql.DROP_MUTE, room_id, user)
        found: list[events.Event] = []
        if target is not None:
            await conn.execute(DELETE_MEMBER, room_id, user)
            room = await _bump(conn, room_id, members=-1)
            found.append(events.member_removed(room, actor, user))
        await audit(
            conn, actor, "ban", room_id, user, reason=reason, until=until, removed=bool(found)
        )
        return Change(dict(row), found, True)


async def unban(conn: Conn, room_id: uuid.UUID, actor: uuid.UUID, user: uuid.UUID) -> None:
    async with conn.transaction():
        await _moderator(conn, room_id, actor)
        if await conn.execute(sql.DELETE_BAN, room_id, user) == "DELETE 0":
            raise NotFound("That user is not banned from the room.", code="ban_not_found")
        await audit(conn, actor, "unban", room_id, user)


async def mute(
    conn: Conn, room_id: uuid.UUID, actor: uuid.UUID, user: uuid.UUID, until: datetime
) -> Change:
    """Mute a member until ``until``: one ``member_muted`` event, so caches of who may
    send drop their answer at once."""
    async with conn.transaction():
        room, role = await _moderator(conn, room_id, actor)
        target = await role_of(conn, room_id, user)
        if target is None:
            raise not_member()
        roles.check_moderate(role, target, own=user == actor)
        row = _returned(await conn.fetchrow(sql.UPSERT_MUTE, room_id, user, actor, until))
        room = await _bump(conn, room_id)
        await audit(conn, actor, "mute", room_id, user, until=until)
        event = events.member_muted(room, actor, user, until)
        return Change(dict(row), [event], True)


async def unmute(conn: Conn, room_id: uuid.UUID, actor: uuid.UUID, user: uuid.UUID) -> Change:
    async with conn.transaction():
        await _moderator(conn, room_id, actor)
        if await conn.execute(sql.DELETE_MUTE, room_id, user) == "DELETE 0":
            raise NotFound("That user is not muted in the room.", code="mute_not_found")
        room = await _bump(conn, room_id)
        await audit(conn, actor, "unmute", room_id, user)
        return Change({}, [events.member_muted(room, actor, user, None)])


async def _moderator(conn: Conn, room_id: uuid.UUID, actor: uuid.UUID) -> tuple[Any, str]:
    """Lock the room; (room, actor's role) if the actor is an owner or admin of a group
    room: 404 for a non-member, 409 for a direct room, 403 for a plain member."""
    room = await conn.fetchrow(LOCK_ROOM, room_id)
    role = await role_of(conn, room_id, actor) if room is not None else None
    if room is None or role is None:
        raise room_not_found()
    roles.check_moderator(room["kind"], role)
    return room, role
