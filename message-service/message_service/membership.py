"""Who is in which room, without an HTTP call per message, yet never stale for long.

Each (room, user) answer from room-service (``GET /rooms/{id}/members/{user_id}``: a role and
the end of a mute, or 404 for "not a member") is cached, negative answers too. Any event of a
room on the membership channel (a mute set or lifted is one) drops that room's answers;
(re)subscribing to the channel drops them all, since events may have been missed meanwhile;
and each answer expires after a TTL as a last resort
(docs/events.md). While the channel is not subscribed nothing is cached, so every check asks
room-service: a removed member is refused as soon as room-service's event arrives, or at once
when events cannot arrive.

A look-up answered after an event of its room (or a reset) was seen may predate the change,
so it is asked again and never cached.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from chatcore import jsonutil
from chatcore.errors import NotFound, Unavailable
from chatcore.httpclient import ServiceClient
from chatcore.logs import get_logger
from chatcore.pubsub import Subscriber
from chatcore.redisconn import Names
from message_service import metrics

log = get_logger(__name__)

ROLES = frozenset({"owner", "admin", "member"})
# Rooms to look up past which one list of the caller's rooms answers them all: a resume of
# 100 rooms looked up one by one cost room-service 0.1 to 0.2 s of CPU before its first read.
LIST_PAST = 8
Key = tuple[uuid.UUID, uuid.UUID]


@dataclass(frozen=True, slots=True)
class Seat:
    """A member's place in a room: their role, and until when (epoch seconds) they are
    muted, if they are. A mute ends by itself: it is compared with the time of each check,
    and setting or lifting one is a membership event, which drops the cached seat."""

    role: str
    muted_until: float | None = None

    def muted(self, now: float) -> bool:
        return self.muted_until is not None and self.muted_until > now


def _muted_until(raw: object) -> float | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        return None


class Unknown(Enum):
    """No cached answer: room-service must be asked."""

    UNKNOWN = "unknown"


UNKNOWN = Unknown.UNKNOWN


@dataclass
class _Flight:
    """One look-up in progress, shared by every check of the same (room, user)."""

    stale: bool = False


class Membership:
    """The cached answer to "what is this user's seat in this room?" (None: not a member)."""

    def __init__(self, rooms: ServiceClient, *, ttl: float, max_entries: int) -> None:
        self.rooms = rooms
        self.ttl = ttl
        self.max_entries = max_entries
        self.listening = False  # set by the listener while the channel is subscribed
        self._cache: dict[uuid.UUID, dict[uuid.UUID, tuple[Seat | None, float]]] = {}
        self._size = 0
        self._flights: dict[Key, tuple[_Flight, asyncio.Task[Seat | None]]] = {}
        # Called with a room id when that room's answers are dropped, None for all of them:
        # caches of other membership facts follow this one (notify_targets.py).
        self.on_drop: list[Callable[[uuid.UUID | None], None]] = []
        # Called with each member answer's room id and body, and whether the answer may be
        # cached (as :meth:`_remember` would): the answer also tells the room's kind, title
        # and a direct room's members, which notify_targets.py caches beside the seat.
        self.on_answer: list[Callable[[uuid.UUID, dict[str, Any], bool], None]] = []

    def cached(self, room_id: uuid.UUID, user_id: uuid.UUID) -> Seat | Unknown | None:
        """The cached answer (a seat, or None for not a member); :data:`UNKNOWN` if there is
        none to trust, and :meth:`seat` must ask."""
        if self.listening:
            entry = self._cache.get(room_id, {}).get(user_id)
            if entry is not None and entry[1] > time.monotonic():
                return entry[0]
        return UNKNOWN

    async def role(self, token: str, room_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
        """``user_id``'s role in the room, or None if not a member (see :meth:`seat`)."""
        seat = await self.seat(token, room_id, user_id)
        return None if seat is None else seat.role

    async def seat(self, token: str, room_id: uuid.UUID, user_id: uuid.UUID) -> Seat | None:
        """``user_id``'s seat in the room, or None if not a member. ``token`` is the caller's,
        forwarded to room-service, and the caller must be ``user_id`` (room-service answers
        only its own members)."""
        known = self.cached(room_id, user_id)
        if not isinstance(known, Unknown):
            return known
        key = (room_id, user_id)
        in_flight = self._flights.get(key)
        if in_flight is None:
            flight = _Flight()
            task = asyncio.create_task(self._look_up(token, key, flight))
            task.add_done_callback(lambda done: self._end_flight(key, done))
            in_flight = self._flights[key] = (flight, task)
        # Shielded: one caller going away must not cancel the look-up the others wait for.
        return await asyncio.shield(in_flight[1])

    async def member_of(
        self, token: str, room_ids: list[uuid.UUID], user_id: uuid.UUID
    ) -> list[bool]:
        """Whether ``user_id`` (the caller) is a member of each room, in order: cached
        answers from memory, the others looked up together (see :meth:`seat`), or, past
        :data:`LIST_PAST` of them, read from one list of the caller's rooms (those answers
        are not cached: the list tells no mutes)."""
        seats = [self.cached(room_id, user_id) for room_id in room_ids]
        misses = [index for index, seat in enumerate(seats) if isinstance(seat, Unknown)]
        if len(misses) > LIST_PAST:
            answer = await self.rooms.request("GET", "/rooms/joined", token=token)
            joined = set(room_ids_of(answer))
            answered = {index: room_ids[index] in joined for index in misses}
        else:
            looked_up = await asyncio.gather(
                *(self.seat(token, room_ids[index], user_id) for index in misses)
            )
            found = zip(misses, looked_up, strict=True)
            answered = {index: seat is not None for index, seat in found}
        return [
            answered[index] if isinstance(seat, Unknown) else seat is not None
            for index, seat in enumerate(seats)
        ]

    async def _look_up(self, token: str, key: Key, flight: _Flight) -> Seat | None:
        room_id, user_id = key
        attempts = 3
        while True:
            flight.stale = False
            listening = self.listening
            try:
                answer = await self.rooms.request(
                    "GET", f"/rooms/{room_id}/members/{user_id}", token=token
                )
            except NotFound:
                role: Seat | None = None
                body: dict[str, Any] = {}
            else:
                body = answer if isinstance(answer, dict) else {}
                raw = body.get("role")
                role = Seat(
                    raw if raw in ROLES else "member", _muted_until(body.get("muted_until"))
                )
            metrics.MEMBERSHIP_LOOKUPS.labels("member" if role else "not_member").inc()
            attempts -= 1
            if not flight.stale:
                trusted = listening and self.listening
                if trusted:
                    self._remember(key, role)
                self._answered(room_id, body, trusted)
                return role
            if attempts == 0:
                self._answered(room_id, body, False)
                return role  # membership keeps changing under us; the newest answer will do

    def _answered(self, room_id: uuid.UUID, body: dict[str, Any], trusted: bool) -> None:
        if body:
            for hook in self.on_answer:
                hook(room_id, body, trusted)

    def _end_flight(self, key: Key, task: asyncio.Task[Seat | None]) -> None:
        in_flight = self._flights.get(key)
        if in_flight is not None and in_flight[1] is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so one nobody awaited any more is not logged

    def _remember(self, key: Key, role: Seat | None) -> None:
        if self._size >= self.max_entries:
            self._cache.clear()
            self._size = 0
        room = self._cache.setdefault(key[0], {})
        if key[1] not in room:
            self._size += 1
        room[key[1]] = (role, time.monotonic() + self.ttl)

    def drop_room(self, room_id: uuid.UUID) -> None:
        """Forget every answer about the room (a membership event of it was seen)."""
        room = self._cache.pop(room_id, None)
        if room is not None:
            self._size -= len(room)
        for (flight_room, _user), (flight, _task) in self._flights.items():
            if flight_room == room_id:
                flight.stale = True
        for hook in self.on_drop:
            hook(room_id)

    def reset(self) -> None:
        """Forget everything (events may have been missed)."""
        self._cache.clear()
        self._size = 0
        for flight, _task in self._flights.values():
            flight.stale = True
        for hook in self.on_drop:
            hook(None)
        metrics.MEMBERSHIP_RESETS.inc()

    def on_event(self, payload: bytes) -> None:
        """Apply one membership-channel payload."""
        try:
            event = jsonutil.loads(payload)
            room_id = uuid.UUID(str(event["room_id"]))
        except (ValueError, TypeError, KeyError):
            # An event we cannot read may be a change we would miss: trust nothing cached.
            log.warning("membership_event_unreadable", size=len(payload))
            self.reset()
            return
        self.drop_room(room_id)


