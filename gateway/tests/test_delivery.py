"""Delivery over real processes: order, membership changes, resume, typing and presence,
requests over the socket (lost events and slow clients: test_delivery_faults.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess

Open = Callable[..., Any]


async def test_members_see_each_others_messages_in_order_and_outsiders_nothing(
    send_many: Any,
    gateway_service: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
) -> None:
    """Two members get every message of the room in seq order; a third user gets none."""
    a, b, c = await make_user(), await make_user(), await make_user()
    room = await api.room(a, b)
    sa = await open_socket(gateway_service.url, a.access_token)
    sb = await open_socket(gateway_service.url, b.access_token, header=False)
    sc = await open_socket(gateway_service.url, c.access_token)

    async def over_socket() -> None:
        for i in range(10):
            await sa.send(
                {
                    "type": "send",
                    "room_id": room,
                    "body": f"a{i}",
                    "client_msg_id": f"a{i}",
                    "ref": f"r{i}",
                }
            )

    await asyncio.gather(over_socket(), send_many(api, [b], room, 10, "from b"))
    seqs_a = await sa.messages(room, 20)
    seqs_b = await sb.messages(room, 20)
    assert seqs_a == list(range(1, 21))
    assert seqs_b == list(range(1, 21))
    while len({f["ref"] for f in sa.frames if f["type"] == "ack"}) < 10:
        await sa.until(lambda f: f["type"] == "ack")
    acks = [f for f in sa.frames if f["type"] == "ack"]
    assert sorted(f["message"]["body"] for f in acks) == sorted(f"a{i}" for i in range(10))
    assert not [f for f in await sc.quiet(1.0) if f["type"] == "message"]


async def test_added_member_gets_the_room_live_and_removal_stops_it(
    gateway_service: ServiceProcess, make_user: MakeUser, open_socket: Open, api: Any
) -> None:
    """room_added then messages with no reconnect; after removal, nothing within a second."""
    owner, newcomer = await make_user(), await make_user()
    room = await api.room(owner)
    await api.send(owner, room, "before")
    client = await open_socket(gateway_service.url, newcomer.access_token)
    await client.send({"type": "ping"})
    await api.add(owner, room, newcomer)
    added = await client.until(lambda f: f["type"] == "room_added")
    assert added["room"]["id"] == room
    assert added["room"]["my_role"] == "member"
    sent = await api.send(owner, room, "after")
    frame = await client.until(lambda f: f["type"] == "message")
    assert frame["message"]["seq"] == sent["seq"]
    await api.remove(owner, room, newcomer)
    removed = await client.until(lambda f: f["type"] == "room_removed", timeout=1.0)
    assert removed["room"]["id"] == room
    await api.send(owner, room, "gone")
    assert not [f for f in await client.quiet(1.0) if f["type"] == "message"]


async def test_resume_after_disconnect_gets_exactly_the_missed_messages(
    send_many: Any,
    gateway_service: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
) -> None:
    """500 messages sent while away arrive on resume in order, once, then live at the seam."""
    reader, *senders = [await make_user() for _ in range(6)]
    room = await api.room(senders[0], reader, *senders[1:])
    first = await open_socket(gateway_service.url, reader.access_token)
    await first.send({"type": "ping"})
    await api.send(senders[0], room, "seen")
    assert await first.messages(room, 1) == [1]
    await first.close()
    await send_many(api, senders, room, 500, "while away")
    again = await open_socket(gateway_service.url, reader.access_token, header=False, ready=False)
    await again.until(lambda f: f["type"] == "ready")
    await again.send({"type": "resume", "ref": "r", "rooms": {room: 1}})
    live = asyncio.create_task(api.send(senders[1], room, "at the seam"))
    seqs = await again.messages(room, 501, timeout=30)
    await live
    assert seqs == list(range(2, 503))
    if not [f for f in again.frames if f["type"] == "resumed"]:
        await again.until(lambda f: f["type"] == "resumed")
    resumed = next(f for f in again.frames if f["type"] == "resumed")
    assert resumed["ref"] == "r"
    assert resumed["rooms"][room] >= 501
    assert not [f for f in await again.quiet(0.5) if f["type"] == "message"]


async def test_resume_of_many_rooms_replays_each_room_in_order_once(
    send_many: Any,
    gateway_service: ServiceProcess,
    message_service: ServiceProcess,
    http: httpx.AsyncClient,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
) -> None:
    """A resume of 30 rooms (one missed more than a page, one had a held message edited and
    reacted to) gets every change of each room after its position, in position order, once,
    then ``resumed`` with each room's seq, then live frames."""
    reader, *senders = [await make_user() for _ in range(5)]
    rooms = [await api.room(senders[0], reader, *senders[1:]) for _ in range(30)]
    held = [await api.send(senders[0], room, "seen") for room in rooms]
    await send_many(api, senders, rooms[0], 250, "while away")
    for room in rooms[1:]:
        await send_many(api, senders, room, 3, "while away")
    target = f"{message_service.url}/messages/{held[1]['id']}"
    r = await http.patch(target, json={"body": "edited"}, headers=senders[0].headers)
    assert r.status_code == 200, r.text
    r = await http.put(f"{target}/reactions/%F0%9F%91%8D", headers=senders[1].headers)
    assert r.status_code == 200, r.text
    missed = dict.fromkeys(rooms, 3) | {rooms[0]: 250, rooms[1]: 5}

    again = await open_socket(gateway_service.url, reader.access_token, header=False, ready=False)
    await again.until(lambda f: f["type"] == "ready")
    await again.send(
        {
            "type": "resume",
            "ref": "many",
            "rooms": dict.fromkeys(rooms, 1),
            "positions": dict.fromkeys(rooms[2:], 1),
        }
    )
    positions: dict[str, list[int]] = {room: [] for room in rooms}
    resumed: dict[str, Any] | None = None
    while sum(map(len, positions.values())) < sum(missed.values()) or resumed is None:
        frame = await again.next(timeout=20)
        room_id = frame.get("room_id") or frame.get("message", {}).get("room_id")
        if frame["type"] == "resumed":
            resumed = frame
        elif room_id in positions and "pos" in frame:
            positions[room_id].append(frame["pos"])
    assert positions == {room: list(range(2, 2 + count)) for room, count in missed.items()}
    assert resumed["ref"] == "many"
    assert resumed["rooms"] == {room: 251 if room == rooms[0] else 4 for room in rooms}
    sent = await api.send(senders[2], rooms[5], "live")
    frame = await again.until(lambda f: f["type"] == "message")
    assert frame["message"]["id"] == sent["id"]
    assert frame["pos"] == 5
    assert not [f for f in await again.quiet(0.5) if f.get("pos")]


