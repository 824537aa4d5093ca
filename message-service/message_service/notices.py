"""Membership notices in a room's change stream: who joined, left or was removed, and by whom.

room-service publishes each membership change on ``{p}membership`` (docs/events.md). Every
message-service replica hears it; each stores ``member_added`` and ``member_removed`` as a
change of kind ``membership`` at the room's next position (the event's room ``version`` makes
the row unique, so only one replica's insert counts) and publishes the frame on the room's
channel. So every member sees the notice live, and every reload reads it back from
``GET /messages/changes`` (with ``kind=membership``, just the notices). Notices take a
position, never a message ``seq``: message seqs stay gap-free.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import asyncpg

from chatcore import jsonutil
from chatcore.logs import get_logger
from message_service import store_notices
from message_service.publisher import Publisher, change_event

log = get_logger(__name__)

# room-service event type -> what the notice says happened.
CHANGES = {"member_added": "joined", "member_removed": "left"}


def notice_frame(room_id: Any, pos: int, seq_at: int, data: dict[str, Any]) -> dict[str, Any]:
    """``membership``: ``change`` ("joined" or "left"), whose (``user_id``), who made it
    (``by``: the user themself when joining or leaving on their own), when (``at``), and the
    room's last message seq then (``seq_at``), which places it among the messages."""
    return {
        "type": "membership",
        "pos": pos,
        "room_id": str(room_id),
        "change": data["change"],
        "user_id": data["user_id"],
        "by": data.get("by"),
        "at": data.get("at"),
        "seq_at": seq_at,
    }


class Notices:
    """Stores and publishes the notices of membership events, for one process."""

    def __init__(self, pool: asyncpg.Pool, publisher: Publisher) -> None:
        self.pool = pool
        self.publisher = publisher
        # One worker, events in arrival order: a room's notices take positions in the order
        # room-service made the changes.
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def on_payload(self, payload: bytes) -> None:
        """A membership-channel payload (called by the membership listener)."""
        self._queue.put_nowait(payload)

    async def _run(self) -> None:
        while True:
            payload = await self._queue.get()
            try:
                await self.on_event(payload)
            except Exception as exc:  # one bad event must not stop the notices of all rooms
                log.warning("notice_failed", error=type(exc).__name__)

    async def on_event(self, payload: bytes) -> None:
        try:
            event = jsonutil.loads(payload)
            change = CHANGES.get(event.get("type"))
            if change is None:
                return
            room_id = uuid.UUID(str(event["room_id"]))
            version = int(event["version"])
            data = {
                "change": change,
                "user_id": str(uuid.UUID(str(event["user_id"]))),
                "by": str(event["actor_id"]) if event.get("actor_id") else None,
                "at": event.get("at"),
            }
        except (ValueError, TypeError, KeyError, AttributeError):
            return  # the membership cache logs unreadable events
        try:
            stored = await store_notices.record(self.pool, room_id, version, data)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("notice_not_stored", room_id=str(room_id), error=type(exc).__name__)
            return
        if stored is not None:
            pos, seq_at = stored
            frame = notice_frame(room_id, pos, seq_at, data)
            self.publisher.publish([change_event(room_id, 0, frame)])
