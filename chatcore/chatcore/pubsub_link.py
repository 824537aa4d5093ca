"""One pub/sub connection to one Redis shard (:class:`Link`), for :mod:`chatcore.pubsub`:
it connects, subscribes what its :class:`~chatcore.pubsub.Subscriber` wants there, reads the
replies and hands each to it, and reconnects with backoff when the connection drops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import hiredis
import redis.asyncio as aioredis
from redis._parsers.hiredis import NOT_ENOUGH_DATA
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from chatcore.logs import get_logger

if TYPE_CHECKING:
    from chatcore.pubsub import Subscriber

log = get_logger(__name__)

# Channels per SUBSCRIBE command.
CHUNK = 500
# Bytes per read of a pub/sub connection, and seconds of silence before it is checked.
READ_SIZE = 65536
HEALTH_INTERVAL = 10.0


class ChannelMoved(RedisError):
    """Redis ended a subscription we still want: its slot moved to another shard."""


def _by_slot(channels: list[str]) -> list[list[str]]:
    """The channels grouped by hash slot: one SSUBSCRIBE (SUNSUBSCRIBE) names one slot's."""
    groups: dict[int, list[str]] = {}
    for channel in channels:
        groups.setdefault(key_slot(channel.encode()), []).append(channel)
    return list(groups.values())


