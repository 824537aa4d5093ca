"""Channels subscribed over one pub/sub connection per Redis shard.

Against one Redis server (the default) every channel shares one connection and plain
``SUBSCRIBE``. Against a Redis Cluster channels are sharded (``SSUBSCRIBE``, Redis 7): a
channel lives on the primary that owns its name's hash slot, so each primary holding a wanted
channel gets one connection (a :class:`~chatcore.pubsub_link.Link`), and Redis copies a
payload only on that shard.

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
from collections.abc import Callable, Coroutine
from typing import Any

from chatcore.logs import get_logger
from chatcore.pubsub_link import Link
from chatcore.slotmap import SlotMap

log = get_logger(__name__)

SUBSCRIBE_TIMEOUT = 5.0

OnMessage = Callable[[bytes, bytes], None]
OnLost = Callable[[set[str]], None]
OnReady = Callable[[str, bool], None]


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
        self._home: dict[str, Link] = {}  # wanted channel -> the link that carries it
        self._links: dict[str, Link] = {}  # by node name ("" for a single server)
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
            link.request_sync()
        if not waiter.done():
            await asyncio.wait_for(asyncio.shield(waiter), SUBSCRIBE_TIMEOUT)

    def unsubscribe(self, channel: str) -> None:
        """Stop wanting ``channel`` now; the command follows in order with the others."""
        self._wanted.discard(channel)
        self._again.discard(channel)
        link = self._home.pop(channel, None)
        if link is not None:
            link.channels.discard(channel)
            link.request_sync()

    def _assign(self, channel: str) -> Link | None:
        """The link that must carry ``channel`` now (moving it there); None while the
        cluster's slot map is unknown."""
        node = ("", self.url) if self._slots is None else self._slots.node_of(channel)
        if node is None:
            return None
        link = self._links.get(node[0])
        if link is None:
            link = self._links[node[0]] = Link(self, node[0], node[1])
            self._spawn(link.run())
        old = self._home.get(channel)
        if old is link:
            return link
        if old is not None:
            old.channels.discard(channel)
            if channel in old.sent:
                self._again.add(channel)  # moved while live: its new shard may have had more
            old.request_sync()
        self._home[channel] = link
        link.channels.add(channel)
        link.wake.set()
        # A connection already up must be told; a new one subscribes it when it connects.
        link.request_sync()
        return link

    def _rehome(self) -> None:
        """The slot map was (re)read: every wanted channel goes where it lives now."""
        for channel in list(self._wanted):
            self._assign(channel)

    # Called by the links.

    def _went_down(self, link: Link) -> None:
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

    def _confirm(self, link: Link, channel: str) -> None:
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

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
