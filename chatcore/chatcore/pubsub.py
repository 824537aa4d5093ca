"""Channels subscribed over one pub/sub connection per Redis shard.

Against one Redis server (the default) every channel shares one connection and plain
``SUBSCRIBE``. Against a Redis Cluster channels are sharded (``SSUBSCRIBE``, Redis 7): a
channel lives on the primary that owns its name's hash slot, so each primary holding a wanted
channel gets one connection (a :class:`_Link`), and Redis copies a payload only on that shard.

Redis drops what is published while a subscriber is disconnected, and a subscriber only
learns it lost something from its own connection. So every link reports for itself: when its
connection drops, ``on_lost`` gets the channels that were live on it; the link reconnects with
backoff (on a cluster after re-reading the slot map, :mod:`chatcore.slotmap`, so channels
follow a failover or a resharding, where Redis ends a moved slot's subscriptions itself) and
subscribes them again; each confirmation calls ``on_ready(channel, again)``, ``again`` being
True for a channel that may have missed payloads. Other shards' channels are not disturbed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis._parsers.hiredis import NOT_ENOUGH_DATA
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from chatcore.logs import get_logger
from chatcore.slotmap import SlotMap

log = get_logger(__name__)

SUBSCRIBE_TIMEOUT = 5.0
# Channels per SUBSCRIBE command when a connection (re)subscribes everything at once.
CHUNK = 500
# Bytes per read of a pub/sub connection, and seconds of silence before it is checked.
READ_SIZE = 65536
HEALTH_INTERVAL = 10.0

OnMessage = Callable[[bytes, bytes], None]
OnLost = Callable[[set[str]], None]
OnReady = Callable[[str, bool], None]


class ChannelMoved(RedisError):
    """Redis ended a subscription we still want: its slot moved to another shard."""


class Subscriber:
    """The channels one process listens to, and the connections that carry them."""

    def __init__(
        self,
        url: str,
        *,
        cluster: bool = False,
        client_name: str | None = None,
        on_message: OnMessage,
        on_lost: OnLost | None = None,
        on_ready: OnReady | None = None,
    ) -> None:
        self.url = url
        self.cluster = cluster
        self.client_name = client_name
        self.on_message = on_message
        self.on_lost = on_lost or (lambda _channels: None)
        self.on_ready = on_ready or (lambda _channel, _again: None)
        self._wanted: set[str] = set()
        self._home: dict[str, _Link] = {}  # wanted channel -> the link that carries it
        self._links: dict[str, _Link] = {}  # by node name ("" for a single server)
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._again: set[str] = set()  # lost since their last confirmation
        self._tasks: set[asyncio.Task[Any]] = set()
        self._slots = SlotMap(url, self._rehome) if cluster else None

    @property
    def connected(self) -> bool:
        """Every wanted channel has a link, and every link carrying one is connected."""
        if not self._wanted or len(self._home) < len(self._wanted):
            return False
        return all(link.up.is_set() for link in self._links.values() if link.channels)

    @property
    def channel_count(self) -> int:
        """How many channels are wanted."""
        return len(self._wanted)

    async def start(self) -> None:
        """On a cluster, read its slot map (or keep trying in the background)."""
        if self._slots is not None:
            await self._slots.start()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for link in self._links.values():
            await link.close()
        if self._slots is not None:
            await self._slots.stop()

    async def subscribe(self, channel: str) -> None:
        """Want ``channel`` and wait until Redis confirmed it: what is published after this
        returns is received. Raises TimeoutError if no confirmation came within 5 s."""
        self._wanted.add(channel)
        waiter = self._confirmed.get(channel)
        if waiter is None:
            waiter = self._confirmed[channel] = asyncio.get_running_loop().create_future()
        link = self._assign(channel)
        if link is not None and channel not in link.sent and waiter.done():
            # Confirmed for a subscription that has ended since (a reconnect came between the
            # unsubscribe and now): this one must be confirmed anew.
            waiter = self._confirmed[channel] = asyncio.get_running_loop().create_future()
        if link is not None and channel not in link.sent:
            # Subscribed on the connection already: nothing to send (and no turn to wait for
            # on the link's lock, which thousands of connects of the same rooms queued on).
            await link.sync(channel)
        if not waiter.done():
            await asyncio.wait_for(asyncio.shield(waiter), SUBSCRIBE_TIMEOUT)

    def unsubscribe(self, channel: str) -> None:
        """Stop wanting ``channel`` now; the command follows in order with the others."""
        self._wanted.discard(channel)
        self._again.discard(channel)
        link = self._home.pop(channel, None)
        if link is not None:
            link.channels.discard(channel)
            self._spawn(link.sync(channel))

    def _assign(self, channel: str) -> _Link | None:
        """The link that must carry ``channel`` now (moving it there); None while the
        cluster's slot map is unknown."""
        node = ("", self.url) if self._slots is None else self._slots.node_of(channel)
        if node is None:
            return None
        link = self._links.get(node[0])
        if link is None:
            link = self._links[node[0]] = _Link(self, node[0], node[1])
            self._spawn(link.run())
        old = self._home.get(channel)
        if old is link:
            return link
        if old is not None:
            old.channels.discard(channel)
            if channel in old.sent:
                self._again.add(channel)  # moved while live: its new shard may have had more
            self._spawn(old.sync(channel))
        self._home[channel] = link
        link.channels.add(channel)
        link.wake.set()
        # A connection already up must be told; a new one subscribes it when it connects.
        self._spawn(link.sync(channel))
        return link

    def _rehome(self) -> None:
        """The slot map was (re)read: every wanted channel goes where it lives now."""
        for channel in list(self._wanted):
            self._assign(channel)

    # Called by the links.

    def _went_down(self, link: _Link) -> None:
        lost = {c for c in link.sent if c in self._wanted}
        link.sent.clear()
        self._again |= lost
        # Whoever subscribes from now waits for the next connection's confirmation.
        for channel in link.channels:
            waiter = self._confirmed.get(channel)
            if waiter is None or waiter.done():
                self._confirmed[channel] = asyncio.get_running_loop().create_future()
        if self._slots is not None:
            self._slots.refresh()
        if lost:
            self._call(self.on_lost, lost)

    def _confirm(self, link: _Link, channel: str) -> None:
        if self._home.get(channel) is not link:
            return  # unsubscribed or moved meanwhile
        waiter = self._confirmed.get(channel)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        again = channel in self._again
        self._again.discard(channel)
        self._call(self.on_ready, channel, again)

    def _call(self, callback: Callable[..., None], *args: Any) -> None:
        # A callback's error must not end a link: every channel on it depends on the link.
        try:
            callback(*args)
        except Exception:
            log.exception("pubsub_callback_failed")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Link:
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
        self.last_read = 0.0  # the loop's time of the connection's last read

    async def sync(self, channel: str) -> None:
        """Send the one command that makes the connection match the wanted state."""
        # One command at a time, each deciding from the wanted state when it runs, so an
        # unsubscribe queued before a quick re-subscribe can never win over it.
        async with self.lock:
            pubsub = self.pubsub
            if pubsub is None or not self.up.is_set():
                return  # the next connection subscribes every wanted channel
            try:
                if channel in self.channels and channel not in self.sent:
                    self.sent.add(channel)
                    await self._subscribe(pubsub, [channel])
                elif channel not in self.channels and channel in self.sent:
                    self.sent.discard(channel)
                    # Only now does the channel leave Redis, so only now may its confirmation
                    # go: a subscribe that came back before this found the channel still live
                    # and sent nothing, and must not wait for a confirmation that never comes.
                    waiter = self.owner._confirmed.pop(channel, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
                    self.unsubscribing[channel] = self.unsubscribing.get(channel, 0) + 1
                    if self.owner.cluster:
                        await pubsub.sunsubscribe(channel)
                    else:
                        await pubsub.unsubscribe(channel)
            except (RedisError, OSError):
                log.warning("pubsub_command_failed", node=self.node)  # the reconnect fixes it

    async def _subscribe(self, pubsub: aioredis.client.PubSub, channels: list[str]) -> None:
        if not self.owner.cluster:
            for start in range(0, len(channels), CHUNK):
                await pubsub.subscribe(*channels[start : start + CHUNK])
            return
        # One SSUBSCRIBE may only name channels of one slot.
        by_slot: dict[int, list[str]] = {}
        for channel in channels:
            by_slot.setdefault(key_slot(channel.encode()), []).append(channel)
        for group in by_slot.values():
            await pubsub.ssubscribe(*group)

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
                await self._subscribe(pubsub, sorted(self.sent))
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
