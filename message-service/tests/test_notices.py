"""Membership notices in a room's change stream: stored once, published live, read back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from chat_testkit.plugin import MakeUser
from chatcore.events import Kind

if TYPE_CHECKING:
    from conftest import Chat, Eventually, OpenFeed


async def _notices(chat: Chat, user: Any, room_id: str, **params: Any) -> list[dict[str, Any]]:
    r = await chat.call(
        "GET",
        "/messages/changes",
        user,
        params={"room_id": room_id, "kind": "membership", **params},
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_joins_removals_and_leaving_become_notices_in_order(
    chat: Chat, make_user: MakeUser, room_feed: OpenFeed, eventually: Eventually
) -> None:
    """Adding, removing and leaving are stored once each as ``membership`` changes with who
    made them, published live, and take positions but never a message seq."""
    owner, joiner, quitter = await make_user(), await make_user(), await make_user()
    room_id = await chat.room(owner, quitter)
    feed = await room_feed(room_id)
    first = await chat.send(owner, room_id, "before anyone joined")
    await chat.add(owner, room_id, joiner)
    await eventually(lambda: _has(chat, owner, room_id, 1), within=5)
    await chat.remove(owner, room_id, joiner)
    await chat.remove(quitter, room_id, quitter)
    await eventually(lambda: _has(chat, owner, room_id, 3), within=5)
    second = await chat.send(owner, room_id, "after")
    assert (first["seq"], second["seq"]) == (1, 2)

    notices = await _notices(chat, owner, room_id)
    assert [(n["change"], n["user_id"], n["by"]) for n in notices] == [
        ("joined", str(joiner.id), str(owner.id)),
        ("left", str(joiner.id), str(owner.id)),
        ("left", str(quitter.id), str(quitter.id)),
    ]
    assert [n["pos"] for n in notices] == [2, 3, 4]
    assert {n["seq_at"] for n in notices} == {1}
    assert all(n["type"] == "membership" and n["room_id"] == room_id for n in notices)

    r = await chat.call("GET", "/messages/changes", owner, params={"room_id": room_id})
    kinds = [item["type"] for item in r.json()["items"]]
    assert kinds == ["message", "membership", "membership", "membership", "message"]

    await feed.collect(5)
    published = [e for e in feed.events if e.kind is Kind.CHANGE]
    assert [orjson.loads(e.frame) for e in published] == notices
    assert [e.pos for e in published] == [2, 3, 4]


async def test_a_room_without_messages_gets_its_notices(
    chat: Chat, make_user: MakeUser, eventually: Eventually
) -> None:
    """A notice in a room nobody wrote in yet is stored, and the first message is seq 1."""
    owner, joiner = await make_user(), await make_user()
    room_id = await chat.room(owner)
    await chat.add(owner, room_id, joiner)
    await eventually(lambda: _has(chat, joiner, room_id, 1), within=5)
    message = await chat.send(joiner, room_id, "first words")
    assert message["seq"] == 1
    r = await chat.call("GET", "/messages/changes", joiner, params={"room_id": room_id})
    assert [item["type"] for item in r.json()["items"]] == ["membership", "message"]
    assert r.json()["last_seq"] == 1


async def test_kind_must_be_membership(chat: Chat, make_user: MakeUser) -> None:
    """Any other ``kind`` filter is refused with the field named."""
    owner = await make_user()
    room_id = await chat.room(owner)
    r = await chat.call(
        "GET", "/messages/changes", owner, params={"room_id": room_id, "kind": "reaction"}
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "kind"


async def _has(chat: Chat, user: Any, room_id: str, count: int) -> bool:
    return len(await _notices(chat, user, room_id)) >= count
