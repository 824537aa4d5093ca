"""One user in 1,000 rooms: GET /rooms pages every room exactly once; /rooms/joined has all."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import pytest

from chat_testkit.processes import ServiceProcess

if TYPE_CHECKING:
    from conftest import MakeUsers, Rooms

ROOMS = 1000
CONCURRENCY = 16


async def _all_pages(rooms: Rooms, user: Any, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        r = await rooms.call("GET", "/rooms", user, params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert len(page["items"]) == limit


@pytest.mark.slow
async def test_a_user_in_1000_rooms(
    rooms: Rooms, make_users: MakeUsers, second_rooms: ServiceProcess
) -> None:
    """1,000 rooms made concurrently (half by the user, half by another naming them) page
    out exactly once each at any limit, newest first; /rooms/joined lists all 1,000."""
    many, other = await make_users(2)
    gate = asyncio.Semaphore(CONCURRENCY)
    # Both replicas take requests, so the rooms are made on both cores when they are free.
    makers = [rooms, type(rooms)(rooms.http, second_rooms.url)]

    async def make(i: int) -> str:
        async with gate:
            maker = makers[i // 2 % 2]
            if i % 2:
                room = await maker.create(many, f"Room {i}")
            else:
                room = await maker.create(other, f"Room {i}", [many])
            return str(room["id"])

    started = time.monotonic()
    made = await asyncio.gather(*(make(i) for i in range(ROOMS)))
    created_in = time.monotonic() - started
    assert len(set(made)) == ROOMS
    for limit in (200, 37):
        items = await _all_pages(rooms, many, limit)
        ids = [item["id"] for item in items]
        assert len(ids) == ROOMS, limit
        assert set(ids) == set(made), limit
    roles = {item["id"]: item["my_role"] for item in items}
    assert sorted(roles.values()).count("owner") == ROOMS // 2
    # Newest first: the last room made is on the first page of the default limit.
    first = (await rooms.call("GET", "/rooms", many)).json()
    assert len(first["items"]) == 50
    assert first["next_cursor"] is not None
    started = time.monotonic()
    joined = await rooms.call("GET", "/rooms/joined", many)
    joined_in = time.monotonic() - started
    assert joined.status_code == 200
    entries = joined.json()["items"]
    assert sorted(e["room_id"] for e in entries) == sorted(made)
    assert {e["room_id"]: e["role"] for e in entries} == roles
    assert {e["version"] for e in entries} == {1}
    print(
        f"\n1,000 rooms created in {created_in:.2f} s; /rooms/joined in {joined_in * 1000:.1f} ms"
    )