class MembershipListener:
    """Keeps the membership channel subscribed and feeds its events to :class:`Membership`.

    The channel has its own pub/sub connection (on a cluster, to the shard that owns it). While
    it is down nothing is cached; each (re)subscription resets the cache, since events may
    have been missed meanwhile.
    """

    def __init__(
        self, redis_url: str, names: Names, membership: Membership, *, cluster: bool = False
    ) -> None:
        self.channel = names.membership_channel
        self.membership = membership
        self.also: list[Callable[[bytes], None]] = []
        self.subscriber = Subscriber(
            redis_url,
            cluster=cluster,
            on_message=self._on_message,
            on_lost=self._on_lost,
            on_ready=self._on_ready,
        )

    async def start(self) -> None:
        """Start listening and give the subscription a moment (until then nothing is cached)."""
        await self.subscriber.start()
        try:
            await self.subscriber.subscribe(self.channel)
        except TimeoutError:
            log.warning("membership_channel_not_subscribed")

    async def stop(self) -> None:
        await self.subscriber.stop()
        self._set_listening(False)

    def _on_message(self, _channel: bytes, data: bytes) -> None:
        self.membership.on_event(data)
        for handler in self.also:
            handler(data)

    def _on_lost(self, _channels: set[str]) -> None:
        log.warning("membership_channel_lost")
        self._set_listening(False)
        self.membership.reset()

    def _on_ready(self, _channel: str, _again: bool) -> None:
        # From here on every change reaches us; what was cached before may not have seen the
        # ones in between.
        self.membership.reset()
        self._set_listening(True)
        log.info("membership_channel_subscribed")

    def _set_listening(self, listening: bool) -> None:
        self.membership.listening = listening
        metrics.MEMBERSHIP_LISTENING.set(1 if listening else 0)


def room_ids_of(answer: Any) -> list[uuid.UUID]:
    """The room ids of room-service's ``GET /rooms/joined`` answer, each once."""
    try:
        ids = [uuid.UUID(str(item["room_id"])) for item in answer["items"]]
    except (KeyError, TypeError, ValueError):
        raise Unavailable("room-service gave an answer that cannot be read.") from None
    return list(dict.fromkeys(ids))
