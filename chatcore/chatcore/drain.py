"""A queue drained in rounds: what arrives while a round is in flight goes in the next one.

Group commit, publishing after commit, the per-user send checks and the gateway's forwarding
of sends all pay one round trip (a transaction, a pipeline, a script call, an HTTP call) per
round rather than per item: light load pays no delay (a lone item starts a round at once),
heavy load pays one round trip per batch. :class:`Drain` is that mechanism once; what a round
does with its items is the caller's ``handle``.

A round is a task started when there is something to take and fewer than ``rounds`` are in
flight; it takes its items when it starts, so every item queued in the same turn of the event
loop goes together, and takes again as soon as it has handled them, until nothing is left.
No task runs while the queue is empty.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from chatcore.logs import get_logger

log = get_logger(__name__)

T = TypeVar("T")


def take_first(queue: deque[T], limit: int) -> list[T]:
    """The default take: the first ``limit`` items, in queue order."""
    count = min(len(queue), limit)
    return [queue.popleft() for _ in range(count)]


class Drain(Generic[T]):
    """Items queued with :meth:`put` and handed to ``handle`` in batches of at most
    ``max_batch``, at most ``rounds`` batches at once.

    ``take`` picks a round's items from the queue (default: the first ``max_batch``); one
    that leaves items behind must call :meth:`wake` once they may be taken. ``handle`` must
    not raise: an exception escaping it is logged, and the items of its round are lost.
    """

    def __init__(
        self,
        handle: Callable[[list[T]], Awaitable[None]],
        *,
        name: str,
        max_batch: int,
        rounds: int = 1,
        take: Callable[[deque[T], int], list[T]] = take_first,
    ) -> None:
        self.queue: deque[T] = deque()
        self.name = name
        self.max_batch = max_batch
        self.rounds = rounds
        self._handle = handle
        self._take = take
        self._running = 0  # rounds started and not finished
        self._starting = False  # a round is started but has not taken its items yet
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()  # no round in flight
        self._idle.set()
        self._stopped = False

    def __len__(self) -> int:
        return len(self.queue)

    def put(self, item: T) -> None:
        """Queue ``item`` for the next round; returns at once."""
        self.queue.append(item)
        self.wake()

    def wake(self) -> None:
        """Start a round if there is something to take and a round may start."""
        if self._starting or self._stopped or not self.queue or self._running >= self.rounds:
            return
        self._starting = True
        self._running += 1
        self._idle.clear()
        task = asyncio.get_running_loop().create_task(self._round(), name=self.name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _round(self) -> None:
        try:
            self._starting = False
            # A round goes on taking while there is something it may take: the next batch
            # starts as soon as this one is handled, without a turn of the event loop.
            while batch := self._take(self.queue, self.max_batch):
                self.wake()  # more waiting and a round free: it starts alongside
                try:
                    await self._handle(batch)
                except Exception:
                    # The rounds serve every later item: they must outlive any one batch.
                    log.exception("drain_round_failed", drain=self.name, items=len(batch))
        finally:
            # A round that can take nothing ends; whatever held items back (a busy lane)
            # calls wake() when it lets them go.
            self._running -= 1
            if self._running == 0:
                self._idle.set()

    async def drained(self) -> None:
        """Return once nothing is queued or in flight."""
        while self.queue or self._running:
            self.wake()
            await self._idle.wait()
            await asyncio.sleep(0)

    async def stop(self, grace: float) -> list[T]:
        """Let the queue drain for at most ``grace`` seconds, then cancel the rounds in
        flight; the items never taken (the caller answers them)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drained(), grace)
        self._stopped = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        left = list(self.queue)
        self.queue.clear()
        return left
