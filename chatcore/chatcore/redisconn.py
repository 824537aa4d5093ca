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

import asyncio
import functools
import uuid
from collections.abc import Iterable
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


def packing_in_c(client: aioredis.Redis, *, at_once: bool = False) -> aioredis.Redis:
    """``client``, its connections packing commands with ``hiredis.pack_command``, in C, as
    redis-py's own synchronous client does. Its asyncio client packs in Python, at seven
    times the cost: 5% of message-service's CPU in the direct-rooms benchmark (a publish is
    a command), as much of the gateway's in a reconnect storm. Any connection class (TCP, TLS,
    a Unix socket) keeps its own behaviour otherwise. ``at_once``: each command is written
    in its caller's turn of the event loop too (:class:`_WritingAtOnce`)."""
    pool = client.connection_pool
    base: Any = pool.connection_class
    pool.connection_class = _packing_in_c(base, at_once)
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


class _WritingAtOnce(_PackingInC):
    """A connection that writes a command in the caller's turn of the event loop.

    With a socket timeout set (5 s by default), redis-py writes each command from a task of
    its own under ``asyncio.wait_for``, so the command waits a turn of the loop behind every
    task ready at that moment. For message-service's publisher that was the whole answer to
    the request whose messages it publishes: the PUBLISH left after the answer was
    serialised, written and logged (seen with strace). Only for a client with one
    command at a time: with many in flight, writing each at once costs more CPU than the
    turn it saves (measured: 62 -> 78 us per command at 50 in flight, 108 -> 100 at one).
    """

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        """As redis-py's, but the bytes go to the socket at once; only a full buffer waits,
        with the same timeout and the same errors."""
        conn: Any = self  # a redis-py connection: the mixin comes before its class
        if not conn.is_connected:
            await conn.connect_check_health(check_health=False)
        if check_health:
            await conn.check_health()
        if isinstance(command, str):
            command = command.encode()
        if isinstance(command, bytes):
            command = [command]
        writer: asyncio.StreamWriter = conn._writer
        try:
            writer.writelines(command)
            async with asyncio.timeout(conn.socket_timeout):
                await writer.drain()
        except TimeoutError:
            await conn.disconnect(nowait=True)
            raise RedisTimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            await conn.disconnect(nowait=True)
            raise RedisConnectionError(f"Error while writing to socket: {exc}") from exc
        except BaseException:
            # A write cut short (cancelled) leaves the stream in an unknown state.
            await conn.disconnect(nowait=True)
            raise


@functools.cache
def _packing_in_c(base: type[Any], at_once: bool = False) -> type[Any]:
    mixin = _WritingAtOnce if at_once else _PackingInC
    if issubclass(base, mixin):
        return base
    return type(f"{mixin.__name__[1:]}{base.__name__}", (mixin, base), {})


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
