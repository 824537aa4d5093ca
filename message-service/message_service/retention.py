"""Retention: expired messages are removed, oldest first, in bounded batches.

A room keeps its messages for its own period (``PUT /messages/rooms/{room_id}/retention``,
owners and admins) or else the global MESSAGES_RETENTION_DAYS (0: forever, the default).
:class:`RetentionSweep` removes at most MESSAGES_RETENTION_BATCH messages of one room per
transaction (holding the room's counter row only that long), with their reactions, mentions,
thread summaries and changes, and marks their attachments deleted, which the attachment sweep
then removes from storage. History and the change stream say where a room's retained history
begins (``oldest_seq``).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import asyncpg
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from chatcore.errors import Forbidden, NotFound
from chatcore.logs import get_logger
from chatcore.web import authenticate, json_response, path_uuid, read_json
from message_service import store_retention
from message_service.access import MODERATORS, member_role
from message_service.api import api
from message_service.models import Strict

log = get_logger(__name__)

DAY = 86_400
# Rooms looked at per round; a round repeats at once while it found work.
ROOMS_PER_ROUND = 100


class RetentionBody(Strict):
    days: int | None = Field(
        ge=1, le=36_500, description="days a message is kept; null: the service's default"
    )


class Retention(BaseModel):
    room_id: uuid.UUID
    days: int | None = Field(description="the room's own period; null: the service's default")
    effective_days: int | None = Field(description="the period applied; null: kept forever")
    oldest_seq: int = Field(description="the seq the room's retained history begins at")


def _room(request: Request) -> uuid.UUID:
    try:
        return path_uuid(request, "room_id")
    except NotFound:
        raise NotFound("No such room.", code="room_not_found") from None


async def _answer(request: Request, room_id: uuid.UUID) -> Response:
    row = await store_retention.of_room(request.app.state.pool, room_id)
    own = row["retention_seconds"] if row is not None else None
    default = request.app.state.settings.retention_days or None
    days = own // DAY if own is not None else None
    return json_response(
        {
            "room_id": room_id,
            "days": days,
            "effective_days": days if days is not None else default,
            "oldest_seq": int(row["oldest_seq"]) if row is not None else 1,
        }
    )


@api.route(
    "GET",
    "/rooms/{room_id}/retention",
    summary="How long the room's messages are kept, and where its retained history begins",
    responses={200: Retention},
    errors=(404,),
)
async def get_retention(request: Request) -> Response:
    claims = await authenticate(request)
    room_id = _room(request)
    if await member_role(request, room_id, claims.user_id) is None:
        raise NotFound("No such room.", code="room_not_found")
    return await _answer(request, room_id)


@api.route(
    "PUT",
    "/rooms/{room_id}/retention",
    summary="Set how many days the room's messages are kept (owners and admins)",
    body=RetentionBody,
    responses={200: Retention},
    errors=(400, 403, 404, 422),
)
async def set_retention(request: Request) -> Response:
    claims = await authenticate(request)
    room_id = _room(request)
    body = await read_json(request, RetentionBody)
    role = await member_role(request, room_id, claims.user_id)
    if role is None:
        raise NotFound("No such room.", code="room_not_found")
    if role not in MODERATORS and not claims.is_admin:
        raise Forbidden("Only the room's owners and admins set its retention.")
    seconds = body.days * DAY if body.days is not None else None
    await store_retention.set_room(request.app.state.pool, room_id, seconds)
    return await _answer(request, room_id)


class RetentionSweep:
    """Runs :meth:`sweep_once` every ``interval`` seconds until stopped."""

    def __init__(
        self, pool: asyncpg.Pool, *, global_days: int, interval: float, batch: int
    ) -> None:
        self.pool = pool
        self.global_seconds = global_days * DAY
        self.interval = interval
        self.batch = batch
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="retention-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                while await self.sweep_once():
                    pass
            except Exception as exc:
                # The next round tries again; the sweep must outlive a database hiccup.
                log.warning("retention_sweep_failed", error=type(exc).__name__)
            await asyncio.sleep(self.interval)

    async def sweep_once(self) -> int:
        """One batch from each room with expired messages; how many messages it removed."""
        rooms = await store_retention.expired_rooms(self.pool, self.global_seconds, ROOMS_PER_ROUND)
        removed = 0
        for room in rooms:
            async with self.pool.acquire() as conn, conn.transaction():
                ids = await store_retention.trim(conn, room["room_id"], room["keep"], self.batch)
            removed += len(ids)
        if removed:
            log.info("retention_removed", messages=removed, rooms=len(rooms))
        return removed
