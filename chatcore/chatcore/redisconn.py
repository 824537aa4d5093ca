"""The Redis client every service uses, and the names of the keys and channels they share.

All names start with the configured prefix. The channel payloads are described in
docs/events.md.
"""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


def create_redis(url: str, *, max_connections: int = 100) -> aioredis.Redis:
    """A pooled client that retries a command a few times across a reconnect.

    Past ``max_connections`` commands at once, a command waits for a free connection (up to
    5 s) instead of failing: a burst of load must queue, not error.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5,
        health_check_interval=15,
        socket_connect_timeout=3,
        socket_keepalive=True,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), 3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    return aioredis.Redis(connection_pool=pool)


class Names:
    """Redis key and channel names under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def room_channel(self, room_id: uuid.UUID | str) -> str:
        """Messages, edits, deletes, typing and presence of one room."""
        return f"{self.prefix}room:{room_id}"

    @property
    def membership_channel(self) -> str:
        """Every membership change of every room (docs/events.md)."""
        return f"{self.prefix}membership"

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)
