"""Pipelined sends: one connection's acks carry increasing seqs per room, in send order."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser, StartService
from chat_testkit.processes import ServiceProcess
from chat_testkit.servers import free_port
from chat_testkit.sockets import connect_gateway

CONNECTIONS = 20
SENDS = 400
ROOMS_PER_CONNECTION = 2


@pytest.fixture(scope="module")
def unlimited(
    start_service: StartService, message_service: ServiceProcess
) -> tuple[ServiceProcess, ServiceProcess]:
    """A message-service and a gateway whose rate limits never bite in this test."""
    messages_port, gateway_port = free_port(), free_port()
    messages = start_service(
        "message_service",
        port=messages_port,
        env={
            "MESSAGES_PORT": str(messages_port),
            "MESSAGES_SEND_RATE": "1000000",
            "MESSAGES_SEND_BURST": "1000000",
        },
        migrate=False,
    )
    gateway = start_service(
        "gateway",
        port=gateway_port,
        env={
            "GATEWAY_PORT": str(gateway_port),
            "MESSAGES_URL": messages.url,
            "GATEWAY_RATE": "1000000",
            "GATEWAY_BURST": "1000000",
        },
        migrate=False,
    )
    return messages, gateway


async def _pipeline(
    base: str, token: str, rooms: list[str], tag: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Write SENDS send frames back to back (alternating over ``rooms``) while reading;
    the answer (ack or error) of each, in send order, and the answers as they arrived."""
    ws = await connect_gateway(base, token)
    answers: dict[str, dict[str, Any]] = {}
    arrived: list[dict[str, Any]] = []
    try:
        assert orjson.loads(await ws.recv())["type"] == "ready"

        async def write() -> None:
            for i in range(SENDS):
                frame = {
                    "type": "send",
                    "ref": str(i),
                    "room_id": rooms[i % len(rooms)],
                    "body": f"{tag} {i} 순서",
                    "client_msg_id": f"{tag}-{i}",
                }
                await ws.send(orjson.dumps(frame).decode())

        async def read() -> None:
            while len(answers) < SENDS:
                frame = orjson.loads(await ws.recv())
                if frame["type"] in ("ack", "error") and "ref" in frame:
                    answers[frame["ref"]] = frame
                    arrived.append(frame)

        async with asyncio.timeout(60):
            await asyncio.gather(write(), read())
    finally:
        await ws.close()
    return [answers[str(i)] for i in range(SENDS)], arrived


@pytest.mark.timeout(120)
async def test_pipelined_sends_get_increasing_seqs_in_send_order(
    unlimited: tuple[ServiceProcess, ServiceProcess],
    make_user: MakeUser,
    http: Any,
    room_service: ServiceProcess,
) -> None:
    """1,000 sends written back to back on each of 20 connections: every ack, and each
    connection's seqs per room strictly increase in the order it sent, and its acks of one
    room arrive in that order too (an ack may wait for the copy of its message)."""
    messages, gateway = unlimited
    api = Chat(http, room_service.url, messages.url)
    users = [await make_user() for _ in range(CONNECTIONS)]
    # Pairs of users share two rooms, so each room's seqs interleave two connections' sends.
    rooms: dict[int, list[str]] = {}
    for i in range(0, CONNECTIONS, 2):
        shared = [await api.room(users[i], users[i + 1]) for _ in range(ROOMS_PER_CONNECTION)]
        rooms[i] = rooms[i + 1] = shared
    started = time.monotonic()
    pipelines = await asyncio.gather(
        *(
            _pipeline(gateway.url, users[i].access_token, rooms[i], f"c{i}")
            for i in range(CONNECTIONS)
        )
    )
    results = [answers for answers, _ in pipelines]
    elapsed = time.monotonic() - started
    out_of_order: list[str] = []
    errors = [f for answers in results for f in answers if f["type"] != "ack"]
    assert errors == [], errors[:5]
    for c, answers in enumerate(results):
        last: dict[str, int] = {}
        for i, ack in enumerate(answers):
            message = ack["message"]
            assert message["client_msg_id"] == f"c{c}-{i}"
            room, seq = message["room_id"], message["seq"]
            if seq <= last.get(room, 0):
                out_of_order.append(f"connection {c} send {i}: seq {seq} after {last[room]}")
            last[room] = seq
    for c, (_, arrived) in enumerate(pipelines):
        seen: dict[str, int] = {}
        for ack in arrived:
            room, seq = ack["message"]["room_id"], ack["message"]["seq"]
            if seq <= seen.get(room, 0):
                out_of_order.append(f"connection {c}: ack of seq {seq} came after {seen[room]}")
            seen[room] = seq
    print(f"{CONNECTIONS} x {SENDS} pipelined sends acked in {elapsed:.1f} s")
    assert out_of_order == [], out_of_order[:10]
    # Two connections send SENDS / 2 to each of their two rooms: every seq 1..SENDS once.
    by_room: dict[str, list[int]] = {}
    for answers in results:
        for ack in answers:
            by_room.setdefault(ack["message"]["room_id"], []).append(ack["message"]["seq"])
    assert all(sorted(seqs) == list(range(1, SENDS + 1)) for seqs in by_room.values())
