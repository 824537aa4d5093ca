"""The process's pub/sub subscriptions: room channels, the membership channel and the
profiles channel (chatcore.pubsub), each payload handed to the handler of its kind.

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


RoomHandler = Callable[[str, bytes], None]
Handler = Callable[[bytes], None]
RoomGapHandler = Callable[[str], Coroutine[Any, Any, None]]
GapHandler = Callable[[], Coroutine[Any, Any, None]]


class Subscriptions:
    """The process's subscriptions and what to call for each kind of payload."""

    def __init__(
        self,
        redis_url: str,
        names: Names,
        *,
        cluster: bool = False,
        client_name: str | None = None,
    ) -> None:
        self.names = names
        self._room_prefix = names.room_channel("").encode()
        self._membership = names.membership_channel
        self._profiles = names.profiles_channel
        self.on_room: RoomHandler | None = None
        self.on_membership: Handler | None = None
        self.on_room_gap: RoomGapHandler | None = None
        self.on_membership_gap: GapHandler | None = None
        self.on_membership_lost: Callable[[], None] | None = None
        self.on_profile: Handler | None = None
        # Set on shutdown: the channels go with the process, none is dropped one at a time.
        self.stopping = False
        self.subscriber = Subscriber(
            redis_url,
            cluster=cluster,
            client_name=client_name,
            on_message=self._dispatch,
            on_lost=self._lost,
            on_ready=self._ready,
        )

    def route(
        self,
        *,
        on_room: RoomHandler,
        on_membership: Handler,
        on_room_gap: RoomGapHandler,
        on_membership_gap: GapHandler,
        on_profile: Handler | None = None,
        on_membership_lost: Callable[[], None] | None = None,
    ) -> None:
        """Say who takes each kind of payload (before :meth:`start`): a room's payloads, a
        membership event, a profile change (followed only with a handler), what to do after a
        reconnect for a room channel and for the membership channel, and when the membership
        channel's connection dropped (events may be missed from then on)."""
        self.on_room = on_room
        self.on_membership = on_membership
        self.on_room_gap = on_room_gap
        self.on_membership_gap = on_membership_gap
        self.on_profile = on_profile
        self.on_membership_lost = on_membership_lost

    @property
    def _global_channels(self) -> int:
        """Channels that are not rooms: membership, and profiles when followed."""
        return 1 if self.on_profile is None else 2

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
        """Drop the room's channel now; the UNSUBSCRIBE follows in order with other commands
        (nothing once the process is stopping)."""
        if self.stopping:
            return
        self.subscriber.unsubscribe(self.names.room_channel(room_id))
        metrics.ROOMS.set(max(0, self.subscriber.channel_count - self._global_channels))

    def _dispatch(self, channel: bytes, data: bytes) -> None:
        if channel.startswith(self._room_prefix):
            if self.on_room is not None:
                self.on_room(channel[len(self._room_prefix) :].decode(), data)
        elif channel == self._profiles.encode():
            if self.on_profile is not None:
                self.on_profile(data)
        elif self.on_membership is not None:
            self.on_membership(data)

    def _lost(self, channels: set[str]) -> None:
        metrics.REDIS_RECONNECTS.inc()
        log.warning("pubsub_channels_lost", channels=len(channels))
        if self._membership in channels and self.on_membership_lost is not None:
            self.on_membership_lost()

    def _ready(self, channel: str, again: bool) -> None:
        if not again:
            return
        if channel == self._membership:
            if self.on_membership_gap is not None:
                background(self.on_membership_gap())
        elif channel == self._profiles:
            return  # profiles missed while down show on the next load
        elif self.on_room_gap is not None:
            room_id = channel.removeprefix(self.names.room_channel(""))
            background(self.on_room_gap(room_id))
