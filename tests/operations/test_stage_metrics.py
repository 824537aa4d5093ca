"""The per-stage histograms answer for real traffic: a websocket send moves the send-to-ack and
commit-to-delivery histograms, a mention of an offline user the outbox lag, and every query
the Postgres pool-wait histogram."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import httpx

from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser, Starter
from chat_testkit.processes import ServiceProcess
from chat_testkit.sockets import Socket


async def _sample(http: httpx.AsyncClient, base: str, name: str) -> float:
    """The value of one unlabelled series on ``base``/metrics (0 if absent)."""
    text = (await http.get(f"{base}/metrics")).text
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def _outbox_lag_count(http: httpx.AsyncClient, start_service: Starter) -> float:
    """Outbox-lag observations over every message-service of the run: they share its
    database, and the notification worker of any one of them may expand a row."""
    return sum(
        [
            await _sample(http, p.url, "messages_notify_outbox_lag_seconds_count")
            for p in start_service.running("message_service")
        ]
    )


async def test_stage_histograms_count_a_message_from_frame_to_delivery(
    http: httpx.AsyncClient,
    make_user: MakeUser,
    room_service: ServiceProcess,
    gateway_service: ServiceProcess,
    message_service: ServiceProcess,
    start_service: Starter,
) -> None:
    """One send frame adds one send-to-ack observation, and its delivery (the sender's own
    connection is a recipient too) a commit-to-delivery one under a second; the outbox lag
    (on whichever message-service's worker took the row) and pool waits count too."""
    sender, offline = await make_user(), await make_user()
    room_id = await Chat(http, room_service.url, message_service.url).room(sender, offline)
    gw, ms = gateway_service.url, message_service.url
    before = {
        "ack": await _sample(http, gw, "gateway_send_ack_seconds_count"),
        "lag": await _sample(http, gw, "gateway_delivery_lag_seconds_count"),
        "lag_sum": await _sample(http, gw, "gateway_delivery_lag_seconds_sum"),
        "outbox": await _outbox_lag_count(http, start_service),
        "pool": await _sample(http, ms, "chat_db_pool_acquire_seconds_count"),
    }
    socket = await Socket.open(gw, sender.access_token, live=True)
    try:
        await socket.until(lambda f: f["type"] == "pong")
        await socket.send(
            {
                "type": "send",
                "ref": "m1",
                "room_id": room_id,
                "body": "단계 stage",
                "client_msg_id": uuid.uuid4().hex,
                "mentions": [str(offline.id)],
            }
        )
        ack = await socket.until(lambda f: f["type"] == "ack", timeout=10)
        seq = ack["message"]["seq"]
        await socket.until(lambda f: f["type"] == "message" and f["message"]["seq"] == seq, 10)
    finally:
        await socket.close()
    assert await _sample(http, gw, "gateway_send_ack_seconds_count") == before["ack"] + 1
    lag = await _sample(http, gw, "gateway_delivery_lag_seconds_count")
    assert lag == before["lag"] + 1
    lag_sum = await _sample(http, gw, "gateway_delivery_lag_seconds_sum") - before["lag_sum"]
    assert 0 <= lag_sum < 1.0
    assert await _sample(http, ms, "chat_db_pool_acquire_seconds_count") > before["pool"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        outbox = await _outbox_lag_count(http, start_service)
        if outbox > before["outbox"]:
            break
        await asyncio.sleep(0.2)
    assert outbox > before["outbox"]
