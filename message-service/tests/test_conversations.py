"""Replies, threads, mentions, reactions, receipts and the room's change stream."""

from __future__ import annotations

import asyncio
import urllib.parse
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from chat_testkit.plugin import MakeUser
from chat_testkit.users import TestUser
from chatcore.events import Kind

if TYPE_CHECKING:
    from conftest import Chat, OpenFeed


async def _post(chat: Chat, user: TestUser, room_id: str, **fields: Any) -> Any:
    return await chat.call(
        "POST",
        "/messages",
        user,
        json={"room_id": room_id, "body": "hi", "client_msg_id": uuid.uuid4().hex, **fields},
    )


def _emoji(value: str) -> str:
    return urllib.parse.quote(value, safe="")


async def _react(
    chat: Chat, user: TestUser, message_id: str, emoji: str, method: str = "PUT"
) -> Any:
    return await chat.call(method, f"/messages/{message_id}/reactions/{_emoji(emoji)}", user)


async def test_replies_threads_and_mentions(chat: Chat, make_user: MakeUser) -> None:
    """A reply quotes a message; a reply to a thread reply goes to the same root; the root
    carries the summary; mentions are kept; the timeline can leave thread replies out."""
    owner, member = await make_user(), await make_user()
    room_id = await chat.room(owner, member)
    root = await chat.send(owner, room_id, "루트 메시지")
    quoted = (await _post(chat, member, room_id, reply_to=root["id"])).json()
    assert (quoted["reply_to"], quoted["thread_root_id"]) == (root["id"], None)
    first = (await _post(chat, member, room_id, thread_root_id=root["id"])).json()
    second = await _post(
        chat, owner, room_id, thread_root_id=first["id"], mentions=[str(member.id)]
    )
    assert second.status_code == 201, second.text
    assert second.json()["thread_root_id"] == root["id"]
    assert second.json()["mentions"] == [str(member.id)]

    r = await chat.call("GET", f"/messages/threads/{root['id']}", member)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [m["id"] for m in page["items"]] == [first["id"], second.json()["id"]]
    assert page["root"]["thread"]["reply_count"] == 2
    assert page["root"]["thread"]["last_reply_seq"] == second.json()["seq"]
    assert page["root"]["thread"]["last_reply_at"].endswith("Z")
    one = await chat.call("GET", f"/messages/threads/{root['id']}", member, params={"limit": 1})
    rest = await chat.call(
        "GET",
        f"/messages/threads/{root['id']}",
        member,
        params={"limit": 1, "cursor": one.json()["next_cursor"]},
    )
    assert [m["id"] for m in rest.json()["items"]] == [second.json()["id"]]
    assert rest.json()["next_cursor"] is None
    via_reply = await chat.call("GET", f"/messages/threads/{first['id']}", member)
    assert via_reply.json()["root"]["id"] == root["id"]
    assert len(via_reply.json()["items"]) == 2

    everything = (await chat.history(member, room_id)).json()["items"]
    assert [m["seq"] for m in everything] == [4, 3, 2, 1]  # thread replies take room seqs
    top = (await chat.history(member, room_id, top_level="true")).json()["items"]
    assert [m["id"] for m in top] == [quoted["id"], root["id"]]
    assert top[1]["thread"]["reply_count"] == 2

    unread = (await chat.call("GET", "/messages/unread", member)).json()["items"]
    assert unread[0]["mentions"] == 1
    await chat.call("POST", "/messages/read", member, json={"room_id": room_id, "seq": 4})
    unread = (await chat.call("GET", "/messages/unread", member)).json()["items"]
    assert unread[0]["mentions"] == 0


async def test_bad_references_are_422(chat: Chat, make_user: MakeUser) -> None:
    """Replies to another room's or an unknown message, and mentions of non-members, get 422
    naming the field; a thread of a room one is not in is 404."""
    owner, outsider = await make_user(), await make_user()
    room_id = await chat.room(owner)
    other_room = await chat.room(outsider)
    foreign = await chat.send(outsider, other_room)
    for fields, field in [
        ({"reply_to": foreign["id"]}, "reply_to"),
        ({"thread_root_id": str(uuid.uuid4())}, "thread_root_id"),
        ({"mentions": [str(outsider.id)]}, "mentions"),
        ({"mentions": ["not-a-uuid"]}, "mentions.0"),
        ({"reply_to": 7}, "reply_to"),
    ]:
        r = await _post(chat, owner, room_id, **fields)
        assert r.status_code == 422, (fields, r.text)
        assert r.json()["error"]["code"] in ("invalid_input", "invalid_field"), r.text
        assert field in r.json()["error"]["message"], r.text
    assert (await chat.call("GET", f"/messages/threads/{foreign['id']}", owner)).status_code == 404


