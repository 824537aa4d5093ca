"""Edits and deletes: who may, tombstones, and the room-channel payloads they publish."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from chat_testkit.plugin import MakeUser
from chat_testkit.users import TestUser
from chatcore.events import Kind

if TYPE_CHECKING:
    from conftest import Chat, OpenFeed


async def _room(chat: Chat, make_user: MakeUser) -> tuple[str, list[TestUser]]:
    """A room with an owner, an admin and two members: (room_id, [owner, admin, m1, m2])."""
    users = [await make_user() for _ in range(4)]
    room_id = await chat.room(users[0], *users[1:])
    await chat.set_role(users[0], room_id, users[1], "admin")
    return room_id, users


async def test_sender_edits_and_others_cannot(
    chat: Chat, make_user: MakeUser, room_feed: OpenFeed
) -> None:
    """The sender edits (edited_at set, E payload); anyone else 403, even the owner."""
    room_id, (owner, admin, m1, _m2) = await _room(chat, make_user)
    feed = await room_feed(room_id)
    message = await chat.send(m1, room_id, "first draft")
    r = await chat.call("PATCH", f"/messages/{message['id']}", m1, json={"body": "  final  "})
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["body"] == "final"
    assert edited["edited_at"] is not None
    assert {k: v for k, v in edited.items() if k not in ("body", "edited_at")} == {
        k: v for k, v in message.items() if k not in ("body", "edited_at")
    }
    for other in (owner, admin):
        r = await chat.call("PATCH", f"/messages/{message['id']}", other, json={"body": "x"})
        assert (r.status_code, r.json()["error"]["code"]) == (403, "not_sender")
    history = (await chat.history(m1, room_id)).json()["items"]
    assert history == [edited]

    await feed.collect(2)
    assert [(e.kind, e.seq) for e in feed.events] == [(Kind.MESSAGE, 1), (Kind.CHANGE, 1)]
    assert orjson.loads(feed.events[1].frame) == {
        "type": "message_edited",
        "pos": 2,
        "message": edited,
    }
    assert [e.pos for e in feed.events] == [1, 2]


async def test_delete_permissions_and_tombstones(
    chat: Chat, make_user: MakeUser, room_feed: OpenFeed
) -> None:
    """Sender, owner and admin delete; a plain member 403; the row stays as a tombstone."""
    room_id, (owner, admin, m1, m2) = await _room(chat, make_user)
    feed = await room_feed(room_id)
    messages = [await chat.send(m1, room_id, f"m{n}") for n in range(3)]
    r = await chat.call("DELETE", f"/messages/{messages[0]['id']}", m2)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
    tombstones: list[dict[str, Any]] = []
    for actor, message in zip((m1, owner, admin), messages, strict=True):
        r = await chat.call("DELETE", f"/messages/{message['id']}", actor)
        assert r.status_code == 200, r.text
        tombstones.append(r.json())
    for tombstone, message in zip(tombstones, messages, strict=True):
        assert tombstone == {**message, "body": None, "deleted": True}

    # Deleting again answers the tombstone and publishes nothing.
    again = await chat.call("DELETE", f"/messages/{messages[0]['id']}", m1)
    assert (again.status_code, again.json()) == (200, tombstones[0])
    history = (await chat.history(m2, room_id, after_seq=0)).json()["items"]
    assert history == tombstones

    # A tombstone cannot be edited.
    r = await chat.call("PATCH", f"/messages/{messages[0]['id']}", m1, json={"body": "back"})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "message_deleted")

    await feed.collect(6)
    changes = [e for e in feed.events if e.kind is Kind.CHANGE]
    assert [e.seq for e in changes] == [1, 2, 3]
    # Three messages took positions 1 to 3; the deletes take the next three.
    assert [orjson.loads(e.frame) for e in changes] == [
        {"type": "message_deleted", "pos": 4 + i, "message": t} for i, t in enumerate(tombstones)
    ]


async def test_unknown_and_foreign_messages_are_404(chat: Chat, make_user: MakeUser) -> None:
    """Unknown, non-UUID and other rooms' message ids all get the same 404."""
    owner, outsider = await make_user(), await make_user()
    room_id = await chat.room(owner)
    message = await chat.send(owner, room_id)
    ids = [message["id"], "4b8f4a39-3d29-4c55-9a4c-2f1b8a1c0e77", "not-a-uuid", "9" * 5000]
    answers = []
    for message_id in ids:
        user = outsider if message_id == message["id"] else owner
        answers.append(await chat.call("DELETE", f"/messages/{message_id}", user))
        answers.append(
            await chat.call("PATCH", f"/messages/{message_id}", user, json={"body": "x"})
        )
    assert {a.status_code for a in answers} == {404}
    assert {a.json()["error"]["code"] for a in answers[:4]} == {"message_not_found"}
    assert {a.text for a in answers[:4]} == {answers[0].text}
