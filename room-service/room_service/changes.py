"""Every change of a room, each in one transaction that first locks the room's row, then
reads the roles it decides by (so concurrent changes of a room are serial and decide on what
is committed), makes the change and bumps the room's ``version``, returning the events to
publish after commit. Callers hold the room's turn (``store.room_turn``) around a change and
its publish. The statements themselves are in store.py."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import asyncpg

from chatcore.errors import Conflict, InvalidInput
from room_service import events, guards, roles, store
from room_service.store import Change, not_member, role_of, room_json, room_not_found

if TYPE_CHECKING:
    from room_service.store import Conn


async def create_room(
    conn: Conn,
    room_id: uuid.UUID,
    owner: uuid.UUID,
    title: str,
    member_ids: list[uuid.UUID],
    visibility: str = "private",
) -> Change:
    """A group room owned by ``owner`` with ``member_ids`` as members: one event."""
    everyone = [owner, *(m for m in dict.fromkeys(member_ids) if m != owner)]
    async with conn.transaction():
        await guards.check_not_blocked_by(conn, owner, everyone[1:])
        room = _returned(
            await conn.fetchrow(
                store.INSERT_GROUP, room_id, title, owner, len(everyone), visibility
            )
        )
        members = await conn.fetch(store.INSERT_MEMBERS, room_id, everyone, roles.Role.OWNER)
    return Change(
        room_json(room, roles.Role.OWNER), [events.room_created(room, owner, members)], True
    )


async def create_direct(
    conn: Conn, room_id: uuid.UUID, caller: uuid.UUID, other: uuid.UUID
) -> Change | None:
    """The pair's direct room, created as ``room_id`` (one event); None if the pair has one."""
    low, high = sorted((caller, other))
    async with conn.transaction():
        room = await conn.fetchrow(store.INSERT_DIRECT, room_id, caller, low, high)
        if room is None:
            return None
        members = await conn.fetch(store.INSERT_MEMBERS, room_id, [caller, other], "member")
    return Change(
        room_json(room, roles.Role.MEMBER), [events.room_created(room, caller, members)], True
    )


async def reopen_direct(conn: Conn, room_id: uuid.UUID, caller: uuid.UUID) -> Change:
    """Bring the caller back into the direct room if they had left it (one event).

    Only the caller: someone who left a conversation stays out of it until they open it
    again themselves, so the other person cannot pull them back in (docs/api/rooms.md).
    """
    async with conn.transaction():
        room = _returned(await conn.fetchrow(store.LOCK_ROOM, room_id))
        added = []
        for member in await conn.fetch(store.READD_MEMBERS, room_id, [caller]):
            room = await _bump(conn, room_id, members=1)
            added.append(events.member_added(room, caller, member))
        return Change(room_json(room, roles.Role.MEMBER), added)


async def rename(
    conn: Conn,
    room_id: uuid.UUID,
    actor: uuid.UUID,
    title: str | None,
    visibility: str | None = None,
) -> Change:
    """A new title or visibility (either may be None: unchanged)."""
    async with conn.transaction():
        room, role = await _lock(conn, room_id, actor)
        if room["kind"] == roles.DIRECT and visibility == "public":
            raise InvalidInput("visibility", "visibility: a direct room is never public.")
        roles.check_rename(room["kind"], role)
        if room["title"] == (title or room["title"]) and room["visibility"] == (
            visibility or room["visibility"]
        ):
            return Change(room_json(room, role))
        room = await _bump(conn, room_id, title=title, visibility=visibility)
        return Change(room_json(room, role), [events.room_updated(room, actor)])


async def add_member(conn: Conn, room_id: uuid.UUID, actor: uuid.UUID, user: uuid.UUID) -> Change:
    async with conn.transaction():
        room, role = await _lock(conn, room_id, actor)
        roles.check_add(room["kind"], role)
        await guards.check_not_banned(conn, room_id, user)
        await guards.check_not_blocked_by(conn, actor, [user])
        member = await conn.fetchrow(store.ADD_MEMBER, room_id, user)
        if member is None:
            raise Conflict("That user is already a member of the room.", code="already_member")
        room = await _bump(conn, room_id, members=1)
        return Change(dict(member), [events.member_added(room, actor, member)], True)


async def remove_member(
    conn: Conn, room_id: uuid.UUID, actor: uuid.UUID, user: uuid.UUID
) -> Change:
    """Remove ``user`` (or leave, when it is the actor). When a group room's last owner
    goes, its longest-standing admin, else its longest-standing member, becomes owner."""
    async with conn.transaction():
        room, role = await _lock(conn, room_id, actor)
        target = role if user == actor else await role_of(conn, room_id, user)
        if target is None:
            raise not_member()
        roles.check_remove(room["kind"], role, target, leaving=user == actor)
        await conn.execute(store.DELETE_MEMBER, room_id, user)
        if user != actor:
            await guards.audit(conn, actor, "remove", room_id, user)
        room = await _bump(conn, room_id, members=-1)
        changes = [events.member_removed(room, actor, user)]
        if target == roles.Role.OWNER and not await conn.fetchval(store.COUNT_OWNERS, room_id):
            heir = await conn.fetchrow(store.PROMOTE_HEIR, room_id)
            if heir is not None:
                room = await _bump(conn, room_id)
                changes.append(events.role_changed(room, actor, heir))
        return Change({}, changes)


async def set_role(
    conn: Conn, room_id: uuid.UUID, actor: uuid.UUID, user: uuid.UUID, new: str
) -> Change:
    async with conn.transaction():
        room, role = await _lock(conn, room_id, actor)
        member = await conn.fetchrow(store.GET_MEMBER, room_id, user)
        if member is None:
            raise not_member()
        owners = await conn.fetchval(store.COUNT_OWNERS, room_id)
        roles.check_set_role(
            room["kind"], role, member["role"], new, own=user == actor, owners=owners
        )
        if member["role"] == new:
            return Change(dict(member))
        member = _returned(await conn.fetchrow(store.SET_ROLE, room_id, user, new))
        room = await _bump(conn, room_id)
        return Change(dict(member), [events.role_changed(room, actor, member)])


def _returned(row: asyncpg.Record | None) -> asyncpg.Record:
    """The row of a statement that always returns one (INSERT/UPDATE ... RETURNING of a row
    this transaction holds); only the type checker needs telling."""
    if row is None:
        raise RuntimeError("a statement returned no row where one was certain")
    return row


async def _lock(conn: Conn, room_id: uuid.UUID, actor: uuid.UUID) -> tuple[asyncpg.Record, str]:
    """Lock the room's row, then read the actor's role: (room, role); 404 if not a member."""
    room = await conn.fetchrow(store.LOCK_ROOM, room_id)
    role = await role_of(conn, room_id, actor) if room is not None else None
    if room is None or role is None:
        raise room_not_found()
    return room, role


async def _bump(
    conn: Conn,
    room_id: uuid.UUID,
    *,
    members: int = 0,
    title: str | None = None,
    visibility: str | None = None,
) -> asyncpg.Record:
    """One more version of the room (and its new member count, title or visibility): the
    row after."""
    return _returned(await conn.fetchrow(store.BUMP, room_id, members, title, visibility))
