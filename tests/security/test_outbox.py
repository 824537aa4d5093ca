"""A lost `member_removed` publish is not lost: room-service keeps the event in its outbox and
its relay publishes it once Redis answers, so the removed member's open socket gets
`room_removed` within a second and no further message of the room."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser, StartService
from chat_testkit.processes import ServiceProcess
from chat_testkit.proxy import TcpProxy
from tests.chaos import report
from tests.security.sockets import next_frame, open_ws, send_frame


@pytest.fixture(scope="module")
def redis_link(redis_url: str) -> Iterator[TcpProxy]:
    """A cuttable link to Redis, for one room-service replica alone."""
    target = urlsplit(redis_url)
    proxy = TcpProxy(target.port or 6379, target.hostname or "127.0.0.1")
    yield proxy
    proxy.close()


async def _failures(chat: Chat, url: str) -> float:
    text = (await chat.http.get(f"{url}/metrics")).text
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("rooms_membership_publish_failures_total{") and "member_removed" in line
    )


async def test_a_lost_member_removed_publish_still_arrives(
    start_service: StartService,
    gateway_service: ServiceProcess,
    redis_link: TcpProxy,
    redis_url: str,
    chat: Chat,
    make_user: MakeUser,
) -> None:
    """The removal is made on a replica whose Redis link is cut: its publish fails after the
    commit. Once the link is back, the outbox relay publishes it: the removed member's socket
    gets room_removed within a second, and the room's next message does not reach it."""
    target = urlsplit(redis_url)
    cut_replica = start_service(
        "room_service",
        env={
            "REDIS_URL": f"redis://127.0.0.1:{redis_link.port}{target.path or '/0'}",
            "ROOMS_PUBLISH_TIMEOUT": "0.3",
        },
        migrate=False,
    )
    try:
        await _removal_reaches_the_socket(cut_replica, gateway_service, redis_link, chat, make_user)
    finally:
        # Its relay would keep taking the run's due outbox rows on a link cut at module end.
        cut_replica.stop()


async def _removal_reaches_the_socket(
    cut_replica: ServiceProcess,
    gateway_service: ServiceProcess,
    redis_link: TcpProxy,
    chat: Chat,
    make_user: MakeUser,
) -> None:
    owner, member = await make_user(), await make_user()
    room_id = await chat.room(owner, member)
    ws = await open_ws(gateway_service.url, member.access_token)
    await next_frame(ws, lambda f: f["type"] == "ready")
    await send_frame(ws, {"type": "ping", "ref": "live"})
    await next_frame(ws, lambda f: f.get("ref") == "live")
    redis_link.cut()
    try:
        removed = await chat.http.delete(
            f"{cut_replica.url}/rooms/{room_id}/members/{member.id}", headers=owner.headers
        )
        assert removed.status_code == 204, removed.text
        failures = await _failures(chat, cut_replica.url)
        assert failures >= 1  # the publish after commit was lost
        # Nothing reached the gateway meanwhile: the socket still holds the room.
        await asyncio.sleep(0.5)
    finally:
        redis_link.restore()
    restored = time.monotonic()
    frame = await next_frame(ws, lambda f: f["type"] == "room_removed", timeout=5.0)
    arrived = time.monotonic() - restored
    assert frame["room"]["id"] == room_id
    sent = await chat.http.post(
        f"{chat.messages_url}/messages",
        json={"room_id": room_id, "body": "after removal", "client_msg_id": "after"},
        headers=owner.headers,
    )
    assert sent.status_code == 201
    seen: list[dict[str, Any]] = []

    def until(ref: str) -> Callable[[dict[str, Any]], bool]:
        def check(frame: dict[str, Any]) -> bool:
            seen.append(frame)
            return frame.get("ref") == ref

        return check

    await send_frame(ws, {"type": "ping", "ref": "end"})
    await next_frame(ws, until("end"))
    await asyncio.sleep(0.5)
    await send_frame(ws, {"type": "ping", "ref": "end2"})
    await next_frame(ws, until("end2"))
    assert not [f for f in seen if f["type"] == "message"], seen
    await ws.close()
    report.MEASURES.append(
        report.Measure(
            "member_removed whose publish is lost (Redis link cut)",
            f"room_removed reached the socket {arrived * 1000:.0f} ms after Redis returned",
            "< 1 s (outbox relay)",
        )
    )
    assert arrived < 1.0
