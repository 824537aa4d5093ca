"""Turns for connects: at most so many at once, the others waiting in a queue that is served
oldest first while it moves, and newest first once it has backed up.

A connect whose client gave up is worth nothing: the client has closed the socket and will
come back later. Clients give up after a while (the web client and the reconnect advice of
docs/protocol.md: 10 s without ``ready``), so when connects arrive faster than they are
served (a reconnect storm after a restart), a first-come queue grows until every connect at
its head has waited about as long as its client was willing to: each is served just too late,
nearly all the work is wasted, and the clients come back to do it again. Served newest first,
the connects that are served are those whose clients still wait, and the ones that gave up
are found gone when their turn comes and cost nothing more (adaptive LIFO, as in Facebook's
"Fail at Scale", ACM Queue 13(8), 2015).
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType


class Turns:
    """An async context manager that lets ``limit`` holders in at once."""

    def __init__(self, limit: int, *, newest_first_after: float) -> None:
        self.free = limit
        # While the oldest waiter has waited less than this, the queue is first come, first
        # served; once it has waited longer, the newest waiter goes first.
        self.newest_first_after = newest_first_after
        self._waiters: deque[tuple[float, asyncio.Future[None]]] = deque()

    @property
    def waiting(self) -> int:
        """Waiters in the queue (some may have been cancelled and not yet skipped)."""
        return len(self._waiters)

    def oldest_wait(self) -> float:
        """Seconds the oldest waiter has waited (0 with none waiting)."""
        if not self._waiters:
            return 0.0
        return asyncio.get_running_loop().time() - self._waiters[0][0]

    async def __aenter__(self) -> None:
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiters.append((loop.time(), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # the turn came with the cancellation: pass it on
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()

    def _release(self) -> None:
        waiters = self._waiters
        while waiters:
            since, _ = waiters[0]
            if asyncio.get_running_loop().time() - since > self.newest_first_after:
                _, future = waiters.pop()
            else:
                _, future = waiters.popleft()
            if not future.done():  # a cancelled waiter is skipped
                future.set_result(None)
                return
        self.free += 1