async def test_reactions_are_idempotent_and_validated(chat: Chat, make_user: MakeUser) -> None:
    """PUT twice counts once (200), DELETE answers 204 either way, text and several emoji
    are 404 (the path names no reaction), a 21st distinct emoji is 409."""
    owner, member = await make_user(), await make_user()
    room_id = await chat.room(owner, member)
    message = await chat.send(owner, room_id)
    for _ in range(2):
        r = await _react(chat, member, message["id"], "👍")
        assert r.status_code == 200, r.text
        assert r.json()["reactions"] == [{"emoji": "👍", "count": 1, "user_ids": [str(member.id)]}]
    assert (await _react(chat, owner, message["id"], "👨‍👩‍👧")).status_code == 200
    history = (await chat.history(owner, room_id)).json()["items"]
    assert [(x["emoji"], x["count"]) for x in history[0]["reactions"]] == [("👍", 1), ("👨‍👩‍👧", 1)]
    for _ in range(2):
        assert (await _react(chat, member, message["id"], "👍", "DELETE")).status_code == 204
    for bad in ["a", "👍👍", "<b>", "한"]:
        r = await _react(chat, member, message["id"], bad)
        assert r.status_code == 404, (bad, r.text)
        assert r.json()["error"]["code"] == "emoji_not_found"
    emoji = [chr(0x1F600 + n) for n in range(19)]
    for e in emoji:
        assert (await _react(chat, member, message["id"], e)).status_code == 200
    r = await _react(chat, member, message["id"], "🚀")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "too_many_reactions")
    assert (await _react(chat, member, message["id"], emoji[0])).status_code == 200
    stranger = await make_user()
    assert (await _react(chat, stranger, message["id"], "👍")).status_code == 404


async def test_fifty_users_reacting_at_once_are_counted_exactly(
    chat: Chat, make_user: MakeUser, crowd: Sequence[TestUser], room_feed: OpenFeed
) -> None:
    """50 users adding the same reaction at once: count 50, each frame with its own count
    1..50, positions gap-free; then all removing it at once: count 0."""
    owner = await make_user()
    room_id = await chat.room(owner, *crowd)
    message = await chat.send(owner, room_id)
    feed = await room_feed(room_id)
    answers = await asyncio.gather(*(_react(chat, u, message["id"], "🎉") for u in crowd))
    assert all(a.status_code == 200 for a in answers)
    history = (await chat.history(owner, room_id)).json()["items"]
    assert history[0]["reactions"][0]["count"] == 50
    assert len(history[0]["reactions"][0]["user_ids"]) == 50
    removed = await asyncio.gather(*(_react(chat, u, message["id"], "🎉", "DELETE") for u in crowd))
    assert all(a.status_code == 204 for a in removed)
    assert (await chat.history(owner, room_id)).json()["items"][0]["reactions"] == []
    await feed.collect(100)
    frames = [orjson.loads(e.frame) for e in feed.events]
    assert sorted(e.pos for e in feed.events) == list(range(2, 102))
    by_pos = sorted(frames, key=lambda f: f["pos"])
    assert [f["count"] for f in by_pos] == list(range(1, 51)) + list(range(49, -1, -1))
    assert all(f["type"] == "reaction" and f["message_id"] == message["id"] for f in frames)


async def test_concurrent_thread_replies_are_counted_exactly(
    chat: Chat, make_user: MakeUser, crowd: Sequence[TestUser]
) -> None:
    """50 replies to one thread at once: reply_count 50, last_reply_seq the newest seq."""
    owner = await make_user()
    room_id = await chat.room(owner, *crowd)
    root = await chat.send(owner, room_id)
    answers = await asyncio.gather(
        *(_post(chat, u, room_id, thread_root_id=root["id"]) for u in crowd)
    )
    assert all(a.status_code == 201 for a in answers)
    page = (await chat.call("GET", f"/messages/threads/{root['id']}", owner)).json()
    assert page["root"]["thread"]["reply_count"] == 50
    assert page["root"]["thread"]["last_reply_seq"] == 51
    assert [m["seq"] for m in page["items"]] == list(range(2, 52))


