"""The checks community rules add to every change (bans, blocks) and the audit entry of each
moderation action, run inside the change's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chatcore.errors import Forbidden
from room_service import store_community as sql

if TYPE_CHECKING:
    from room_service.store import Conn


async def audit(
    conn: Conn,
    actor: uuid.UUID,
    action: str,
    room_id: uuid.UUID | None,
    target: uuid.UUID | None,
    **detail: Any,
) -> None:
    """Append one moderation action to ``rooms.audit`` (in the caller's transaction)."""
    await conn.execute(sql.APPEND_AUDIT, actor, action, room_id, target, detail)


async def check_not_banned(conn: Conn, room_id: uuid.UUID, user: uuid.UUID) -> None:
    if await conn.fetchval(sql.BANNED, room_id, user):
        raise Forbidden("That user is banned from the room.", code="banned")


async def check_not_blocked_by(conn: Conn, actor: uuid.UUID, users: Sequence[uuid.UUID]) -> None:
    """403 ``blocked`` if any of ``users`` has blocked ``actor``."""
    if users and await conn.fetchval(sql.BLOCKERS, actor, list(users)):
        raise Forbidden("That person does not accept this from you.", code="blocked")
