"""The rooms kept between a user's connects (gateway.user_rooms): when they serve, and each
membership change that must stop them from serving."""

from __future__ import annotations

import asyncio

import pytest

from gateway.user_rooms import JoinedRoom, RoomList, UserRooms


def rooms(*ids: str) -> RoomList:
    return tuple(JoinedRoom(room_id=r, role="member", version=1, member_count=2) for r in ids)


class Reads:
    """A room-service stand-in: counts reads; each read waits for ``gate`` if set."""

    def __init__(self, answer: RoomList) -> None:
        self.answer = answer
        self.count = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> RoomList:
        self.count += 1
        if self.gate is not None:
            await self.gate.wait()
        return self.answer


async def test_next_connect_of_the_user_reads_nothing() -> None:
    """A user's second connect gets the rooms of the first without a read."""
    kept, read = UserRooms(lambda: True), Reads(rooms("r1", "r2"))
    assert await kept.get("u", read) == rooms("r1", "r2")
    assert await kept.get("u", read) == rooms("r1", "r2")
    assert read.count == 1


async def test_overlapping_connects_share_one_read() -> None:
    """Connects of one user that overlap make one read between them."""
    kept, read = UserRooms(lambda: True), Reads(rooms("r1"))
    read.gate = asyncio.Event()
    waiting = [asyncio.ensure_future(kept.get("u", read)) for _ in range(3)]
    await asyncio.sleep(0)
    read.gate.set()
    assert await asyncio.gather(*waiting) == [rooms("r1")] * 3
    assert read.count == 1


@pytest.mark.parametrize(
    ("room", "named"),
    [
        ("r9", ["u"]),  # the user was added to a room
        ("r1", ["u"]),  # removed from one, or their role changed
        ("r1", ["other"]),  # someone joined or left one of theirs: its count changed
        ("r1", []),  # one of theirs was updated: its version changed
    ],
)
async def test_a_membership_event_drops_the_rooms_it_touches(room: str, named: list[str]) -> None:
    """An event naming the user, or about one of their rooms, makes the next connect read."""
    kept, read = UserRooms(lambda: True), Reads(rooms("r1"))
    await kept.get("u", read)
    kept.changed(room, named)
    await kept.get("u", read)
    assert read.count == 2


async def test_an_event_of_another_user_and_room_keeps_the_rooms() -> None:
    """An event that touches neither the user nor their rooms changes nothing for them."""
    kept, read = UserRooms(lambda: True), Reads(rooms("r1"))
    await kept.get("u", read)
    kept.changed("r2", ["other"])
    await kept.get("u", read)
    assert read.count == 1


@pytest.mark.parametrize(("room", "named"), [("r9", ["u"]), ("r1", ["other"])])
async def test_a_read_overtaken_by_an_event_serves_only_its_own_connect(
    room: str, named: list[str]
) -> None:
    """A read an event touching it overtook is used by its connect but neither kept nor
    shared with a connect that came later (which reads anew, and keeps that)."""
    kept, read = UserRooms(lambda: True), Reads(rooms("r1"))
    read.gate = asyncio.Event()
    first = asyncio.ensure_future(kept.get("u", read))
    await asyncio.sleep(0)
    kept.changed(room, named)
    second = asyncio.ensure_future(kept.get("u", read))
    await asyncio.sleep(0)
    read.gate.set()
    assert await first == rooms("r1")
    assert await second == rooms("r1")
    assert read.count == 2
    await kept.get("u", read)
    assert read.count == 2  # the second read, which nothing overtook, was kept


async def test_clear_forgets_the_rooms_and_the_reads_in_flight() -> None:
    """After events may have been missed, nothing read before is kept or served."""
    kept, read = UserRooms(lambda: True), Reads(rooms("r1"))
    await kept.get("v", read)
    read.gate = asyncio.Event()
    pending = asyncio.ensure_future(kept.get("u", read))
    await asyncio.sleep(0)
    kept.clear()
    read.gate.set()
    await pending
    read.gate = None
    await kept.get("u", read)
    await kept.get("v", read)
    assert read.count == 4
    assert len(kept) == 2


async def test_forgotten_changes_still_stop_an_older_read() -> None:
    """Past the changes remembered, a read older than the forgotten ones is not kept."""
    kept, read = UserRooms(lambda: True), Reads(rooms("r1"))
    read.gate = asyncio.Event()
    pending = asyncio.ensure_future(kept.get("u", read))
    await asyncio.sleep(0)
    kept.changed("r1", [])
    for i in range(10_001):
        kept.changed(f"x{i}", [])
    read.gate.set()
    await pending
    assert len(kept) == 0


async def test_nothing_is_kept_while_events_may_be_missed() -> None:
    """While the process follows no membership events, every connect reads."""
    live = False
    kept, read = UserRooms(lambda: live), Reads(rooms("r1"))
    await kept.get("u", read)
    await kept.get("u", read)
    assert read.count == 2
    live = True
    await kept.get("u", read)
    await kept.get("u", read)
    assert read.count == 3


async def test_a_failed_read_is_not_shared() -> None:
    """A connect that joined a read which failed reads for itself."""
    kept = UserRooms(lambda: True)
    gate = asyncio.Event()

    async def failing() -> RoomList:
        await gate.wait()
        raise ConnectionError

    read = Reads(rooms("r1"))
    first = asyncio.ensure_future(kept.get("u", failing))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(kept.get("u", read))
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(ConnectionError):
        await first
    assert await second == rooms("r1")
    assert read.count == 1


async def test_the_least_recent_user_is_forgotten_first() -> None:
    """At capacity, the user who connected least recently makes room."""
    kept, read = UserRooms(lambda: True, capacity=2), Reads(rooms("r1"))
    await kept.get("a", read)
    await kept.get("b", read)
    await kept.get("a", read)  # a is now the most recent
    await kept.get("c", read)
    assert read.count == 3
    await kept.get("a", read)
    assert read.count == 3
    await kept.get("b", read)
    assert read.count == 4


async def test_rooms_with_positions_are_never_kept() -> None:
    """Rooms read with where they stand (the per-connect call) are not served again."""
    kept = UserRooms(lambda: True)
    read = Reads((JoinedRoom("r1", "member", 1, 2, at=(5, 7)),))
    await kept.get("u", read)
    await kept.get("u", read)
    assert read.count == 2
