"""The room change stream over real processes: resume replays edits, deletes and reactions on
messages the client held, lost change publishes are found and filled, removed members get
nothing more, and conversation sends over the socket."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from chat_testkit.plugin import MakeUser, StartService
from chat_testkit.processes import ServiceProcess
from chat_testkit.servers import free_port
from chat_testkit.users import TestUser

Open = Callable[..., Any]

_STREAM = {"message", "message_edited", "message_deleted", "reaction", "thread_updated"}


@pytest.fixture(scope="module")
def silent_messages(
    start_service: StartService, message_service: ServiceProcess, redis_prefix: str
) -> ServiceProcess:
    """A message-service replica that commits to the same database but publishes on another
    Redis prefix: every change made through it is a publish the gateway never sees."""
    port = free_port()
    env = {"MESSAGES_PORT": str(port), "REDIS_PREFIX": f"{redis_prefix}silent:"}
    return start_service("message_service", port=port, env=env, migrate=False)


@pytest.fixture(scope="module")
def checking_gateway(
    start_service: StartService, gateway_service: ServiceProcess
) -> ServiceProcess:
    """A gateway that checks silent rooms every second."""
    port = free_port()
    env = {"GATEWAY_PORT": str(port), "GATEWAY_GAP_CHECK_INTERVAL": "1"}
    return start_service("gateway", port=port, env=env, migrate=False)


async def _call(
    http: httpx.AsyncClient, base: str, method: str, path: str, user: TestUser, **kw: Any
) -> httpx.Response:
    return await http.request(method, f"{base}{path}", headers=user.headers, **kw)


def _reaction_path(message_id: str, emoji: str) -> str:
    return f"/messages/{message_id}/reactions/{urllib.parse.quote(emoji, safe='')}"


async def _changes(socket: Any, room_id: str, count: int, timeout: float = 10.0) -> list[Any]:
    """The next ``count`` change-stream frames of a room."""
    got: list[dict[str, Any]] = []
    while len(got) < count:
        frame = await socket.next(timeout)
        if frame["type"] in _STREAM and (
            frame.get("room_id") == room_id or frame.get("message", {}).get("room_id") == room_id
        ):
            got.append(frame)
    return got


@pytest.mark.parametrize("with_positions", [True, False])
async def test_resume_replays_edits_deletes_and_reactions_on_held_messages(
    gateway_service: ServiceProcess,
    message_service: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
    http: httpx.AsyncClient,
    with_positions: bool,
) -> None:
    """A client that held messages 1-2 and resumes gets the edit, delete and reaction made
    while it was away, then the new message, in position order, once; with its change
    position, or with only its last seq (the contract's resume)."""
    reader, writer = await make_user(), await make_user()
    room = await api.room(writer, reader)
    client = await open_socket(gateway_service.url, reader.access_token, live=True)
    first = await api.send(writer, room, "first")
    second = await api.send(writer, room, "second")
    held = await _changes(client, room, 2)
    assert [f["pos"] for f in held] == [1, 2]
    await client.close()

    base = message_service.url
    r = await _call(http, base, "PATCH", f"/messages/{first['id']}", writer, json={"body": "1!"})
    assert r.status_code == 200
    assert (await _call(http, base, "DELETE", f"/messages/{second['id']}", writer)).is_success
    r = await _call(http, base, "PUT", _reaction_path(first["id"], "👍"), writer)
    assert r.status_code == 200
    await api.send(writer, room, "third")

    again = await open_socket(gateway_service.url, reader.access_token, ready=False)
    await again.until(lambda f: f["type"] == "ready")
    resume: dict[str, Any] = {"type": "resume", "ref": "back", "rooms": {room: 2}}
    if with_positions:
        resume["positions"] = {room: 2}
    await again.send(resume)
    replay = await _changes(again, room, 4)
    assert [(f["type"], f["pos"]) for f in replay] == [
        ("message_edited", 3),
        ("message_deleted", 4),
        ("reaction", 5),
        ("message", 6),
    ]
    assert replay[0]["message"]["body"] == "1!"
    assert replay[1]["message"]["deleted"] is True
    assert (replay[2]["emoji"], replay[2]["count"], replay[2]["added"]) == ("👍", 1, True)
    resumed = await again.until(lambda f: f["type"] == "resumed")
    assert (resumed["rooms"], resumed["positions"]) == ({room: 3}, {room: 6})
    assert not [f for f in await again.quiet(0.5) if f["type"] in _STREAM]


async def test_lost_edit_and_reaction_publishes_are_found_and_filled(
    checking_gateway: ServiceProcess,
    silent_messages: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
    http: httpx.AsyncClient,
    message_service: ServiceProcess,
) -> None:
    """An edit and a reaction whose publishes never reach Redis arrive in order: before the
    next published change, or alone through the silent-room check."""
    sender, reader = await make_user(), await make_user()
    room = await api.room(sender, reader)
    client = await open_socket(checking_gateway.url, reader.access_token, live=True)
    message = await api.send(sender, room, "hello")
    assert [f["pos"] for f in await _changes(client, room, 1)] == [1]

    lost = silent_messages.url
    r = await _call(http, lost, "PATCH", f"/messages/{message['id']}", sender, json={"body": "x"})
    assert r.status_code == 200
    r = await _call(http, message_service.url, "PUT", _reaction_path(message["id"], "🎉"), reader)
    assert r.status_code == 200
    frames = await _changes(client, room, 2)
    assert [(f["type"], f["pos"]) for f in frames] == [("message_edited", 2), ("reaction", 3)]

    # Nothing follows this one: the periodic check finds it.
    r = await _call(http, lost, "DELETE", _reaction_path(message["id"], "🎉"), reader)
    assert r.status_code == 204
    [alone] = await _changes(client, room, 1, timeout=10)
    assert (alone["type"], alone["pos"], alone["added"], alone["count"]) == (
        "reaction",
        4,
        False,
        0,
    )


async def test_a_removed_member_gets_no_further_change(
    gateway_service: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
    http: httpx.AsyncClient,
    message_service: ServiceProcess,
) -> None:
    """After removal: no message, edit, reaction or thread frame of the room, live or on a
    resume, while a remaining member gets them all."""
    owner, leaver, stayer = await make_user(), await make_user(), await make_user()
    room = await api.room(owner, leaver, stayer)
    gone = await open_socket(gateway_service.url, leaver.access_token, live=True)
    stays = await open_socket(gateway_service.url, stayer.access_token, live=True)
    message = await api.send(owner, room, "before")
    await _changes(gone, room, 1)
    await api.remove(owner, room, leaver)
    await gone.until(lambda f: f["type"] == "room_removed")

    base = message_service.url
    await _call(http, base, "PATCH", f"/messages/{message['id']}", owner, json={"body": "e"})
    await _call(http, base, "PUT", _reaction_path(message["id"], "👀"), owner)
    r = await _call(
        http,
        base,
        "POST",
        "/messages",
        owner,
        json={"room_id": room, "body": "t", "client_msg_id": "t1", "thread_root_id": message["id"]},
    )
    assert r.status_code == 201
    seen = await _changes(stays, room, 5)
    assert [f["type"] for f in seen] == [
        "message",
        "message_edited",
        "reaction",
        "message",
        "thread_updated",
    ]
    assert seen[4]["thread"]["reply_count"] == 1
    assert not [f for f in await gone.quiet(0.7) if f["type"] in _STREAM]
    await gone.send({"type": "resume", "rooms": {room: 0}, "positions": {room: 0}})
    answer = await gone.until(lambda f: f["type"] in ("error", "resumed"))
    assert answer.get("code") == "not_a_member" or room not in answer.get("rooms", {})
    assert not [f for f in await gone.quiet(0.5) if f["type"] in _STREAM]


async def test_replies_mentions_reactions_and_receipts_over_the_socket(
    gateway_service: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
    http: httpx.AsyncClient,
    message_service: ServiceProcess,
) -> None:
    """A send frame with reply_to, thread_root_id and mentions is acked with them; a bad
    reference is an invalid_input error; a read sends a receipt frame to the others."""
    alice, bob = await make_user(), await make_user()
    room = await api.room(alice, bob)
    a = await open_socket(gateway_service.url, alice.access_token, live=True)
    b = await open_socket(gateway_service.url, bob.access_token, live=True)
    root = await api.send(alice, room, "루트")
    await a.send(
        {
            "type": "send",
            "ref": "s1",
            "room_id": room,
            "body": "reply",
            "client_msg_id": "c1",
            "reply_to": root["id"],
            "thread_root_id": root["id"],
            "mentions": [str(bob.id)],
        }
    )
    ack = await a.until(lambda f: f.get("ref") == "s1")
    assert ack["type"] == "ack", ack
    assert ack["message"]["thread_root_id"] == root["id"]
    assert ack["message"]["reply_to"] == root["id"]
    assert ack["message"]["mentions"] == [str(bob.id)]
    updated = await b.until(lambda f: f["type"] == "thread_updated")
    assert (updated["root_id"], updated["thread"]["reply_count"]) == (root["id"], 1)

    await a.send(
        {
            "type": "send",
            "ref": "s2",
            "room_id": room,
            "body": "x",
            "client_msg_id": "c2",
            "mentions": [str(root["id"])],
        }
    )
    error = await a.until(lambda f: f.get("ref") == "s2")
    assert (error["type"], error["code"]) == ("error", "invalid_input")
    await a.send(
        {
            "type": "send",
            "ref": "s3",
            "room_id": room,
            "body": "x",
            "client_msg_id": "c3",
            "reply_to": "nope",
        }
    )
    error = await a.until(lambda f: f.get("ref") == "s3")
    assert (error["type"], error["code"]) == ("error", "invalid_field")

    await b.send({"type": "read", "room_id": room, "seq": 2})
    receipt = await a.until(lambda f: f["type"] == "receipt")
    assert receipt == {"type": "receipt", "room_id": room, "user_id": str(bob.id), "seq": 2}
    await asyncio.sleep(0)


async def test_changes_to_messages_older_than_the_connection_reach_it(
    gateway_service: ServiceProcess,
    message_service: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
    http: httpx.AsyncClient,
) -> None:
    """The rule (docs/protocol.md): a connection gets every change made after it started,
    whichever message it touches, so an edit of seq 1 reaches a connection that started at
    seq 3, in position order with what follows, and only once."""
    owner, late = await make_user(), await make_user()
    room = await api.room(owner, late)
    old = await api.send(owner, room, "old")
    for _ in range(2):
        await api.send(owner, room, "more")
    client = await open_socket(gateway_service.url, late.access_token, ready=False)
    ready = await client.until(lambda f: f["type"] == "ready")
    assert ready["rooms"] == [{"room_id": room, "last_seq": 3, "last_pos": 3}]
    await client.send({"type": "ping"})
    await client.until(lambda f: f["type"] == "pong")
    r = await _call(
        http, message_service.url, "PATCH", f"/messages/{old['id']}", owner, json={"body": "new"}
    )
    assert r.status_code == 200
    await api.send(owner, room, "after")
    frames = await _changes(client, room, 2)
    assert [(f["type"], f["pos"]) for f in frames] == [("message_edited", 4), ("message", 5)]
    assert (frames[0]["message"]["seq"], frames[0]["message"]["body"]) == (1, "new")
    assert not [f for f in await client.quiet(0.5) if f["type"] in _STREAM]
