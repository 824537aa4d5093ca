"""The Redis client every service uses, and the names of the keys and channels they share.

All names start with the configured prefix. The channel payloads are described in
docs/events.md.

With ``REDIS_CLUSTER=true`` every process talks to a Redis Cluster instead of one server:
``REDIS_URL`` names any node and the client finds the others. Only auth-service's login
throttle touches several keys in one script, and its keys share the hash tag
``{auth-login}``; nothing else touches two keys at once, so no other key needs one. Channels
are sharded (``SPUBLISH``, and ``SSUBSCRIBE`` in :mod:`chatcore.pubsub`), so a room's channel
lives on the shard that owns its name's slot and only that shard carries its traffic.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any, TypeAlias

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

RedisClient: TypeAlias = aioredis.Redis | RedisCluster


def create_redis(url: str, *, cluster: bool = False, max_connections: int = 100) -> RedisClient:
    """A pooled client that retries a command a few times across a reconnect.

    Past ``max_connections`` commands at once, a command waits for a free connection (up to
    5 s) instead of failing: a burst of load must queue, not error. With ``cluster`` it is a
    cluster client (``max_connections`` per node; it follows MOVED and failovers itself).
    """
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.02), 3)
    errors: list[type[Exception]] = [RedisConnectionError, RedisTimeoutError]
    if cluster:
        return RedisCluster.from_url(
            url,
            max_connections=max_connections,
            socket_connect_timeout=3,
            socket_keepalive=True,
            retry=retry,
            retry_on_error=errors,
        )
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5,
        health_check_interval=15,
        socket_connect_timeout=3,
        socket_keepalive=True,
        retry=retry,
        retry_on_error=errors,
    )
    return packing_in_c(aioredis.Redis(connection_pool=pool))


def packing_in_c(client: aioredis.Redis) -> aioredis.Redis:
    """``client``, its connections packing commands with ``hiredis.pack_command``, in C, as
    redis-py's own synchronous client does. Its asyncio client packs in Python, at seven
    times the cost: 5% of message-service's CPU in the direct-rooms benchmark (a publish is
    a command), as much of the gateway's in a reconnect storm. Any connection class (TCP, TLS,
    a Unix socket) keeps its own behaviour otherwise."""
    pool = client.connection_pool
    base: Any = pool.connection_class
    pool.connection_class = _packing_in_c(base)
    return client


class _PackingInC:
    def pack_command(self, *args: Any) -> list[bytes]:
        # As redis-py's: a first argument with spaces ("CONFIG GET") is several words.
        if isinstance(args[0], str):
            args = (*args[0].encode().split(), *args[1:])
        elif b" " in args[0]:
            args = (*args[0].split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]
        except TypeError:
            # What hiredis does not take (a memoryview, or a value of no Redis type):
            # redis-py packs it, or raises the DataError it always did.
            return super().pack_command(*args)  # type: ignore[misc, no-any-return]


@functools.cache
def _packing_in_c(base: type[Any]) -> type[Any]:
    if issubclass(base, _PackingInC):
        return base
    return type(f"PackingInC{base.__name__}", (_PackingInC, base), {})


def publish_command(client: object) -> str:
    """``SPUBLISH`` for a cluster client or pipeline (the channel's shard only), else
    ``PUBLISH``: use it as ``client.execute_command(publish_command(client), channel, data)``.

    Classic ``PUBLISH`` on a cluster would copy every payload to every node over the cluster
    bus, and sharded subscribers (``SSUBSCRIBE``) would not see it at all.
    """
    return "SPUBLISH" if isinstance(client, RedisCluster | ClusterPipeline) else "PUBLISH"


class Names:
    """Redis key and channel names under one prefix.

    On a cluster the prefix must not contain ``{``: a hash tag in it would put every key and
    channel of the deployment in one slot, so on one shard.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def room_channel(self, room_id: uuid.UUID | str) -> str:
        """Messages, edits, deletes, typing and presence of one room."""
        return f"{self.prefix}room:{room_id}"

    @property
    def membership_channel(self) -> str:
        """Every membership change of every room (docs/events.md)."""
        return f"{self.prefix}membership"

    @property
    def profiles_channel(self) -> str:
        """Every change of a user's public profile (docs/events.md)."""
        return f"{self.prefix}profiles"

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)