class Link:
    """One pub/sub connection (to one shard) and the channels it carries."""

    def __init__(self, owner: Subscriber, node: str, url: str) -> None:
        self.owner = owner
        self.node = node
        # No retries inside redis-py: a dropped connection must surface here, so the loss is
        # reported. RESP2: under RESP3 (redis-py's default) every message is a push that
        # redis-py formats into a debug log line whether or not it is logged (a tenth of the
        # gateway's CPU in the direct-rooms benchmark).
        self.client = aioredis.Redis.from_url(
            url,
            protocol=2,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=3,
            socket_keepalive=True,
            client_name=owner.client_name,
            health_check_interval=HEALTH_INTERVAL,
        )
        self.channels: set[str] = set()  # wanted here
        self.sent: set[str] = set()  # subscribed on the current connection
        self.unsubscribing: dict[str, int] = {}  # our unsubscribes not yet confirmed
        self.pubsub: aioredis.client.PubSub | None = None
        self.up = asyncio.Event()
        self.was_up = False
        self.wake = asyncio.Event()
        self.lock = asyncio.Lock()
        self.dirty = False  # the wanted channels changed since the last sync began
        self.syncer: asyncio.Task[None] | None = None
        self.last_read = 0.0  # the loop's time of the connection's last read

    def request_sync(self) -> None:
        """Make the connection match the wanted channels soon. Every change made before the
        sync runs (all of one loop iteration's, and all made while a command goes out) is
        sent as one SUBSCRIBE and one UNSUBSCRIBE: a reconnect storm subscribes a thousand
        rooms within a second, and one command each, taken in turns, cost a loop iteration
        per channel (seconds per connect once the loop was busy)."""
        self.dirty = True
        if self.syncer is None:
            self.syncer = self.owner._spawn(self._sync())

    async def _sync(self) -> None:
        # The commands go one at a time, each deciding from the wanted state when it runs:
        # an unsubscribe and a quick re-subscribe of a live channel send nothing at all.
        try:
            async with self.lock:
                while self.dirty:
                    self.dirty = False
                    pubsub = self.pubsub
                    if pubsub is None or not self.up.is_set():
                        return  # the next connection subscribes every wanted channel
                    drop = [c for c in self.sent if c not in self.channels]
                    add = [c for c in self.channels if c not in self.sent]
                    try:
                        if drop:
                            await self._unsubscribe(pubsub, drop)
                        if add:
                            self.sent.update(add)
                            await self._send(pubsub, add, subscribe=True)
                    except (RedisError, OSError):
                        log.warning("pubsub_command_failed", node=self.node)  # reconnect fixes it
        finally:
            self.syncer = None

    async def _unsubscribe(self, pubsub: aioredis.client.PubSub, channels: list[str]) -> None:
        for channel in channels:
            self.sent.discard(channel)
            # Only now does the channel leave Redis, so only now may its confirmation go: a
            # subscribe that came back before this found the channel still live and sent
            # nothing, and must not wait for a confirmation that never comes.
            waiter = self.owner._confirmed.pop(channel, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            self.unsubscribing[channel] = self.unsubscribing.get(channel, 0) + 1
        await self._send(pubsub, channels, subscribe=False)

    async def _send(
        self, pubsub: aioredis.client.PubSub, channels: list[str], *, subscribe: bool
    ) -> None:
        """(UN)SUBSCRIBE the channels, in chunks; on a cluster (S(UN)SUBSCRIBE) one command
        per hash slot, as Redis wants."""
        send: Callable[..., Awaitable[Any]]
        if self.owner.cluster:
            send = pubsub.ssubscribe if subscribe else pubsub.sunsubscribe
            groups = _by_slot(channels)
        else:
            send = pubsub.subscribe if subscribe else pubsub.unsubscribe
            groups = [channels[start : start + CHUNK] for start in range(0, len(channels), CHUNK)]
        for group in groups:
            await send(*group)

    async def run(self) -> None:
        delay = 0.1
        while True:
            self.wake.clear()
            if not self.channels:
                await self.wake.wait()
                continue
            self.was_up = False
            try:
                await self._session()
            except (RedisError, OSError) as exc:
                log.warning("pubsub_lost", node=self.node, error=type(exc).__name__)
            self.owner._went_down(self)
            # Quickly after a connection that worked; backing off while Redis refuses us.
            delay = 0.1 if self.was_up else min(delay * 2, 5.0)
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        pubsub = self.pubsub = self.client.pubsub()
        try:
            async with self.lock:
                await pubsub.connect()  # type: ignore[no-untyped-call]
                self.sent = set(self.channels)
                self.unsubscribing.clear()
                await self._send(pubsub, sorted(self.sent), subscribe=True)
                self.up.set()
                self.was_up = True
            log.info("pubsub_subscribed", node=self.node, channels=len(self.sent))
            parser = getattr(pubsub.connection, "_parser", None)
            reader = getattr(parser, "_reader", None)
            stream = getattr(parser, "_stream", None)
            if isinstance(reader, hiredis.Reader) and isinstance(stream, asyncio.StreamReader):
                await self._read_replies(pubsub, reader, stream)
            while True:  # another parser than hiredis: redis-py's reader, message by message
                message = await pubsub.get_message(timeout=None)
                if message is not None:
                    self._dispatch(message["type"].encode(), message["channel"], message["data"])
        finally:
            self.up.clear()
            self.pubsub = None
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _read_replies(
        self, pubsub: aioredis.client.PubSub, reader: hiredis.Reader, stream: asyncio.StreamReader
    ) -> None:
        """Read the connection's replies straight from its hiredis reader, every whole
        reply of each read at once. redis-py's ``get_message`` costs a health check, a retry
        wrapper, a dict and a metrics call per message: a tenth of the gateway's CPU in the
        direct-rooms benchmark. Its health check is kept here by a watchdog: a connection
        that reads nothing for a while is sent a PING, and dropped if that is not answered
        either."""
        loop = asyncio.get_running_loop()
        self.last_read = loop.time()
        watchdog = asyncio.ensure_future(self._watch(pubsub))
        try:
            while True:
                reply = reader.gets()
                while reply is not NOT_ENOUGH_DATA:
                    self._handle_reply(reply)
                    reply = reader.gets()
                data = await stream.read(READ_SIZE)
                if not data:
                    raise RedisConnectionError("Redis closed the pub/sub connection.")
                self.last_read = loop.time()
                reader.feed(data)
        finally:
            watchdog.cancel()

    async def _watch(self, pubsub: aioredis.client.PubSub) -> None:
        loop = asyncio.get_running_loop()
        pinged_at = 0.0  # when the PING now unanswered went out (0: none is)
        while True:
            await asyncio.sleep(HEALTH_INTERVAL)
            now = loop.time()
            if pinged_at and self.last_read >= pinged_at:
                pinged_at = 0.0  # something came after the ping: the connection is alive
            # redis-py types the attribute as None: it is the connection once connected.
            connection: Any = pubsub.connection
            if pinged_at and now - pinged_at >= HEALTH_INTERVAL:
                log.warning("pubsub_silent", node=self.node)
                if connection is not None:
                    await connection.disconnect(nowait=True)
                return
            if not pinged_at and now - self.last_read >= HEALTH_INTERVAL:
                pinged_at = now
                if connection is not None:
                    with contextlib.suppress(RedisError, OSError):
                        await connection.send_command("PING", check_health=False)

    def _handle_reply(self, reply: Any) -> None:
        """One reply of a subscribed connection: ``[kind, channel, data or count]``."""
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, list) and len(reply) >= 3 and isinstance(reply[0], bytes):
            self._dispatch(reply[0], reply[1], reply[2])
        # Anything else is a PING's answer ([b"pong", b""]): nothing to do.

    def _dispatch(self, kind: bytes, channel: bytes, data: Any) -> None:
        if kind == b"message" or kind == b"smessage":
            # A handler's error must not end the link: every channel on it shares it.
            try:
                self.owner.on_message(channel, data)
            except Exception:
                log.exception("dispatch_failed")
            return
        name = channel.decode()
        if kind == b"subscribe" or kind == b"ssubscribe":
            self.owner._confirm(self, name)
        elif kind == b"unsubscribe" or kind == b"sunsubscribe":
            pending = self.unsubscribing.pop(name, 0)
            if pending > 1:
                self.unsubscribing[name] = pending - 1
            elif pending == 0 and name in self.sent:
                raise ChannelMoved(name)

    async def close(self) -> None:
        if self.pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self.pubsub.aclose()  # type: ignore[no-untyped-call]
        await self.client.aclose()
