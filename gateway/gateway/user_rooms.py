"""Each user's rooms as read at connect, kept for the user's next connects to this process.

A user opens several connections (tabs, devices), and after a gateway restart they all come
back within a second or two. The rooms read for one connect serve the user's next ones here,
and connects of the same user that overlap share one read. Measured in ``make bench``'s
reconnect storm at 2,000 clients (400 users with five connections each, a busy machine):
room-service answered 1,141 ``POST /rooms/joined/batch`` calls instead of 2,305, and the CPU
per reconnect fell from 16.0 to 9.3 ms in all (room-service 2.1 to 1.3, Postgres 1.4 to 0.8;
the gateway 9.9 to 5.0, most of it no longer spent on connects that timed out waiting).

The membership events this process follows anyway keep the copy true: an event drops the
copy of the user it names (every member, for a new room) and of every user holding the room
(its member count and version changed). A read that an event touching it overtook is used
by its own connect, as before, but not kept, nor shared with a connect that came later. The
copies are all dropped when events may have been missed (the pub/sub connection dropped, an
event was lost), and none is used while the process's pub/sub connection is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# Users whose rooms are kept, the least recently connected forgotten first.
CAPACITY = 20_000

# Users and rooms whose last change is remembered, to tell whether a read in flight was
# overtaken; past this, the record is cleared and every read older than that is dropped.
CHANGES_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class JoinedRoom:
    """One of the user's rooms: what a connect needs of it."""

    room_id: str
    role: str
    version: int | None
    member_count: int | None
    # ``(last seq, last position)`` when the rooms came with where they stand (the
    # per-connect call of an older message-service); such a read is never kept.
    at: tuple[int, int] | None = None


RoomList = tuple[JoinedRoom, ...]
Read = Callable[[], Awaitable[RoomList]]


class UserRooms:
    """The rooms of users who connected lately, kept true by membership events."""

    def __init__(self, live: Callable[[], bool], capacity: int = CAPACITY) -> None:
        # Whether membership events reach this process now (its pub/sub connection is up).
        self.live = live
        self.capacity = capacity
        self._rooms: dict[str, RoomList] = {}  # user id -> rooms, least recent first
        self._holders: dict[str, set[str]] = {}  # room id -> users whose rooms hold it
        # Reads in flight, by user: when each started, and its rooms (None if it failed).
        self._reads: dict[str, tuple[int, asyncio.Future[RoomList | None]]] = {}
        # A counter moved by every change, and the count at which each user and room last
        # changed; a read started before ``floor`` was overtaken by a change since forgotten
        # (or by a clear).
        self._clock = 0
        self._floor = 0
        self._user_changed: dict[str, int] = {}
        self._room_changed: dict[str, int] = {}

    async def get(self, user_id: str, read: Read) -> RoomList:
        """The user's rooms: kept ones, a read in flight for the user (unless a change
        overtook it), or ``read()``, kept unless a change overtook it."""
        if not self.live():
            return await read()
        kept = self._rooms.pop(user_id, None)
        if kept is not None:
            self._rooms[user_id] = kept  # the most recent now
            return kept
        shared = self._reads.get(user_id)
        if shared is not None:
            started, future = shared
            rooms = await asyncio.shield(future)
            if rooms is not None and not self._overtaken(user_id, rooms, started):
                return rooms
            if user_id in self._reads:
                return await read()  # another connect's read is in flight: not waited for too
        return await self._read(user_id, read)

    async def _read(self, user_id: str, read: Read) -> RoomList:
        started = self._clock
        future: asyncio.Future[RoomList | None] = asyncio.get_running_loop().create_future()
        self._reads[user_id] = (started, future)
        rooms = None
        try:
            rooms = await read()
        finally:
            del self._reads[user_id]
            future.set_result(rooms)  # None: it failed, whoever waited for it reads
        self._keep(user_id, rooms, started)
        return rooms

    def _keep(self, user_id: str, rooms: RoomList, started: int) -> None:
        if any(r.at is not None for r in rooms) or self._overtaken(user_id, rooms, started):
            return
        self._drop(user_id)
        if len(self._rooms) >= self.capacity:
            self._drop(next(iter(self._rooms)))
        self._rooms[user_id] = rooms
        for room in rooms:
            self._holders.setdefault(room.room_id, set()).add(user_id)

    def _overtaken(self, user_id: str, rooms: RoomList, started: int) -> bool:
        """Whether a change to the user or one of ``rooms`` came after a read started at
        ``started``."""
        if started < self._floor or self._user_changed.get(user_id, 0) > started:
            return True
        changed = self._room_changed
        return any(changed.get(r.room_id, 0) > started for r in rooms)

    def changed(self, room_id: str, user_ids: list[str]) -> None:
        """A membership event of the room, naming ``user_ids`` (none for a room update)."""
        self._clock += 1
        if len(self._room_changed) + len(self._user_changed) > CHANGES_KEPT:
            self._room_changed.clear()
            self._user_changed.clear()
            self._floor = self._clock
        self._room_changed[room_id] = self._clock
        for user_id in user_ids:
            self._user_changed[user_id] = self._clock
            self._drop(user_id)
        for user_id in list(self._holders.get(room_id, ())):
            self._drop(user_id)

    def clear(self) -> None:
        """Forget every user's rooms, and every read in flight: events may have been missed."""
        self._clock += 1
        self._floor = self._clock
        self._rooms.clear()
        self._holders.clear()
        self._room_changed.clear()
        self._user_changed.clear()

    def _drop(self, user_id: str) -> None:
        rooms = self._rooms.pop(user_id, None)
        for room in rooms or ():
            holders = self._holders.get(room.room_id)
            if holders is not None:
                holders.discard(user_id)
                if not holders:
                    del self._holders[room.room_id]

    def __len__(self) -> int:
        return len(self._rooms)