async def test_change_stream_replays_every_change_in_order(
    chat: Chat, make_user: MakeUser, room_feed: OpenFeed
) -> None:
    """GET /messages/changes gives the frames published live, in position order, from a
    position or from a message seq; live payloads carry the same positions."""
    owner, member = await make_user(), await make_user()
    room_id = await chat.room(owner, member)
    feed = await room_feed(room_id)
    first = await chat.send(owner, room_id, "one")
    await chat.call("PATCH", f"/messages/{first['id']}", owner, json={"body": "one!"})
    await _react(chat, member, first["id"], "👍")
    reply = (await _post(chat, member, room_id, thread_root_id=first["id"])).json()
    await chat.call("DELETE", f"/messages/{reply['id']}", member)
    await _react(chat, member, first["id"], "👍", "DELETE")

    r = await chat.call(
        "GET", "/messages/changes", member, params={"room_id": room_id, "after_pos": 0}
    )
    assert r.status_code == 200, r.text
    page = r.json()
    kinds = [(i["type"], i["pos"]) for i in page["items"]]
    assert kinds == [
        ("message", 1),
        ("message_edited", 2),
        ("reaction", 3),
        ("message", 4),
        ("thread_updated", 5),
        ("message_deleted", 6),
        ("reaction", 7),
    ]
    assert (page["last_pos"], page["last_seq"], page["next_cursor"]) == (7, 2, None)
    assert page["items"][4]["thread"]["reply_count"] == 1
    assert (page["items"][6]["added"], page["items"][6]["count"]) == (False, 0)

    await feed.collect(7)
    live = sorted(feed.events, key=lambda e: e.pos)
    assert [e.pos for e in live] == list(range(1, 8))
    assert [e.kind for e in live][:2] == [Kind.MESSAGE, Kind.CHANGE]
    assert [orjson.loads(e.frame)["type"] for e in live] == [t for t, _ in kinds]
    assert orjson.loads(live[2].frame) == page["items"][2]

    after = await chat.call(
        "GET", "/messages/changes", member, params={"room_id": room_id, "after_pos": 3}
    )
    assert [i["pos"] for i in after.json()["items"]] == [4, 5, 6, 7]
    by_seq = await chat.call(
        "GET", "/messages/changes", member, params={"room_id": room_id, "after_seq": 1}
    )
    assert by_seq.json()["after_pos"] == 1
    assert [i["pos"] for i in by_seq.json()["items"]] == [2, 3, 4, 5, 6, 7]
    small = await chat.call(
        "GET", "/messages/changes", member, params={"room_id": room_id, "after_pos": 0, "limit": 2}
    )
    assert [i["pos"] for i in small.json()["items"]] == [1, 2]
    assert small.json()["next_cursor"] is not None
    stranger = await make_user()
    r = await chat.call("GET", "/messages/changes", stranger, params={"room_id": room_id})
    assert r.status_code == 404


async def test_receipts_listed_and_published(
    chat: Chat, make_user: MakeUser, room_feed: OpenFeed
) -> None:
    """Reading publishes a receipt (small room) once per move; receipts list each reader."""
    owner, member = await make_user(), await make_user()
    room_id = await chat.room(owner, member)
    await chat.send(owner, room_id)
    await chat.send(owner, room_id)
    feed = await room_feed(room_id)
    for seq in (1, 1, 2):
        r = await chat.call("POST", "/messages/read", member, json={"room_id": room_id, "seq": seq})
        assert r.status_code == 200
    await feed.collect(2)
    assert [(e.kind, e.seq) for e in feed.events] == [(Kind.RECEIPT, 1), (Kind.RECEIPT, 2)]
    assert orjson.loads(feed.events[1].frame) == {
        "type": "receipt",
        "room_id": room_id,
        "user_id": str(member.id),
        "seq": 2,
    }
    r = await chat.call("GET", "/messages/receipts", owner, params={"room_id": room_id})
    assert r.status_code == 200
    assert {(i["user_id"], i["read_seq"]) for i in r.json()["items"]} == {
        (str(owner.id), 2),
        (str(member.id), 2),
    }
