"""The per-user send limit, with the checks of concurrent sends sharing one Redis round trip.

Each send takes a token from its sender's bucket (chatcore's token bucket in Redis, shared by
every replica). Checked one command each, a busy process would make a Redis round trip per
send and hold a Redis connection per send in flight (redis-py's pool stops at 100, and a
check that cannot get a connection would wave the send through). So, as with group commit,
the checks that arrive while one round trip is in flight go together in the next one: one
script call for all of them on a single Redis, a pipeline on a cluster.
"""

from __future__ import annotations

import asyncio

from chatcore.ratelimit import RedisRateLimiter
from chatcore.redisconn import RedisClient


class SendRateLimiter(RedisRateLimiter):
    """A :class:`RedisRateLimiter` whose concurrent checks are pipelined together."""

    _waiting: list[tuple[list[tuple[str, int]], asyncio.Future[list[float]]]]
    _task: asyncio.Task[None] | None

    def __init__(self, redis: RedisClient, prefix: str, *, rate: float, burst: int) -> None:
        super().__init__(redis, prefix, rate=rate, burst=burst)
        self._waiting = []
        self._task = None

    async def wait_time(self, key: str, cost: int = 1) -> float:
        """Take ``cost`` tokens; 0 if allowed, else seconds until it would be."""
        (wait,) = await self.wait_times([(key, cost)])
        return wait

    async def wait_times(self, takes: list[tuple[str, int]]) -> list[float]:
        """Take each ``(key, cost)`` in order, in the next round trip with every other
        check waiting for it."""
        if not takes:
            return []
        future: asyncio.Future[list[float]] = asyncio.get_running_loop().create_future()
        self._waiting.append((takes, future))
        if self._task is None:
            self._task = asyncio.create_task(self._check_waiting())
        return await future

    async def _check_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    waits = await super().wait_times([t for takes, _ in batch for t in takes])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                at = 0
                for takes, future in batch:
                    if not future.done():
                        future.set_result(waits[at : at + len(takes)])
                    at += len(takes)
        finally:
            self._task = None
