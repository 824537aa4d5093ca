"""Outsiders and removed members: no read, post, subscription, resume, edit or delete in a room
they are not in, by any HTTP call or websocket frame, and the same answer as for no room."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson

from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from chat_testkit.users import TestUser
from tests.security.sockets import next_frame, open_ws, send_frame


async def _http_attempts(
    http: httpx.AsyncClient,
    chat: Chat,
    user: TestUser,
    room_id: str,
    message_id: str,
    victim_id: uuid.UUID,
) -> dict[str, httpx.Response]:
    """Every HTTP call that names a room or a message, made by ``user``."""
    rooms, messages, h = chat.rooms_url, chat.messages_url, user.headers
    body = {"room_id": room_id, "body": "intrusion", "client_msg_id": uuid.uuid4().hex}
    return {
        "GET room": await http.get(f"{rooms}/rooms/{room_id}", headers=h),
        "PATCH room": await http.patch(f"{rooms}/rooms/{room_id}", json={"title": "x"}, headers=h),
        "GET members": await http.get(f"{rooms}/rooms/{room_id}/members", headers=h),
        "GET member": await http.get(f"{rooms}/rooms/{room_id}/members/{victim_id}", headers=h),
        "add self": await http.post(
            f"{rooms}/rooms/{room_id}/members", json={"user_id": str(user.id)}, headers=h
        ),
        "remove owner": await http.delete(
            f"{rooms}/rooms/{room_id}/members/{victim_id}", headers=h
        ),
        "promote": await http.patch(
            f"{rooms}/rooms/{room_id}/members/{user.id}", json={"role": "owner"}, headers=h
        ),
        "history": await http.get(f"{messages}/messages", params={"room_id": room_id}, headers=h),
        "history after": await http.get(
            f"{messages}/messages", params={"room_id": room_id, "after_seq": 0}, headers=h
        ),
        "post": await http.post(f"{messages}/messages", json=body, headers=h),
        "read marker": await http.post(
            f"{messages}/messages/read", json={"room_id": room_id, "seq": 1}, headers=h
        ),
        "edit": await http.patch(
            f"{messages}/messages/{message_id}", json={"body": "defaced"}, headers=h
        ),
        "delete": await http.delete(f"{messages}/messages/{message_id}", headers=h),
    }


def _same(a: httpx.Response, b: httpx.Response) -> bool:
    return (a.status_code, a.json()) == (b.status_code, b.json())


async def test_outsider_gets_404_like_no_room_on_every_http_call(
    http: httpx.AsyncClient, chat: Chat, make_user: MakeUser, gateway_headers: dict[str, str]
) -> None:
    """Each call about a real room of others answers exactly what it answers for a room (and a
    message) that does not exist: 404, same body; nothing changes in the room."""
    owner, outsider = await make_user(), await make_user()
    room_id = await chat.room(owner)
    message = await chat.send(owner, room_id, "private words")
    real = await _http_attempts(http, chat, outsider, room_id, message["id"], owner.id)
    ghost = await _http_attempts(
        http, chat, outsider, str(uuid.uuid4()), str(uuid.uuid4()), owner.id
    )
    for name, answer in real.items():
        assert answer.status_code == 404, f"{name}: {answer.status_code} {answer.text}"
        assert "private words" not in answer.text
        assert _same(answer, ghost[name]), f"{name}: {answer.text} vs {ghost[name].text}"
    batch = await http.post(
        f"{chat.messages_url}/messages/batch",
        json={
            "items": [
                {
                    "token": outsider.access_token,
                    "room_id": room_id,
                    "body": "intrusion",
                    "client_msg_id": "x1",
                }
            ]
        },
        headers=gateway_headers,
    )
    assert batch.json()["items"][0]["status"] == 404
    unread = await http.get(f"{chat.messages_url}/messages/unread", headers=outsider.headers)
    assert room_id not in unread.text
    listed = await http.get(f"{chat.rooms_url}/rooms", headers=outsider.headers)
    assert room_id not in listed.text
    history = await http.get(
        f"{chat.messages_url}/messages", params={"room_id": room_id}, headers=owner.headers
    )
    assert [m["body"] for m in history.json()["items"]] == ["private words"]
    room = await http.get(f"{chat.rooms_url}/rooms/{room_id}", headers=owner.headers)
    assert room.json()["member_count"] == 1


async def test_removed_member_loses_every_http_path_within_a_second(
    http: httpx.AsyncClient, chat: Chat, make_user: MakeUser
) -> None:
    """Once removed, a former member is an outsider on every call (after at most a second)."""
    owner, member = await make_user(), await make_user()
    room_id = await chat.room(owner, member)
    mine = await chat.send(member, room_id, "my own words")
    removed = await http.delete(
        f"{chat.rooms_url}/rooms/{room_id}/members/{member.id}", headers=owner.headers
    )
    assert removed.status_code == 204
    await asyncio.sleep(1.0)
    answers = await _http_attempts(http, chat, member, room_id, mine["id"], owner.id)
    for name, answer in answers.items():
        assert answer.status_code == 404, f"{name}: {answer.status_code} {answer.text}"


async def _frames(ws: Any, seconds: float) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                got.append(orjson.loads(await ws.recv()))
    except TimeoutError:
        pass
    return got


async def test_outsider_can_do_nothing_in_a_room_over_the_websocket(
    gateway_service: ServiceProcess, chat: Chat, make_user: MakeUser
) -> None:
    """send, who, typing, read and resume of a room one is not in get not_a_member (the same as
    for no room), and no frame of that room ever reaches the outsider's connection."""
    owner, outsider = await make_user(), await make_user()
    room_id = await chat.room(owner)
    await chat.send(owner, room_id, "before")
    watcher = await open_ws(gateway_service.url, owner.access_token)
    await next_frame(watcher, lambda f: f["type"] == "ready")
    ws = await open_ws(gateway_service.url, outsider.access_token)
    ready = await next_frame(ws, lambda f: f["type"] == "ready")
    assert room_id not in orjson.dumps(ready).decode()
    ghost = str(uuid.uuid4())
    answers: dict[str, list[dict[str, Any]]] = {}
    for target in (room_id, ghost):
        requests: list[dict[str, Any]] = [
            {"type": "resume", "ref": "resume", "rooms": {target: 0}},
            {"type": "send", "ref": "send", "room_id": target, "body": "x", "client_msg_id": "i1"},
            {"type": "who", "ref": "who", "room_id": target},
            {"type": "typing", "ref": "typing", "room_id": target},
            {"type": "read", "ref": "read", "room_id": target, "seq": 1},
        ]
        for frame in requests:
            await send_frame(ws, frame)
        got = await _frames(ws, 1.5)
        answers[target] = [f for f in got if f["type"] != "presence"]

    # Frames of concurrent requests may come in any order; the set of answers must match.
    def canonical(frames: list[dict[str, Any]]) -> list[bytes]:
        return sorted(orjson.dumps(f, option=orjson.OPT_SORT_KEYS) for f in frames)

    assert canonical(answers[room_id]) == canonical(answers[ghost])
    errors = {f.get("ref"): f.get("code") for f in answers[room_id] if f["type"] == "error"}
    assert errors == dict.fromkeys(("resume", "send", "who", "typing", "read"), "not_a_member")
    await chat.send(owner, room_id, "after")
    leaked = await _frames(ws, 1.0)
    assert room_id not in orjson.dumps(leaked).decode()
    seen = await _frames(watcher, 0.5)
    assert not any(f["type"] == "typing" for f in seen), "an outsider's typing reached the room"
    history = await chat.http.get(
        f"{chat.messages_url}/messages", params={"room_id": room_id}, headers=owner.headers
    )
    assert [m["body"] for m in history.json()["items"]] == ["after", "before"]
    await ws.close()
    await watcher.close()


