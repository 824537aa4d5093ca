"""Read markers and unread counts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chat_testkit.plugin import MakeUser
from chat_testkit.users import TestUser

if TYPE_CHECKING:
    from conftest import Chat


async def _read(chat: Chat, user: TestUser, room_id: str, seq: Any) -> dict[str, Any]:
    r = await chat.call("POST", "/messages/read", user, json={"room_id": room_id, "seq": seq})
    assert r.status_code == 200, r.text
    state: dict[str, Any] = r.json()
    return state


async def _unread(chat: Chat, user: TestUser) -> dict[str, tuple[int, int, int]]:
    r = await chat.call("GET", "/messages/unread", user)
    assert r.status_code == 200, r.text
    return {i["room_id"]: (i["last_seq"], i["read_seq"], i["unread"]) for i in r.json()["items"]}


async def test_read_marker_never_moves_back_and_is_clamped(chat: Chat, make_user: MakeUser) -> None:
    """The marker moves forward only, and never past the room's last seq."""
    owner, reader = await make_user(), await make_user()
    room_id = await chat.room(owner, reader)
    for n in range(5):
        await chat.send(owner, room_id, f"m{n}")
    state = await _read(chat, reader, room_id, 3)
    assert state == {"room_id": room_id, "last_seq": 5, "read_seq": 3, "unread": 2}
    assert (await _read(chat, reader, room_id, 1))["read_seq"] == 3
    assert (await _read(chat, reader, room_id, 0))["read_seq"] == 3
    assert (await _read(chat, reader, room_id, 10**12))["read_seq"] == 5
    await chat.send(owner, room_id)
    assert (await _read(chat, reader, room_id, 4))["read_seq"] == 5
    # Concurrent marks end at the highest, whatever order they commit in.
    await chat.send(owner, room_id)
    await asyncio.gather(*(_read(chat, reader, room_id, s) for s in (7, 6, 5, 7, 6)))
    assert await _unread(chat, reader) == {room_id: (7, 7, 0)}


async def test_sending_moves_the_senders_marker(chat: Chat, make_user: MakeUser) -> None:
    """A sender has read up to their own message; the others have not."""
    a, b = await make_user(), await make_user()
    room_id = await chat.room(a, b)
    await chat.send(a, room_id)
    await chat.send(b, room_id)
    await chat.send(a, room_id)
    assert await _unread(chat, a) == {room_id: (3, 3, 0)}
    assert await _unread(chat, b) == {room_id: (3, 2, 1)}


async def test_unread_counts_for_every_room(
    chat: Chat, make_user: MakeUser, crowd: Sequence[TestUser]
) -> None:
    """Every room of the caller is listed, empty ones too, with correct counts."""
    me = await make_user()
    others = crowd[:3]
    rooms = [await chat.room(me, *others) for _ in range(4)]
    for i, room_id in enumerate(rooms):
        for n in range(i * 2):
            await chat.send(others[n % 3], room_id, f"m{n}")
    await _read(chat, me, rooms[2], 1)
    await _read(chat, me, rooms[3], 6)
    await chat.send(me, rooms[1])
    assert await _unread(chat, me) == {
        rooms[0]: (0, 0, 0),
        rooms[1]: (3, 3, 0),
        rooms[2]: (4, 1, 3),
        rooms[3]: (6, 6, 0),
    }
    # A room the caller leaves is no longer listed.
    await chat.remove(me, rooms[2], me)
    assert set(await _unread(chat, me)) == {rooms[0], rooms[1], rooms[3]}


async def test_rooms_with_positions(
    chat: Chat, make_user: MakeUser, crowd: Sequence[TestUser]
) -> None:
    """/messages/rooms joins room-service's entry of each room with where it stands."""
    me, other = await make_user(), crowd[0]
    room_id = await chat.room(other, me)
    for n in range(3):
        await chat.send(other, room_id, f"m{n}")
    await _read(chat, me, room_id, 1)
    answer = await chat.call("GET", "/messages/rooms", me)
    assert answer.status_code == 200
    [item] = answer.json()["items"]
    assert set(item) == {
        "room_id",
        "role",
        "joined_at",
        "version",
        "member_count",
        "last_seq",
        "read_seq",
        "unread",
        "mentions",
        "last_pos",
    }
    assert (item["room_id"], item["role"], item["member_count"]) == (room_id, "member", 2)
    assert (item["last_seq"], item["read_seq"], item["unread"]) == (3, 1, 2)
    assert (await chat.call("GET", "/messages/rooms", None)).status_code == 401


async def test_positions_of_rooms_for_the_gateway(
    chat: Chat, make_user: MakeUser, gateway_headers: dict[str, str]
) -> None:
    """/messages/positions gives each room's last seq and position, in the order asked (0 for a
    room with nothing yet), to the gateway only."""
    owner = await make_user()
    busy, quiet = await chat.room(owner), await chat.room(owner)
    for n in range(3):
        await chat.send(owner, busy, f"m{n}")
    unknown = str(uuid.uuid4())
    body = {"room_ids": [quiet, busy, unknown]}
    positions = f"{chat.url}/messages/positions"
    answer = await chat.http.post(positions, json=body, headers=gateway_headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"] == [
        {"room_id": quiet, "last_seq": 0, "last_pos": 0},
        {"room_id": busy, "last_seq": 3, "last_pos": 3},
        {"room_id": unknown, "last_seq": 0, "last_pos": 0},
    ]
    refused = await chat.call("POST", "/messages/positions", owner, json=body)
    assert refused.status_code == 403
    empty = await chat.http.post(positions, json={"room_ids": []}, headers=gateway_headers)
    assert empty.status_code == 422


async def test_bad_read_markers(chat: Chat, make_user: MakeUser) -> None:
    """Bad bodies get 400 or 422 naming the field."""
    owner = await make_user()
    room_id = await chat.room(owner)
    url = "/messages/read"
    for raw in [b"", b"{", b"[]", b"null"]:
        r = await chat.call("POST", url, owner, content=raw)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "malformed_json"), raw
    cases: list[tuple[dict[str, Any], str]] = [
        ({"seq": 1}, "room_id"),
        ({"room_id": room_id}, "seq"),
        ({"room_id": "nope", "seq": 1}, "room_id"),
        ({"room_id": room_id, "seq": -1}, "seq"),
        ({"room_id": room_id, "seq": "3"}, "seq"),
        ({"room_id": room_id, "seq": 1.5}, "seq"),
        ({"room_id": room_id, "seq": True}, "seq"),
        ({"room_id": room_id, "seq": None}, "seq"),
        ({"room_id": room_id, "seq": 2**63}, "seq"),
        ({"room_id": 7, "seq": 1}, "room_id"),
    ]
    for body, field in cases:
        r = await chat.call("POST", url, owner, json=body)
        assert (r.status_code, r.json()["error"]["field"]) == (422, field), body
