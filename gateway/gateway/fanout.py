"""One Redis pub/sub connection per process: room channels and the membership channel.

Channels are reference-counted by the delivery layer (subscribed for the first local
interest, unsubscribed after the last). ``subscribe`` returns once Redis confirmed it, so
a message published after that is seen. When the connection drops, the reader reconnects
with backoff, subscribes every channel again and reports the reconnect (anything published
meanwhile was lost: the caller checks every room for gaps and reloads memberships).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from chatcore.logs import get_logger
from chatcore.redisconn import Names
from gateway import metrics
from gateway.tasks import background

log = get_logger(__name__)

SUBSCRIBE_TIMEOUT = 5.0


class Fanout:
    """The process's pub/sub connection and what to call for each kind of payload."""

    def __init__(
        self,
        redis_url: str,
        names: Names,
        *,
        client_name: str | None = None,
        on_room: Callable[[str, bytes], None],
        on_membership: Callable[[bytes], None],
        on_reconnect: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        # No retries inside redis-py: a dropped connection must surface here, so we know
        # that publishes may have been lost.
        self.redis = aioredis.Redis.from_url(
            redis_url,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=3,
            socket_keepalive=True,
            client_name=client_name,
            health_check_interval=10,
        )
        self.names = names
        self.on_room = on_room
        self.on_membership = on_membership
        self.on_reconnect = on_reconnect
        self._room_prefix = names.room_channel("").encode()
        self._channels: set[str] = set()  # wanted
        self._sent: set[str] = set()  # subscribed on the current connection
        self._lock = asyncio.Lock()
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._pubsub: aioredis.client.PubSub | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def start(self) -> None:
        """Start the reader and give it a moment to connect (readyz says 503 until it has)."""
        self._task = asyncio.create_task(self._run())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), SUBSCRIBE_TIMEOUT)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self.redis.aclose()

    async def subscribe(self, room_id: str) -> None:
        """Subscribe the room's channel (if not yet) and wait for Redis' confirmation."""
        channel = self.names.room_channel(room_id)
        self._channels.add(channel)
        metrics.ROOMS.set(len(self._channels))
        waiter = self._confirmed.get(channel)
        if waiter is None:
            waiter = self._confirmed[channel] = asyncio.get_running_loop().create_future()
        await self._sync(channel)
        await asyncio.wait_for(asyncio.shield(waiter), SUBSCRIBE_TIMEOUT)

    def unsubscribe(self, room_id: str) -> None:
        """Drop the room's channel now; the UNSUBSCRIBE follows in order with other commands."""
        channel = self.names.room_channel(room_id)
        self._channels.discard(channel)
        metrics.ROOMS.set(len(self._channels))
        background(self._sync(channel))

    async def _sync(self, channel: str) -> None:
        # One command at a time, each deciding from the wanted state when it runs, so an
        # unsubscribe queued before a quick re-subscribe can never win over it.
        async with self._lock:
            pubsub = self._pubsub
            if pubsub is None or not self.connected:
                return  # the reconnect subscribes every wanted channel
            try:
                if channel in self._channels and channel not in self._sent:
                    self._sent.add(channel)
                    await pubsub.subscribe(channel)
                elif channel not in self._channels and channel in self._sent:
                    self._sent.discard(channel)
                    self._confirmed.pop(channel, None)
                    await pubsub.unsubscribe(channel)
            except (RedisError, OSError):
                log.warning("pubsub_command_failed")  # the reconnect puts things right

    async def _run(self) -> None:
        delay = 0.1
        first = True
        while True:
            try:
                await self._session(first)
            except (RedisError, OSError) as exc:
                log.warning("pubsub_lost", error=type(exc).__name__)
            self._connected.clear()
            first = False
            metrics.REDIS_RECONNECTS.inc()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _session(self, first: bool) -> None:
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        pubsub = self._pubsub = self.redis.pubsub()
        self._confirmed = {c: w for c, w in self._confirmed.items() if c in self._channels}
        for channel in self._channels:
            waiter = self._confirmed.get(channel)
            if waiter is None or waiter.done():
                self._confirmed[channel] = asyncio.get_running_loop().create_future()
        async with self._lock:
            self._sent = set(self._channels)
            await pubsub.subscribe(self.names.membership_channel, *self._sent)
        self._connected.set()
        if not first:
            log.info("pubsub_reconnected", channels=len(self._channels))
            background(self.on_reconnect())
        async for message in pubsub.listen():
            kind = message["type"]
            channel = message["channel"]
            if kind == "message":
                self._dispatch(channel, message["data"])
            elif kind == "subscribe":
                waiter = self._confirmed.get(channel.decode())
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)

    def _dispatch(self, channel: bytes, data: bytes) -> None:
        # A handler error must not end the reader: every room shares it.
        try:
            if channel.startswith(self._room_prefix):
                self.on_room(channel[len(self._room_prefix) :].decode(), data)
            else:
                self.on_membership(data)
        except Exception:
            log.exception("dispatch_failed")
