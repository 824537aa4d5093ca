"""Direct rooms: one per unordered pair, however requests race; what they refuse; leaving."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

import asyncpg
import httpx
import pytest

from chat_testkit.processes import ServiceProcess
from chat_testkit.users import TestUser
from room_service import changes
from room_service.store import Change

if TYPE_CHECKING:
    from conftest import Feed, MakeUsers, Rooms


async def _direct(rooms: Rooms, caller: TestUser, other: TestUser | str) -> httpx.Response:
    user_id = other if isinstance(other, str) else str(other.id)
    return await rooms.call("POST", "/rooms/direct", caller, json={"user_id": user_id})


async def test_one_direct_room_per_pair(rooms: Rooms, make_users: MakeUsers) -> None:
    """The first call creates the room (201); later calls from either side find it (200)."""
    ana, bo = await make_users(2)
    r = await _direct(rooms, ana, bo)
    assert r.status_code == 201, r.text
    room = r.json()
    assert room["kind"] == "direct"
    assert room["title"] is None
    assert (room["created_by"], room["member_count"], room["my_role"]) == (
        str(ana.id),
        2,
        "member",
    )
    for caller, other in [(ana, bo), (bo, ana), (bo, ana)]:
        again = await _direct(rooms, caller, other)
        assert (again.status_code, again.json()) == (200, room)
    assert await rooms.roles(bo, room["id"]) == {str(ana.id): "member", str(bo.id): "member"}
    assert (await rooms.call("GET", f"/rooms/{room['id']}", bo)).json() == room
    # The membership check (message-service's cache) also tells a direct room's members.
    member = (await rooms.call("GET", f"/rooms/{room['id']}/members/{ana.id}", bo)).json()
    assert (member["room_kind"], member["room_title"]) == ("direct", None)
    assert member["direct_members"] == sorted([str(ana.id), str(bo.id)])


async def test_direct_room_bad_requests(rooms: Rooms, make_users: MakeUsers) -> None:
    """Oneself is 409 direct_with_self (a well-formed request the document cannot rule out);
    a user auth-service does not know is 404 user_not_found."""
    [ana] = await make_users(1)
    r = await _direct(rooms, ana, ana)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "direct_with_self")
    r = await _direct(rooms, ana, str(uuid.uuid4()))
    assert (r.status_code, r.json()["error"]["code"]) == (404, "user_not_found")
    r = await rooms.call("POST", "/rooms/direct", ana, json={})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "user_id")


async def test_racing_requests_make_one_room(
    rooms: Rooms,
    make_users: MakeUsers,
    second_rooms: ServiceProcess,
    db: asyncpg.Connection,
    feed: Feed,
) -> None:
    """20 concurrent requests from both users, over two replicas: one 201, one room, one event."""
    ana, bo = await make_users(2)
    urls = [rooms.url, second_rooms.url]

    async def attempt(i: int) -> httpx.Response:
        caller, other = (ana, bo) if i % 2 == 0 else (bo, ana)
        return await rooms.http.post(
            f"{urls[i // 2 % 2]}/rooms/direct",
            headers=caller.headers,
            json={"user_id": str(other.id)},
        )

    answers = await asyncio.gather(*(attempt(i) for i in range(20)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 19 + [201], [a.text for a in answers if a.status_code >= 300]
    assert len({a.json()["id"] for a in answers}) == 1
    low, high = sorted((ana.id, bo.id))
    rows = await db.fetch(
        "SELECT id, member_count FROM rooms.rooms WHERE direct_low = $1 AND direct_high = $2",
        low,
        high,
    )
    assert [(str(r["id"]), r["member_count"]) for r in rows] == [(answers[0].json()["id"], 2)]
    events = await feed.exactly(answers[0].json()["id"], 1)
    assert events[0]["type"] == "room_created"


async def test_direct_rooms_refuse_renaming_adding_removing_and_roles(
    rooms: Rooms, make_users: MakeUsers
) -> None:
    """Renaming, adding, removing the other and changing roles are 409 direct_room."""
    ana, bo, cy = await make_users(3)
    room_id = (await _direct(rooms, ana, bo)).json()["id"]
    answers = [
        await rooms.call("PATCH", f"/rooms/{room_id}", ana, json={"title": "Us"}),
        await rooms.add(ana, room_id, cy),
        await rooms.remove(ana, room_id, bo),
        await rooms.set_role(ana, room_id, bo, "admin"),
        await rooms.set_role(ana, room_id, ana, "owner"),
    ]
    for r in answers:
        assert (r.status_code, r.json()["error"]["code"]) == (409, "direct_room"), r.request.url
    assert await rooms.roles(ana, room_id) == {str(ana.id): "member", str(bo.id): "member"}


async def test_a_leaver_stays_out_until_they_open_it_again(
    rooms: Rooms, make_users: MakeUsers, feed: Feed
) -> None:
    """Leaving hides the room from the leaver; the other's POST /rooms/direct does not pull
    them back (200, member_count 1, no event); their own POST /rooms/direct does."""
    ana, bo = await make_users(2)
    room = (await _direct(rooms, ana, bo)).json()
    assert (await rooms.remove(ana, room["id"], ana)).status_code == 204
    assert (await rooms.call("GET", f"/rooms/{room['id']}", ana)).status_code == 404
    assert (await rooms.call("GET", f"/rooms/{room['id']}", bo)).json()["member_count"] == 1
    # The one who stayed opens it, twice: the same room, and the leaver is still out.
    for _ in range(2):
        r = await _direct(rooms, bo, ana)
        assert (r.status_code, r.json()["id"], r.json()["member_count"]) == (200, room["id"], 1)
    assert (await rooms.call("GET", f"/rooms/{room['id']}", ana)).status_code == 404
    assert room["id"] not in {
        r["id"] for r in (await rooms.call("GET", "/rooms", ana)).json()["items"]
    }
    # The leaver opens it themselves: back in the same room.
    r = await _direct(rooms, ana, bo)
    assert (r.status_code, r.json()["id"], r.json()["member_count"]) == (200, room["id"], 2)
    # Both leave; whoever opens it comes back alone.
    assert (await rooms.remove(ana, room["id"], ana)).status_code == 204
    assert (await rooms.remove(bo, room["id"], bo)).status_code == 204
    r = await _direct(rooms, ana, bo)
    assert (r.status_code, r.json()["id"], r.json()["member_count"]) == (200, room["id"], 1)
    assert (await rooms.call("GET", f"/rooms/{room['id']}", bo)).status_code == 404
    events = await feed.exactly(room["id"], 6)
    assert [(e["type"], e["version"], e.get("user_id")) for e in events] == [
        ("room_created", 1, None),
        ("member_removed", 2, str(ana.id)),
        ("member_added", 3, str(ana.id)),
        ("member_removed", 4, str(ana.id)),
        ("member_removed", 5, str(bo.id)),
        ("member_added", 6, str(ana.id)),
    ]


async def test_the_database_allows_one_room_per_unordered_pair(
    db: asyncpg.Connection, room_service: ServiceProcess
) -> None:
    """The unique index refuses a second room for a pair; the pair is stored smaller id first."""
    low, high = sorted((uuid.uuid4(), uuid.uuid4()))
    insert = """INSERT INTO rooms.rooms (kind, created_by, direct_low, direct_high)
                VALUES ('direct', $1, $2, $3)"""
    await db.execute(insert, low, low, high)
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(insert, high, low, high)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(insert, high, high, low)
    await db.execute("DELETE FROM rooms.rooms WHERE direct_low = $1", low)


async def test_store_races_settle_on_the_unique_index(
    database_url: str, room_service: ServiceProcess
) -> None:
    """20 concurrent changes.create_direct calls (no pre-check, no HTTP, no advisory lock) for
    one pair: exactly one creates a room and publishes an event; the rest find it taken."""
    a, b = uuid.uuid4(), uuid.uuid4()
    pool = await asyncpg.create_pool(database_url, min_size=20, max_size=20)

    async def attempt(i: int) -> Change | None:
        async with pool.acquire() as conn:
            pair = (a, b) if i % 2 else (b, a)
            return await changes.create_direct(conn, uuid.uuid4(), *pair)

    try:
        answers = await asyncio.gather(*(attempt(i) for i in range(20)))
        created = [c for c in answers if c is not None]
        assert len(created) == 1
        assert len(created[0].events) == 1
        low, high = sorted((a, b))
        ids = await pool.fetch(
            "SELECT id FROM rooms.rooms WHERE direct_low = $1 AND direct_high = $2", low, high
        )
        assert [r["id"] for r in ids] == [created[0].row["id"]]
    finally:
        await pool.close()
