"""The periodic check that finds a lost publish with no later message behind it.

Every ``interval`` seconds (staggered per room), a room with local connections that has been
silent that long is checked: message-service is asked for its last change position (one small
request, at most 8 at once) and the feed is filled if it is behind, so a lost publish of any
change (a message, an edit, a reaction) is found even when nothing follows it. After a
pub/sub reconnect each room of the reconnected connection is checked at once
(gateway.subscriptions).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from chatcore.errors import ChatError
from gateway.delivery import Delivery, any_token
from gateway.tasks import background

# Where a room stands now, ``(last_seq, last_pos)``: the batched read (gateway.connect).
Positions = Callable[[str], Awaitable[tuple[int, int]]]


class GapCheck:
    """Checks silent rooms of one process against message-service's newest seq."""

    def __init__(
        self, delivery: Delivery, interval: float, positions: Positions | None = None
    ) -> None:
        self.delivery = delivery
        self.interval = interval
        # With it, the checks of a moment are one call for all their rooms (a thousand
        # silent rooms cost one call every few seconds, not two hundred a second).
        self.positions = positions
        self._slots = asyncio.Semaphore(8)

    async def check(self, room_id: str) -> None:
        """Fill the room's feed if message-service has a newer change than it delivered."""
        feed = self.delivery.feeds.get(room_id)
        if feed is None or feed.pos is None or feed.filling:
            return
        if self.positions is not None:
            try:
                _, last_pos = await self.positions(room_id)
            except (ChatError, KeyError, TypeError, ValueError):
                pass  # asked one room at a time below
            else:
                self.delivery.fill_to(feed, last_pos)
                return
        token = any_token(feed)
        if token is None:
            return
        async with self._slots:
            try:
                page = await self.delivery.upstream.changes(token, room_id, feed.pos, limit=1)
                last_pos = int(page["last_pos"])
            except (ChatError, KeyError, TypeError, ValueError):
                return
        self.delivery.fill_to(feed, last_pos)

    async def run(self) -> None:
        """Check, every few seconds, the rooms that have been silent for an interval."""
        while True:
            await asyncio.sleep(min(1.0, self.interval))
            now = time.monotonic()
            for feed in list(self.delivery.feeds.values()):
                if feed.idle():
                    continue
                if feed.next_check == 0.0:
                    # Spread first checks over an interval so rooms do not go in lockstep.
                    feed.next_check = now + self.interval * random.random()  # noqa: S311
                if feed.next_check > now:
                    continue
                feed.next_check = now + self.interval * (1 + 0.2 * random.random())  # noqa: S311
                if now - feed.last_event >= self.interval:
                    background(self.check(feed.room_id))
