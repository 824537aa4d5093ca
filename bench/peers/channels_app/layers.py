"""channels_redis' RedisChannelLayer with a Redis client that works under redis-py 8.

redis-py 8 changed client defaults that channels_redis 4.3 (the latest) relies on
(django/channels_redis#422, redis/redis-py#4091 and #4082):

- a 5 s read timeout (there was none): the layer's receive is a BZPOPMIN that blocks up to 5 s,
  so on a quiet layer the read times out first and the consumer holding the receive lock dies
  with "Timeout reading from" (its socket closes with 1006). The settings give the connections
  no read timeout again (and no connect timeout, as before), the fix channels_redis' users apply.
- a pool of at most 100 connections that raises "Too many connections" past it (there was no
  cap): then every ``group_add``, ``group_send`` or ``group_discard`` beyond the hundredth
  under way in a process ends its consumer. Here the pool waits for a free connection instead
  (redis-py's ``BlockingConnectionPool``, as the python-socketio peer does); channels_redis
  builds the pool itself, hence this subclass.
"""

from __future__ import annotations

from typing import Any

from channels_redis.core import RedisChannelLayer
from redis import asyncio as aioredis


class WaitingPoolRedisChannelLayer(RedisChannelLayer):  # type: ignore[misc]
    """A RedisChannelLayer whose pools wait for a free connection rather than raise.

    Each host is a dict with ``address`` (a URL), ``max_connections`` and the other keyword
    arguments of ``BlockingConnectionPool`` (``timeout=None`` waits as long as it takes)."""

    def create_pool(self, index: int) -> aioredis.BlockingConnectionPool:
        options: dict[str, Any] = dict(self.hosts[index])
        return aioredis.BlockingConnectionPool.from_url(options.pop("address"), **options)
