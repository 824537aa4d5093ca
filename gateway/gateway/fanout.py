"""The process's pub/sub: room channels and the membership channel (chatcore.pubsub).

One connection to a single Redis, or one per shard of a Redis Cluster (``REDIS_CLUSTER``),
where each room's channel lives on one shard. Channels are reference-counted by the delivery
layer (subscribed for the first local interest, unsubscribed after the last). ``subscribe``
returns once Redis confirmed it, so a message published after that is seen.

When a connection drops, whatever was published on its channels meanwhile is lost: once each
channel is subscribed again, its room is checked for gaps, and if the membership channel was
on it, every connected user's rooms are re-read. Rooms on the other shards carry on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from chatcore.logs import get_logger
from chatcore.pubsub import Subscriber
from chatcore.redisconn import Names
from gateway import metrics
from gateway.tasks import background

log = get_logger(__name__)


class Fanout:
    """The process's subscriptions and what to call for each kind of payload."""

    def __init__(
        self,
        redis_url: str,
        names: Names,
        *,
        cluster: bool = False,
        client_name: str | None = None,
        on_room: Callable[[str, bytes], None],
        on_membership: Callable[[bytes], None],
        on_room_gap: Callable[[str], Coroutine[Any, Any, None]],
        on_membership_gap: Callable[[], Coroutine[Any, Any, None]],
        on_profile: Callable[[bytes], None] | None = None,
    ) -> None:
        self.names = names
        self.on_room = on_room
        self.on_membership = on_membership
        self.on_room_gap = on_room_gap
        self.on_membership_gap = on_membership_gap
        self._room_prefix = names.room_channel("").encode()
        self._membership = names.membership_channel
        self.on_profile = on_profile
        self._profiles = names.profiles_channel
        # Channels that are not rooms: membership, and profiles when followed.
        self._global_channels = 1 if on_profile is None else 2
        self.subscriber = Subscriber(
            redis_url,
            cluster=cluster,
            client_name=client_name,
            on_message=self._dispatch,
            on_lost=self._lost,
            on_ready=self._ready,
        )
        self._rooms = 0

    @property
    def connected(self) -> bool:
        return self.subscriber.connected

    async def start(self) -> None:
        """Subscribe the membership channel, waiting a moment for it (readyz says 503 until
        it is)."""
        await self.subscriber.start()
        with contextlib.suppress(TimeoutError):
            await self.subscriber.subscribe(self._membership)
            if self.on_profile is not None:
                await self.subscriber.subscribe(self._profiles)

    async def stop(self) -> None:
        await self.subscriber.stop()

    async def subscribe(self, room_id: str) -> None:
        """Subscribe the room's channel (if not yet) and wait for Redis' confirmation."""
        await self.subscriber.subscribe(self.names.room_channel(room_id))
        metrics.ROOMS.set(max(0, self.subscriber.channel_count - self._global_channels))

    def unsubscribe(self, room_id: str) -> None:
        """Drop the room's channel now; the UNSUBSCRIBE follows in order with other commands."""
        self.subscriber.unsubscribe(self.names.room_channel(room_id))
        metrics.ROOMS.set(max(0, self.subscriber.channel_count - self._global_channels))

    def _dispatch(self, channel: bytes, data: bytes) -> None:
        if channel.startswith(self._room_prefix):
            self.on_room(channel[len(self._room_prefix) :].decode(), data)
        elif channel == self._profiles.encode():
            if self.on_profile is not None:
                self.on_profile(data)
        else:
            self.on_membership(data)

    def _lost(self, channels: set[str]) -> None:
        metrics.REDIS_RECONNECTS.inc()
        log.warning("pubsub_channels_lost", channels=len(channels))

    def _ready(self, channel: str, again: bool) -> None:
        if not again:
            return
        if channel == self._membership:
            background(self.on_membership_gap())
        elif channel == self._profiles:
            return  # profiles missed while down show on the next load
        else:
            room_id = channel.removeprefix(self.names.room_channel(""))
            background(self.on_room_gap(room_id))
