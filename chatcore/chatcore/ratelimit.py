"""Token buckets: one in Redis shared by every replica, one in memory for a single connection.

Both allow ``burst`` actions at once and refill at ``rate`` per second.
"""

from __future__ import annotations

import time

from redis.asyncio.cluster import RedisCluster

from chatcore.errors import RateLimited
from chatcore.redisconn import RedisClient

# KEYS the buckets (a key may repeat), ARGV rate, burst, then one cost per key: takes each
# cost in order and answers each wait (0: taken), as strings. Redis' own clock keeps replicas
# consistent. One script call for a whole batch of sends on a single Redis; on a cluster the
# keys of one script must share a slot, so there each take is its own call in a pipeline.
_BUCKETS_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local ttl = math.ceil(burst / rate * 1000) + 1000
local waits = {}
for i, key in ipairs(KEYS) do
  local cost = tonumber(ARGV[2 + i])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1]) or burst
  local at = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
  local wait = 0
  if tokens >= cost then
    tokens = tokens - cost
  else
    wait = (cost - tokens) / rate
  end
  redis.call('HSET', key, 'tokens', tokens, 'at', now)
  redis.call('PEXPIRE', key, ttl)
  waits[i] = tostring(wait)
end
return waits
"""


class RedisRateLimiter:
    """A token bucket per key in Redis, shared by every replica of a service."""

    def __init__(self, redis: RedisClient, prefix: str, *, rate: float, burst: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.rate = rate
        self.burst = burst
        self._many = redis.register_script(_BUCKETS_LUA)
        self._cluster = isinstance(redis, RedisCluster)

    async def wait_time(self, key: str, cost: int = 1) -> float:
        """Take ``cost`` tokens; 0 if allowed, else seconds until it would be."""
        (wait,) = await self.wait_times([(key, cost)])
        return wait

    async def wait_times(self, takes: list[tuple[str, int]]) -> list[float]:
        """Take each ``(key, cost)`` in order (a key may repeat); the waits, as
        :meth:`wait_time` gives them, in one round trip."""
        if not takes:
            return []
        if self._cluster and len(takes) > 1:
            pipe = self.redis.pipeline(transaction=False)
            for key, cost in takes:
                # EVAL, not the registered script: redis-py checks a pipeline's scripts with a
                # round trip of its own (SCRIPT EXISTS), and a cluster pipeline refuses
                # EVALSHA. Redis caches the script by its hash, so sending it costs its bytes.
                pipe.execute_command(
                    "EVAL", _BUCKETS_LUA, 1, self.prefix + key, self.rate, self.burst, cost
                )
            return [float(waits[0]) for waits in await pipe.execute()]
        waits = await self._many(
            keys=[self.prefix + key for key, _ in takes],
            args=[self.rate, self.burst, *(cost for _, cost in takes)],
        )
        return [float(w) for w in waits]

    async def check(self, key: str, cost: int = 1) -> None:
        """Take ``cost`` tokens or raise :class:`RateLimited` with the time to wait."""
        wait = await self.wait_time(key, cost)
        if wait > 0:
            raise RateLimited(wait)


class TokenBucket:
    """An in-memory token bucket for one connection (no locking: one event loop owns it)."""

    __slots__ = ("at", "burst", "rate", "tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.at = time.monotonic()

    def take(self, cost: float = 1.0, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        # A refill of exactly ``cost`` can land a hair below it in floating point.
        if self.tokens >= cost - 1e-9:
            self.tokens = max(0.0, self.tokens - cost)
            return True
        return False

    def wait(self, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are there (as of the last :meth:`take`)."""
        return max(0.0, (cost - self.tokens) / self.rate)