async def test_late_resume_rewinds_a_quiet_room_and_reports_a_busy_one(
    gateway_service: ServiceProcess, make_user: MakeUser, open_socket: Open, api: Any
) -> None:
    """A resume that comes after the grace still replays a room that has delivered nothing
    since ``ready``; a room that already went live past the claimed seq is not rewound (that
    would break seq order) and ``resumed`` says where it stands."""
    user, other = await make_user(), await make_user()
    quiet = await api.room(user, other)
    busy = await api.room(user, other)
    for room in (quiet, busy):
        for _ in range(3):
            await api.send(other, room, "before")
    client = await open_socket(gateway_service.url, user.access_token, header=False, ready=False)
    await client.until(lambda f: f["type"] == "ready")
    await asyncio.sleep(1.3)  # past GATEWAY_RESUME_GRACE_MS (500 ms, 1 s at most): live now
    await api.send(other, busy, "live")
    assert await client.messages(busy, 1) == [4]
    await client.send({"type": "resume", "ref": "late", "rooms": {quiet: 1, busy: 1}})
    assert await client.messages(quiet, 2) == [2, 3]
    resumed = await client.until(lambda f: f["type"] == "resumed")
    assert resumed["ref"] == "late"
    assert resumed["rooms"] == {quiet: 3, busy: 4}
    assert not [f for f in await client.quiet(0.5) if f["type"] == "message"]


async def test_resume_in_the_auth_frame_and_foreign_rooms(
    gateway_service: ServiceProcess, make_user: MakeUser, open_socket: Open, api: Any
) -> None:
    """resume inside auth replays from the given seq; a foreign room gets not_a_member."""
    user, stranger = await make_user(), await make_user()
    room = await api.room(user)
    foreign = await api.room(stranger)
    for _ in range(3):
        await api.send(user, room, "x")
    client = await open_socket(
        gateway_service.url, user.access_token, header=False, resume={room: 1, foreign: 0}
    )
    assert await client.messages(room, 2) == [2, 3]
    error = await client.until(lambda f: f["type"] in ("error", "resumed"))
    if error["type"] == "resumed":
        error = next(f for f in client.frames if f["type"] == "error")
    assert error["code"] == "not_a_member"
    assert foreign not in str(error)


async def test_typing_presence_and_who(
    gateway_service: ServiceProcess, make_user: MakeUser, open_socket: Open, api: Any
) -> None:
    """Members see typing (not their own) and presence; who lists the members online."""
    a, b = await make_user(), await make_user()
    room = await api.room(a, b)
    sb = await open_socket(gateway_service.url, b.access_token)
    await sb.send({"type": "ping"})
    sa = await open_socket(gateway_service.url, a.access_token)
    online = await sb.until(lambda f: f["type"] == "presence" and f["user_id"] == str(a.id))
    assert online["online"] is True
    assert online["room_id"] == room
    await sa.send({"type": "typing", "room_id": room})
    typing = await sb.until(lambda f: f["type"] == "typing")
    assert typing == {"type": "typing", "room_id": room, "user_id": str(a.id)}
    assert not [f for f in await sa.quiet(0.5) if f["type"] == "typing"]
    await sb.send({"type": "who", "room_id": room, "ref": "w"})
    state = await sb.until(lambda f: f["type"] == "presence_state" and f.get("ref") == "w")
    assert set(state["online"]) == {str(a.id), str(b.id)}
    await sa.close()
    offline = await sb.until(lambda f: f["type"] == "presence" and f["user_id"] == str(a.id))
    assert offline["online"] is False


