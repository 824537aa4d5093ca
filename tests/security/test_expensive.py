"""Expensive requests cost a bounded amount: `who` in a room of 10,000 members reads the room's
online set (no member paging, no call per member), and room creation is limited per user."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser, StartService
from chat_testkit.processes import ServiceProcess
from tests.chaos import report
from tests.security.sockets import next_frame, open_ws, send_frame

MEMBERS = 10_000


async def _member_requests(http: httpx.AsyncClient, rooms_url: str) -> float:
    """Requests room-service has answered on its member-list routes."""
    text = (await http.get(f"{rooms_url}/metrics")).text
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("http_requests_total") and "members" in line
    )


@pytest.fixture(scope="module")
def other_gateway(start_service: StartService, gateway_service: ServiceProcess) -> ServiceProcess:
    return start_service("gateway", migrate=False)


async def test_who_in_a_huge_room_does_not_page_its_members(
    gateway_service: ServiceProcess,
    other_gateway: ServiceProcess,
    room_service: ServiceProcess,
    database_url: str,
    chat: Chat,
    make_user: MakeUser,
) -> None:
    """In a room of 10,000 members (made in SQL), `who` asks room-service nothing and lists
    exactly the members online, whichever gateway holds them; one who leaves drops out."""
    a, b, c = await make_user(), await make_user(), await make_user()
    room_id = await chat.room(a, b, c)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO rooms.members (room_id, user_id, role) "
            "SELECT $1, gen_random_uuid(), 'member' FROM generate_series(1, $2::int)",
            uuid.UUID(room_id),
            MEMBERS - 3,
        )
        await conn.execute(
            "UPDATE rooms.rooms SET member_count = member_count + $2 WHERE id = $1",
            uuid.UUID(room_id),
            MEMBERS - 3,
        )
    finally:
        await conn.close()
    first = await open_ws(gateway_service.url, a.access_token)
    second = await open_ws(other_gateway.url, b.access_token)
    for ws in (first, second):
        await next_frame(ws, lambda f: f["type"] == "ready")
        await send_frame(ws, {"type": "ping"})
    before = await _member_requests(chat.http, room_service.url)
    online: list[str] = []
    for i in range(50):
        await send_frame(first, {"type": "who", "room_id": room_id, "ref": f"w{i}"})
        answer = await next_frame(first, lambda f, i=i: f.get("ref") == f"w{i}")
        assert answer["type"] == "presence_state", answer
        online = answer["online"]
        if len(online) == 2:
            break
        await asyncio.sleep(0.05)
    assert sorted(online) == sorted([str(a.id), str(b.id)])
    calls = await _member_requests(chat.http, room_service.url) - before
    assert calls == 0
    await second.close()
    for i in range(50):
        await send_frame(first, {"type": "who", "room_id": room_id, "ref": f"x{i}"})
        online = (await next_frame(first, lambda f, i=i: f.get("ref") == f"x{i}"))["online"]
        if online == [str(a.id)]:
            break
        await asyncio.sleep(0.1)
    assert online == [str(a.id)]
    await first.close()
    report.MEASURES.append(
        report.Measure(
            f"who in a room of {MEMBERS:,} members",
            f"{int(calls)} member-list requests, 2 candidates checked in Redis",
            "O(members online), no member paging",
        )
    )


async def test_room_creation_is_limited_per_user(
    start_service: StartService, room_service: ServiceProcess, chat: Chat, make_user: MakeUser
) -> None:
    """With bursts of 3 creations at 0.5/s, the 4th POST /rooms is 429 with Retry-After;
    another user is not affected."""
    rooms = start_service(
        "room_service", env={"ROOMS_CREATE_RATE": "0.5", "ROOMS_CREATE_BURST": "3"}, migrate=False
    )
    user, other = await make_user(), await make_user()

    async def create(who: object) -> httpx.Response:
        return await chat.http.post(
            f"{rooms.url}/rooms",
            json={"title": "many"},
            headers=who.headers,  # type: ignore[attr-defined]
        )

    statuses = [(await create(user)).status_code for _ in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    limited = await create(user)
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    assert (await create(other)).status_code == 201
    report.MEASURES.append(
        report.Measure(
            "POST /rooms loop (burst 3, 0.5/s)",
            "4th creation 429 with Retry-After",
            "the configured burst per user",
        )
    )
