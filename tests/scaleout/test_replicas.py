"""Replicas share nothing in process: two gateways and two replicas of each service, clients
spread over both gateways, pass the gateway's delivery, membership and resume scenarios.

gateway_a reaches auth1, rooms1 and messages1; gateway_b reaches the 2s. Each test also
calls the HTTP replicas crosswise, so a change made on one replica must reach the clients of
the other gateway through Redis and Postgres alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import redis.asyncio as aioredis

from chat_testkit.chat import Chat
from chat_testkit.sockets import OpenSocket, Socket
from chat_testkit.users import TestUser, register_user
from tests.scaleout.stack import Replicas


@pytest.fixture(scope="module")
def replicas(
    scaleout_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    """Two of each service on the run's Redis, wired in two lanes (1 -> gateway_a, 2 -> _b)."""
    system = Replicas(scaleout_env, tmp_path_factory.mktemp("replica-logs"))
    try:
        system.start({"auth1": ("auth_service", {}), "auth2": ("auth_service", {})})
        group: dict[str, tuple[str, dict[str, str]]] = {}
        for lane, gateway in (("1", "gateway_a"), ("2", "gateway_b")):
            auth = {"AUTH_URL": system.url(f"auth{lane}")}
            rooms = {"ROOMS_URL": system.url(f"rooms{lane}")}
            messages = {"MESSAGES_URL": system.url(f"messages{lane}")}
            group[f"rooms{lane}"] = ("room_service", auth)
            group[f"messages{lane}"] = ("message_service", {**auth, **rooms})
            group[gateway] = ("gateway", {**auth, **rooms, **messages})
        system.start(group)
        yield system
    finally:
        system.stop()


@pytest.fixture
def lanes(http: httpx.AsyncClient, replicas: Replicas) -> dict[str, Chat]:
    """Calls by lane: ``lanes["1"]`` to rooms1 and messages1, ``lanes["2"]`` to the 2s."""
    return {
        lane: Chat(http, replicas.url(f"rooms{lane}"), replicas.url(f"messages{lane}"))
        for lane in "12"
    }


async def _user(http: httpx.AsyncClient, system: Replicas, lane: str) -> TestUser:
    return await register_user(http, system.url(f"auth{lane}"))


async def test_members_on_two_gateways_see_the_same_messages_in_order(
    replicas: Replicas, http: httpx.AsyncClient, lanes: dict[str, Chat], open_socket: OpenSocket
) -> None:
    """Sends through every replica reach both members in one order; non-members get none."""
    a, b = await _user(http, replicas, "1"), await _user(http, replicas, "2")
    outsider_a, outsider_b = await _user(http, replicas, "1"), await _user(http, replicas, "2")
    room = await lanes["1"].room(a, b)
    sa = await open_socket(replicas.url("gateway_a"), a.access_token)
    sb = await open_socket(replicas.url("gateway_b"), b.access_token)
    quiet = [
        await open_socket(replicas.url("gateway_a"), outsider_a.access_token),
        await open_socket(replicas.url("gateway_b"), outsider_b.access_token),
    ]

    async def over_socket(socket: Socket, tag: str) -> None:
        for i in range(8):
            await socket.send(
                {"type": "send", "room_id": room, "body": f"{tag}{i}", "client_msg_id": f"{tag}{i}"}
            )

    async def over_http(user: TestUser, chat: Chat) -> None:
        for i in range(6):
            await chat.send(user, room, f"http {i}")

    await asyncio.gather(
        over_socket(sa, "a"),
        over_socket(sb, "b"),
        over_http(a, lanes["2"]),
        over_http(b, lanes["1"]),
    )
    total = 8 + 8 + 6 + 6
    assert await sa.messages(room, total) == list(range(1, total + 1))
    assert await sb.messages(room, total) == list(range(1, total + 1))
    bodies_a = [f["message"]["body"] for f in sa.frames if f["type"] == "message"]
    bodies_b = [f["message"]["body"] for f in sb.frames if f["type"] == "message"]
    assert bodies_a == bodies_b
    for socket in quiet:
        assert not [f for f in await socket.quiet(0.5) if f["type"] == "message"]
    # One subscription per gateway process, classic pub/sub on a single Redis.
    redis = aioredis.Redis.from_url(replicas.env["REDIS_URL"])
    try:
        channel = f"{replicas.env['REDIS_PREFIX']}room:{room}"
        assert await redis.pubsub_numsub(channel) == [(channel.encode(), 2)]
        assert await redis.execute_command("PUBSUB", "SHARDNUMSUB", channel) == [
            channel.encode(),
            0,
        ]
    finally:
        await redis.aclose()


async def test_membership_change_on_one_replica_reaches_the_other_gateway(
    replicas: Replicas, http: httpx.AsyncClient, lanes: dict[str, Chat], open_socket: OpenSocket
) -> None:
    """Added through rooms2: live on gateway_b; removed through rooms1: gone within 1 s."""
    owner, newcomer = await _user(http, replicas, "1"), await _user(http, replicas, "2")
    room = await lanes["1"].room(owner)
    await lanes["1"].send(owner, room, "before")
    client = await open_socket(replicas.url("gateway_b"), newcomer.access_token)
    await lanes["2"].add(owner, room, newcomer)
    added = await client.until(lambda f: f["type"] == "room_added")
    assert added["room"]["id"] == room
    assert added["room"]["my_role"] == "member"
    sent = await lanes["1"].send(owner, room, "after")
    frame = await client.until(lambda f: f["type"] == "message")
    assert frame["message"]["seq"] == sent["seq"]
    await lanes["1"].remove(owner, room, newcomer)
    removed = await client.until(lambda f: f["type"] == "room_removed", timeout=1.0)
    assert removed["room"]["id"] == room
    await lanes["2"].send(owner, room, "gone")
    assert not [f for f in await client.quiet(1.0) if f["type"] == "message"]


async def test_resume_on_the_other_gateway_gets_exactly_the_missed_messages(
    replicas: Replicas, http: httpx.AsyncClient, lanes: dict[str, Chat], open_socket: OpenSocket
) -> None:
    """Left gateway_a, resumed on gateway_b: exactly the missed messages, in order, once."""
    # Then the one sent during the resume, at the seam, and nothing more.
    reader = await _user(http, replicas, "1")
    senders = [await _user(http, replicas, lane) for lane in "1212"]
    room = await lanes["2"].room(senders[0], reader, *senders[1:])
    first = await open_socket(replicas.url("gateway_a"), reader.access_token)
    await lanes["1"].send(senders[0], room, "seen")
    assert await first.messages(room, 1) == [1]
    await first.close()

    async def send_while_away(index: int, sender: TestUser) -> None:
        for i in range(30):
            await lanes[str(1 + index % 2)].send(sender, room, f"away {i}")

    await asyncio.gather(*(send_while_away(i, s) for i, s in enumerate(senders)))
    again = await open_socket(replicas.url("gateway_b"), reader.access_token, resume={room: 1})
    live = asyncio.create_task(lanes["2"].send(senders[1], room, "seam"))
    seqs = await again.messages(room, 121, timeout=20)
    await live
    assert seqs == list(range(2, 123))
    assert not [f for f in await again.quiet(0.5) if f["type"] == "message"]