async def test_send_read_and_edit_over_the_socket(
    gateway_service: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
    http: httpx.AsyncClient,
) -> None:
    """send gets an ack with the message; a retry acks the same one; read and edits work."""
    a, b = await make_user(), await make_user()
    room = await api.room(a, b)
    sa = await open_socket(gateway_service.url, a.access_token)
    sb = await open_socket(gateway_service.url, b.access_token)
    await sb.send({"type": "ping"})
    send = {"type": "send", "room_id": room, "body": "hi", "client_msg_id": "once", "ref": "s1"}
    await sa.send(send)
    ack = await sa.until(lambda f: f["type"] == "ack")
    assert ack["ref"] == "s1"
    assert ack["message"]["body"] == "hi"
    await sa.send({**send, "ref": "s2"})
    again = await sa.until(lambda f: f["type"] == "ack")
    assert again["message"]["id"] == ack["message"]["id"]
    assert await sb.messages(room, 1) == [ack["message"]["seq"]]
    await sb.send({"type": "read", "room_id": room, "seq": ack["message"]["seq"], "ref": "r"})
    unread = {}
    for _ in range(50):
        answer = await http.get(f"{api.messages_url}/messages/unread", headers=b.headers)
        unread = {i["room_id"]: i for i in answer.json()["items"]}
        if unread[room]["read_seq"] == ack["message"]["seq"]:
            break
        await asyncio.sleep(0.1)
    assert unread[room]["read_seq"] == ack["message"]["seq"]
    edited = await http.patch(
        f"{api.messages_url}/messages/{ack['message']['id']}",
        json={"body": "hi!"},
        headers=a.headers,
    )
    assert edited.status_code == 200, edited.text
    frame = await sb.until(lambda f: f["type"] == "message_edited")
    assert frame["message"]["body"] == "hi!"
    big = {"type": "send", "room_id": room, "body": "x" * 4001, "client_msg_id": "big", "ref": "b"}
    await sa.send(big)
    error = await sa.until(lambda f: f["type"] == "error")
    assert error["code"] == "too_large"
    assert error["ref"] == "b"


async def test_created_room_reaches_every_initial_member_live(
    gateway_service: ServiceProcess, make_user: MakeUser, open_socket: Open, api: Any
) -> None:
    """A room created while its members are connected arrives as room_added, then live."""
    owner, member = await make_user(), await make_user()
    so = await open_socket(gateway_service.url, owner.access_token)
    sm = await open_socket(gateway_service.url, member.access_token)
    for client in (so, sm):
        await client.send({"type": "ping"})
    room = await api.room(owner, member)
    for client, role in ((so, "owner"), (sm, "member")):
        added = await client.until(lambda f: f["type"] == "room_added")
        assert added["room"]["id"] == room
        assert added["room"]["my_role"] == role
    sent = await api.send(member, room, "first")
    for client in (so, sm):
        assert await client.messages(room, 1) == [sent["seq"]]


async def test_each_connection_starts_with_the_rooms_the_user_is_in_at_that_time(
    gateway_service: ServiceProcess, make_user: MakeUser, open_socket: Open, api: Any
) -> None:
    """A user's next connection lists a room they were added to, and not one they were
    removed from, since their last connection (whose rooms the gateway keeps)."""
    owner, user = await make_user(), await make_user()
    first, second = await api.room(owner, user), await api.room(owner)

    async def rooms_at_connect() -> set[str]:
        socket = await open_socket(gateway_service.url, user.access_token, live=True)
        return {r["room_id"] for r in socket.frames[0]["rooms"]}

    watcher = await open_socket(gateway_service.url, user.access_token, live=True)
    assert await rooms_at_connect() == {first}
    await api.add(owner, second, user)
    await watcher.until(lambda f: f["type"] == "room_added")
    assert await rooms_at_connect() == {first, second}
    await api.remove(owner, first, user)
    await watcher.until(lambda f: f["type"] == "room_removed")
    assert await rooms_at_connect() == {second}
    await watcher.close()
    # With no connection of the user open, the gateway still hears of their rooms.
    other = await open_socket(gateway_service.url, owner.access_token, live=True)
    await api.add(owner, first, user)
    await other.until(lambda f: f["type"] == "member_joined" and f["user_id"] == str(user.id))
    assert await rooms_at_connect() == {first, second}
