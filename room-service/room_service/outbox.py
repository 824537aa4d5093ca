"""The transactional outbox of membership events (docs/events.md).

A change writes its events into ``rooms.outbox`` in its own transaction, so an event exists
if and only if its change committed. Right after the commit the request publishes the room's
waiting events in order and deletes them (still holding the room's turn, so a room's events
go out in version order). If that publish fails (Redis down, a connection killed), the rows
stay, and the relay that runs in every replica publishes them: every ``interval`` it takes
the rows older than ``age`` with ``FOR UPDATE SKIP LOCKED``, so replicas never publish the same
row at once, publishes them oldest first and deletes what went out. A publish may repeat (a
crash between publish and delete); consumers ignore a version they have seen.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import asyncpg

from chatcore import jsonutil
from chatcore.logs import get_logger
from room_service import store
from room_service.events import Event, Publisher

log = get_logger(__name__)

# Rows the relay publishes per round.
BATCH = 200


# The longest a relay waits between rounds after failed publishes (seconds).
MAX_BACKOFF = 0.5


class Outbox:
    """Records events with their change and sees them published."""

    def __init__(
        self, pool: asyncpg.Pool, publisher: Publisher, *, interval: float, age: float
    ) -> None:
        self.pool = pool
        self.publisher = publisher
        self.interval = interval
        self.age = age

    async def record(self, conn: store.Conn, events: Sequence[Event]) -> None:
        """Write the events in the caller's transaction (the change's own)."""
        if events:
            await conn.executemany(
                store.INSERT_OUTBOX,
                [(e["room_id"], e["type"], e["version"], jsonutil.dumps(e)) for e in events],
            )

    async def flush(self, conn: store.Conn, room_id: uuid.UUID) -> None:
        """After the commit: publish the room's waiting events, oldest first."""
        try:
            async with conn.transaction():
                await self._publish(conn, await conn.fetch(store.ROOM_OUTBOX, room_id))
        except (asyncpg.PostgresError, OSError) as exc:
            # The change stands and its events wait in the outbox for the relay.
            log.warning("outbox_flush_failed", room_id=str(room_id), error=type(exc).__name__)

    async def relay_once(self) -> bool:
        """Publish the events whose own publish failed; False if some could not go out."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(store.DUE_OUTBOX, self.age, BATCH)
            return await self._publish(conn, rows) == len(rows)

    async def run(self) -> None:
        # A replica whose own Redis link is down holds the due rows (FOR UPDATE) while each of
        # its publishes times out; it backs off, so a replica that can publish takes them.
        failures = 0
        while True:
            await asyncio.sleep(min(MAX_BACKOFF, self.interval * 2**failures))
            try:
                failures = 0 if await self.relay_once() else min(failures + 1, 8)
            except Exception as exc:  # Postgres or Redis down: the next round tries again.
                failures = min(failures + 1, 8)
                log.warning("outbox_relay_failed", error=type(exc).__name__)

    async def _publish(self, conn: store.Conn, rows: list[asyncpg.Record]) -> int:
        if not rows:
            return 0
        sent = await self.publisher.publish_rows(rows)
        if sent:
            await conn.execute(store.DELETE_OUTBOX, [row["id"] for row in rows[:sent]])
        return sent
