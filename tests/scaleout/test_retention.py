"""Retention: a room's expired messages are removed oldest first in bounded batches;
history and the change stream say where retained history begins (oldest_seq), and a resume
from before it gets history_expired and then the retained messages, not an endless gap."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx

from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser, StartService
from chat_testkit.processes import ServiceProcess
from chat_testkit.sockets import OpenSocket


async def _page(http: httpx.AsyncClient, url: str, headers: dict[str, str], room: str) -> dict:
    answer = await http.get(f"{url}/messages", params={"room_id": room}, headers=headers)
    assert answer.status_code == 200, answer.text
    page: dict = answer.json()
    return page


async def test_expired_messages_go_in_batches_and_history_and_resume_say_where_it_begins(
    http: httpx.AsyncClient,
    make_user: MakeUser,
    start_service: StartService,
    room_service: ServiceProcess,
    gateway_service: ServiceProcess,
    database_url: str,
    open_socket: OpenSocket,
) -> None:
    """Room retention 1 day, seqs 1-5 backdated 2 days: removed two at a time; seq 6-7 stay."""
    sweeping = start_service(
        "message_service",
        env={"MESSAGES_RETENTION_INTERVAL": "0.2", "MESSAGES_RETENTION_BATCH": "2"},
        migrate=False,
    )
    chat = Chat(http, room_service.url, sweeping.url)
    owner, member = await make_user(), await make_user()
    room = await chat.room(owner, member)
    for i in range(7):
        await chat.send(owner, room, f"보관 {i} kept")
    retention = f"{sweeping.url}/messages/rooms/{room}/retention"

    refused = await http.put(retention, json={"days": 1}, headers=member.headers)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "forbidden"
    bad = await http.put(retention, json={"days": 0}, headers=owner.headers)
    assert bad.status_code == 422, bad.text
    stranger = await make_user()
    hidden = await http.get(retention, headers=stranger.headers)
    assert hidden.status_code == 404, hidden.text
    assert (await _page(http, sweeping.url, member.headers, room))["oldest_seq"] == 1

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "UPDATE messages.messages SET created_at = now() - interval '2 days'"
            " WHERE room_id = $1 AND seq <= 5",
            uuid.UUID(room),
        )
        set_ = await http.put(retention, json={"days": 1}, headers=owner.headers)
        assert set_.status_code == 200, set_.text
        assert set_.json()["days"] == 1
        assert set_.json()["effective_days"] == 1
        for _ in range(100):
            page = await _page(http, sweeping.url, member.headers, room)
            if page["oldest_seq"] == 6:
                break
            await asyncio.sleep(0.1)
        assert page["oldest_seq"] == 6
        assert sorted(m["seq"] for m in page["items"]) == [6, 7]
        remaining = await conn.fetchval(
            "SELECT count(*) FROM messages.messages WHERE room_id = $1", uuid.UUID(room)
        )
        assert remaining == 2
    finally:
        await conn.close()
    shown = await http.get(retention, headers=member.headers)
    assert shown.json()["oldest_seq"] == 6

    changes = await http.get(
        f"{sweeping.url}/messages/changes",
        params={"room_id": room, "after_seq": 2},
        headers=member.headers,
    )
    assert changes.status_code == 200, changes.text
    body = changes.json()
    assert body["expired"] is True
    assert body["oldest_seq"] == 6
    assert [i["message"]["seq"] for i in body["items"] if i["type"] == "message"] == [6, 7]

    socket = await open_socket(
        gateway_service.url, member.access_token, header=False, resume={room: 2}
    )
    notice = await socket.until(lambda f: f["type"] == "history_expired")
    assert notice == {"type": "history_expired", "room_id": room, "oldest_seq": 6}
    assert await socket.messages(room, 2) == [6, 7]
    resumed = await socket.until(lambda f: f["type"] == "resumed")
    assert resumed["rooms"][room] == 7