async def test_removed_member_gets_nothing_more_over_the_websocket(
    gateway_service: ServiceProcess, chat: Chat, make_user: MakeUser
) -> None:
    """A member removed while connected gets room_removed, then no frame of the room, and every
    request about it is refused; a resume of it on a new connection replays nothing."""
    owner, member = await make_user(), await make_user()
    room_id = await chat.room(owner, member)
    ws = await open_ws(gateway_service.url, member.access_token)
    await next_frame(ws, lambda f: f["type"] == "ready")
    await chat.send(owner, room_id, "still in")
    await next_frame(ws, lambda f: f["type"] == "message", timeout=5)
    removed = await chat.http.delete(
        f"{chat.rooms_url}/rooms/{room_id}/members/{member.id}", headers=owner.headers
    )
    assert removed.status_code == 204
    await next_frame(ws, lambda f: f["type"] == "room_removed", timeout=3)
    await chat.send(owner, room_id, "secret after removal")
    await send_frame(ws, {"type": "who", "ref": "w", "room_id": room_id})
    await send_frame(
        ws, {"type": "send", "ref": "s", "room_id": room_id, "body": "x", "client_msg_id": "r1"}
    )
    got = await _frames(ws, 1.5)
    assert "secret after removal" not in orjson.dumps(got).decode()
    assert {f.get("ref"): f.get("code") for f in got if f["type"] == "error"} == {
        "w": "not_a_member",
        "s": "not_a_member",
    }
    await ws.close()
    again = await open_ws(gateway_service.url, member.access_token)
    await next_frame(again, lambda f: f["type"] == "ready")
    await send_frame(again, {"type": "resume", "ref": "r", "rooms": {room_id: 0}})
    replay = await _frames(again, 1.5)
    assert "secret after removal" not in orjson.dumps(replay).decode()
    assert "still in" not in orjson.dumps(replay).decode()
    await again.close()
