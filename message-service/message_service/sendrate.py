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

from chatcore.drain import Drain
from chatcore.ratelimit import RedisRateLimiter
from chatcore.redisconn import RedisClient

# Checks per round trip: a batch call brings up to 256, a lone send one.
ROUND_MAX = 1024

_Check = tuple[list[tuple[str, int]], asyncio.Future[list[float]]]


class SendRateLimiter(RedisRateLimiter):
    """A :class:`RedisRateLimiter` whose concurrent checks are pipelined together."""

    def __init__(self, redis: RedisClient, prefix: str, *, rate: float, burst: int) -> None:
        super().__init__(redis, prefix, rate=rate, burst=burst)
        self._drain: Drain[_Check] = Drain(self._check_round, name="send-rate", max_batch=ROUND_MAX)

    async def wait_time(self, key: str, cost: int = 1) -> float:
        """Take ``cost`` tokens; 0 if allowed, else seconds until it would be."""
        (wait,) = await self.wait_times([(key, cost)])
        return wait

    async def wait_times(self, takes: list[tuple[str, int]]) -> list[float]:
        """Take each ``(key, cost)`` in order, in the next round trip together with every
        other check waiting for one."""
        if not takes:
            return []
        future: asyncio.Future[list[float]] = asyncio.get_running_loop().create_future()
        self._drain.put((takes, future))
        return await future

    async def _check_round(self, batch: list[_Check]) -> None:
        try:
            waits = await super().wait_times([take for takes, _ in batch for take in takes])
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        at = 0
        for takes, future in batch:
            if not future.done():
                future.set_result(waits[at : at + len(takes)])
            at += len(takes)
