"""Membership events (docs/events.md): their shape, and publishing them after commit.

The store builds one event per change inside the transaction that makes it (so each carries
the version that transaction gave the room); the route records them in the outbox in that
transaction and publishes them once it has committed (room_service/outbox.py). A publish
that fails is logged and counted, never raised: the change stands, and the outbox relay
publishes the event when Redis answers again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from prometheus_client import Counter
from redis.exceptions import RedisError

from chatcore.events import MembershipEventType as T
from chatcore.logs import get_logger
from chatcore.redisconn import RedisClient, publish_command

log = get_logger(__name__)

PUBLISHED = Counter(
    "rooms_membership_events_total", "Membership events published, by type.", ["type"]
)
PUBLISH_FAILURES = Counter(
    "rooms_membership_publish_failures_total",
    "Membership event publishes that failed (Redis down or too slow); the relay retries.",
    ["type"],
)

ROOM_FIELDS = ("id", "kind", "title", "created_by", "created_at", "member_count", "visibility")
Event = dict[str, Any]


class Row(Protocol):
    """A database row (asyncpg.Record) or a dict: read by column name."""

    def __getitem__(self, key: str, /) -> Any: ...


def _event(kind: T, room: Row, actor: uuid.UUID, **fields: Any) -> Event:
    """``room`` is the room row after the change, with its new ``version`` and ``at``."""
    return {
        "type": kind.value,
        "room_id": room["id"],
        "version": room["version"],
        "actor_id": actor,
        "at": room["at"],
        "room": {name: room[name] for name in ROOM_FIELDS},
        **fields,
    }


def _member(row: Row) -> dict[str, Any]:
    return {"user_id": row["user_id"], "role": row["role"], "joined_at": row["joined_at"]}


def room_created(room: Row, actor: uuid.UUID, members: Sequence[Row]) -> Event:
    return _event(T.ROOM_CREATED, room, actor, members=[_member(m) for m in members])


def member_added(room: Row, actor: uuid.UUID, member: Row) -> Event:
    return _event(T.MEMBER_ADDED, room, actor, **_member(member))


def member_removed(room: Row, actor: uuid.UUID, user_id: uuid.UUID) -> Event:
    return _event(T.MEMBER_REMOVED, room, actor, user_id=user_id)


def role_changed(room: Row, actor: uuid.UUID, member: Row) -> Event:
    return _event(T.ROLE_CHANGED, room, actor, user_id=member["user_id"], role=member["role"])


def room_updated(room: Row, actor: uuid.UUID) -> Event:
    return _event(T.ROOM_UPDATED, room, actor)


def member_muted(room: Row, actor: uuid.UUID, user_id: uuid.UUID, until: Any) -> Event:
    """A mute set (``muted_until`` a time) or lifted (None)."""
    return _event(T.MEMBER_MUTED, room, actor, user_id=user_id, muted_until=until)


class Publisher:
    """Publishes membership events to ``{prefix}membership``, in order, after commit."""

    def __init__(self, redis: RedisClient, channel: str, *, timeout: float) -> None:
        self.redis = redis
        # SPUBLISH on a cluster: the channel lives on the one shard that owns its slot.
        self.command = publish_command(redis)
        self.channel = channel
        self.timeout = timeout
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def ordered(self, room_id: uuid.UUID | str) -> AsyncIterator[None]:
        """Hold around "change, commit, publish" so one process publishes a room's events in
        version order: two changes of a room otherwise race from commit to publish."""
        key = str(room_id)
        lock, holders = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, holders + 1)
        try:
            async with lock:
                yield
        finally:
            lock, holders = self._locks[key]
            if holders == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, holders - 1)

    async def publish_rows(self, rows: Sequence[Row]) -> int:
        """Publish outbox rows in order, retrying briefly; give up after ``timeout`` seconds.
        How many were published (the rest stay in the outbox for the relay)."""
        deadline = time.monotonic() + self.timeout
        for index, row in enumerate(rows):
            if not await self._publish_one(bytes(row["payload"]), deadline):
                for lost in rows[index:]:
                    PUBLISH_FAILURES.labels(lost["type"]).inc()
                    log.warning(
                        "membership_publish_failed",
                        room_id=str(lost["room_id"]),
                        type=lost["type"],
                        version=lost["version"],
                    )
                return index
            PUBLISHED.labels(row["type"]).inc()
        return len(rows)

    async def _publish_one(self, payload: bytes, deadline: float) -> bool:
        delay = 0.02
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                async with asyncio.timeout(remaining):
                    await self.redis.execute_command(self.command, self.channel, payload)
                return True
            except (RedisError, OSError, TimeoutError):
                pass
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.2)
