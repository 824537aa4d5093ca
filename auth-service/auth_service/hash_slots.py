"""The few threads that compute password hashes, and a bounded, prioritised wait for them.

argon2 is slow on purpose (tens of milliseconds and 19 MiB each), so only a few hashes run at
once. A caller that finds them busy waits in line (for ``max_wait`` seconds at most), but the line
is short: past
``queue_limit`` waiters the answer is 503 with Retry-After at once, instead of a queue that
grows for as long as a flood lasts. Logins are served before registrations, and a
registration may join the line only while it is under a quarter full, so a registration
flood cannot starve the logins of existing users.
"""

from __future__ import annotations

import asyncio
from collections import deque
from enum import IntEnum

from chatcore.errors import Unavailable


class Priority(IntEnum):
    LOGIN = 0
    REGISTER = 1


class HashingBusy(Unavailable):
    """Every hashing slot is taken and the line for them is full."""

    def __init__(self) -> None:
        super().__init__("The service is busy; try again in a moment.", code="busy")

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class HashSlots:
    """A semaphore of ``concurrency`` slots with a bounded line of waiters per priority."""

    def __init__(self, concurrency: int, queue_limit: int, max_wait: float = 10.0) -> None:
        self.free = concurrency
        self.queue_limit = queue_limit
        # Logins go first, so under a steady stream of them a registration could wait for
        # ever: no one waits longer than this, and then gets the same 503.
        self.max_wait = max_wait
        self._lines: dict[Priority, deque[asyncio.Future[None]]] = {p: deque() for p in Priority}

    @property
    def waiting(self) -> int:
        return sum(len(line) for line in self._lines.values())

    def _limit(self, priority: Priority) -> int:
        if priority is Priority.LOGIN:
            return self.queue_limit
        return max(1, self.queue_limit // 4)

    def check(self, priority: Priority) -> None:
        """Raise :class:`HashingBusy` now if a caller of this priority could not wait in line.

        Lets a caller refuse before doing any other work for a request it could not serve.
        """
        if not (self.free > 0 and not self.waiting) and self.waiting >= self._limit(priority):
            raise HashingBusy()

    async def acquire(self, priority: Priority) -> None:
        """Take a slot, waiting in line if there is room in it; :class:`HashingBusy` if not."""
        if self.free > 0 and not self.waiting:
            self.free -= 1
            return
        self.check(priority)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._lines[priority].append(future)
        try:
            async with asyncio.timeout(self.max_wait):
                await future
        except TimeoutError:
            if future.done() and not future.cancelled():
                return  # the slot was handed over just as the time ran out: keep it
            self._lines[priority].remove(future)
            raise HashingBusy() from None
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the slot was handed over just as the caller gave up
            else:
                self._lines[priority].remove(future)
            raise

    def release(self) -> None:
        """Hand the slot to the first waiter by priority, or free it."""
        for priority in Priority:
            line = self._lines[priority]
            while line:
                future = line.popleft()
                if not future.done():
                    future.set_result(None)
                    return
        self.free += 1
