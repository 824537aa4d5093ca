"""POST /messages/changes: many rooms' change streams in one call."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest

from chat_testkit.plugin import MakeUser
from chat_testkit.users import TestUser
from message_service.changes import ROOMS_MAX, shares
from message_service.membership import LIST_PAST

if TYPE_CHECKING:
    from conftest import Chat


async def _changes_of(chat: Chat, user: TestUser, rooms: list[dict[str, Any]], **body: Any) -> Any:
    r = await chat.call("POST", "/messages/changes", user, json={"rooms": rooms, **body})
    assert r.status_code == 200, r.text
    return r.json()["rooms"]


async def _busy_room(chat: Chat, owner: TestUser, member: TestUser, count: int) -> str:
    """A room of ``owner`` and ``member`` with ``count`` messages, the first edited and
    reacted to: new messages and other changes interleaved."""
    room_id = await chat.room(owner, member)
    first = await chat.send(owner, room_id, "one")
    for n in range(count - 1):
        await chat.send(member, room_id, f"m{n}")
    await chat.call("PATCH", f"/messages/{first['id']}", owner, json={"body": "one!"})
    await chat.call("PUT", f"/messages/{first['id']}/reactions/%F0%9F%91%8D", member)
    return room_id


async def test_each_room_gets_the_page_its_own_read_gets(chat: Chat, make_user: MakeUser) -> None:
    """Each room's page is the one GET /messages/changes gives for it, from a position or a
    seq, in the order asked; a room with nothing new gets an empty page; a room named twice
    gets a page for each position."""
    owner, member = await make_user(), await make_user()
    busy = [await _busy_room(chat, owner, member, count) for count in (3, 5)]
    quiet = await chat.room(owner, member)
    asks: list[dict[str, Any]] = [
        {"room_id": busy[1], "after_pos": 2},
        {"room_id": busy[0], "after_seq": 1},
        {"room_id": quiet},
        {"room_id": busy[1], "after_pos": 5},
    ]
    rooms = await _changes_of(chat, member, asks)
    assert [room["room_id"] for room in rooms] == [busy[1], busy[0], quiet, busy[1]]
    assert [room["status"] for room in rooms] == [200, 200, 200, 200]
    for ask, room in zip(asks, rooms, strict=True):
        alone = await chat.call("GET", "/messages/changes", member, params=ask)
        assert room["page"] == alone.json()
    assert [i["pos"] for i in rooms[0]["page"]["items"]] == [3, 4, 5, 6, 7]
    assert [i["type"] for i in rooms[1]["page"]["items"]] == [
        "message",
        "message",
        "message_edited",
        "reaction",
    ]
    assert rooms[2]["page"]["items"] == []
    assert [i["pos"] for i in rooms[3]["page"]["items"]] == [6, 7]


async def test_rooms_the_caller_is_not_in_are_answered_404_alike(
    chat: Chat, make_user: MakeUser
) -> None:
    """A room the caller is not in gets 404 room_not_found in its place, the same answer as a
    room that does not exist; the caller's other rooms are answered."""
    owner, member, stranger = await make_user(), await make_user(), await make_user()
    theirs = await _busy_room(chat, owner, member, 2)
    mine = await _busy_room(chat, stranger, owner, 2)
    nowhere = str(uuid.uuid4())
    rooms = await _changes_of(
        chat,
        stranger,
        [{"room_id": theirs, "after_pos": 0}, {"room_id": mine}, {"room_id": nowhere}],
    )
    assert [room["status"] for room in rooms] == [404, 200, 404]
    assert [i["pos"] for i in rooms[1]["page"]["items"]] == [1, 2, 3, 4]
    refused = [{k: v for k, v in room.items() if k != "room_id"} for room in (rooms[0], rooms[2])]
    assert refused[0] == refused[1]
    assert refused[0]["error"]["code"] == "room_not_found"
    assert "page" not in refused[0]


async def test_many_rooms_not_yet_checked_are_checked_in_one_list(
    chat: Chat, make_user: MakeUser
) -> None:
    """Past a few rooms whose membership is not known yet, one list of the caller's rooms
    answers them: still 404 for each room the caller is not in, 200 for each it is."""
    owner, member = await make_user(), await make_user()
    mine = [await chat.room(owner, member) for _ in range(LIST_PAST)]
    theirs = [await chat.room(owner) for _ in range(3)]
    await chat.send(owner, mine[0], "one")
    asked = [*mine, *theirs, str(uuid.uuid4())]
    rooms = await _changes_of(chat, member, [{"room_id": room} for room in asked])
    assert [room["status"] for room in rooms] == [200] * len(mine) + [404] * 4
    assert [i["pos"] for i in rooms[0]["page"]["items"]] == [1]


async def test_pages_are_bounded_per_room(chat: Chat, make_user: MakeUser) -> None:
    """``limit`` bounds each room's page; a room with more says where to go on from."""
    owner, member = await make_user(), await make_user()
    first, second = [await _busy_room(chat, owner, member, 4) for _ in range(2)]
    rooms = await _changes_of(
        chat, member, [{"room_id": first, "after_pos": 0}, {"room_id": second}], limit=3
    )
    for room in rooms:
        page = room["page"]
        assert [i["pos"] for i in page["items"]] == [1, 2, 3]
        assert (page["next_cursor"], page["last_pos"]) == ("3", 6)


def test_the_total_is_shared_evenly_among_rooms_that_want_more() -> None:
    """No room gets more than it wants; rooms that want more than an even share split what
    the others leave; the sum never passes the total."""
    assert shares([10, 10], 100) == [10, 10]
    assert shares([200, 5, 200, 0], 100) == [47, 5, 48, 0]
    assert shares([200] * 100, 5000) == [50] * 100
    assert shares([1] * 99 + [200], 5000) == [1] * 99 + [200]
    assert sum(shares([7, 200, 3000, 1], 2500)) == 2500
    assert shares([], 5000) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "rooms"),
        ({"rooms": []}, "rooms"),
        ({"rooms": "all"}, "rooms"),
        ({"rooms": [{"room_id": str(uuid.uuid4())} for _ in range(ROOMS_MAX + 1)]}, "rooms"),
        ({"rooms": [{"room_id": "nope"}]}, "rooms.0.room_id"),
        ({"rooms": [{}]}, "rooms.0.room_id"),
        ({"rooms": [7]}, "rooms.0"),
        ({"rooms": [{"room_id": str(uuid.uuid4()), "after_pos": -1}]}, "rooms.0.after_pos"),
        ({"rooms": [{"room_id": str(uuid.uuid4()), "after_pos": "3"}]}, "rooms.0.after_pos"),
        ({"rooms": [{"room_id": str(uuid.uuid4()), "after_seq": True}]}, "rooms.0.after_seq"),
        ({"rooms": [{"room_id": str(uuid.uuid4()), "after_seq": 2**63}]}, "rooms.0.after_seq"),
        ({"rooms": [{"room_id": str(uuid.uuid4())}], "limit": 0}, "limit"),
        ({"rooms": [{"room_id": str(uuid.uuid4())}], "limit": 201}, "limit"),
        ({"rooms": [{"room_id": str(uuid.uuid4())}], "limit": 2.5}, "limit"),
    ],
)
async def test_bad_bodies_are_refused_naming_the_field(
    chat: Chat, make_user: MakeUser, body: Any, field: str
) -> None:
    """A body that is not a valid request gets 422 naming the field, never a 500."""
    user = await make_user()
    r = await chat.call("POST", "/messages/changes", user, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


async def test_not_json_or_no_token_is_refused(chat: Chat, make_user: MakeUser) -> None:
    """A body that is not JSON gets 400, a call without a token 401."""
    user = await make_user()
    r = await chat.call("POST", "/messages/changes", user, content=b"{rooms")
    assert r.status_code == 400, r.text
    r = await chat.call("POST", "/messages/changes", None, json={"rooms": []})
    assert r.status_code == 401, r.text
