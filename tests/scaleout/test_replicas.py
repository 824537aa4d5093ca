"""Replicas share nothing in process: two gateways and two replicas of each service, clients
spread over both gateways, pass the gateway's delivery, membership and resume scenarios.

gateway_a reaches auth1, rooms1 and messages1; gateway_b reaches the 2s. Each test also
calls the HTTP replicas crosswise, so a change made on one replica must reach the clients of
the other gateway through Redis and Postgres alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis

from chatcore.testing.users import TestUser, register_user
from tests.scaleout.clients import Api, OpenSocket, Socket
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


async def _user(api: Api, system: Replicas, lane: str) -> TestUser:
    return await register_user(api.http, system.url(f"auth{lane}"))


async def test_members_on_two_gateways_see_the_same_messages_in_order(
    replicas: Replicas, api: Api, open_socket: OpenSocket
) -> None:
    """Sends through every replica reach both members in one order; non-members get none."""
    a, b = await _user(api, replicas, "1"), await _user(api, replicas, "2")
    outsider_a, outsider_b = await _user(api, replicas, "1"), await _user(api, replicas, "2")
    room = await api.room(replicas.url("rooms1"), a, b)
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

    async def over_http(user: TestUser, messages: str) -> None:
        for i in range(6):
            await api.send(messages, user, room, f"http {i}")

    await asyncio.gather(
        over_socket(sa, "a"),
        over_socket(sb, "b"),
        over_http(a, replicas.url("messages2")),
        over_http(b, replicas.url("messages1")),
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
    replicas: Replicas, api: Api, open_socket: OpenSocket
) -> None:
    """Added through rooms2: live on gateway_b; removed through rooms1: gone within 1 s."""
    owner, newcomer = await _user(api, replicas, "1"), await _user(api, replicas, "2")
    room = await api.room(replicas.url("rooms1"), owner)
    await api.send(replicas.url("messages1"), owner, room, "before")
    client = await open_socket(replicas.url("gateway_b"), newcomer.access_token)
    await api.add(replicas.url("rooms2"), owner, room, newcomer)
    added = await client.until(lambda f: f["type"] == "room_added")
    assert added["room"]["id"] == room
    assert added["room"]["my_role"] == "member"
    sent = await api.send(replicas.url("messages1"), owner, room, "after")
    frame = await client.until(lambda f: f["type"] == "message")
    assert frame["message"]["seq"] == sent["seq"]
    await api.remove(replicas.url("rooms1"), owner, room, newcomer)
    removed = await client.until(lambda f: f["type"] == "room_removed", timeout=1.0)
    assert removed["room"]["id"] == room
    await api.send(replicas.url("messages2"), owner, room, "gone")
    assert not [f for f in await client.quiet(1.0) if f["type"] == "message"]


async def test_resume_on_the_other_gateway_gets_exactly_the_missed_messages(
    replicas: Replicas, api: Api, open_socket: OpenSocket
) -> None:
    """Left gateway_a, resumed on gateway_b: exactly the missed messages, in order, once."""
    # Then the one sent during the resume, at the seam, and nothing more.
    reader = await _user(api, replicas, "1")
    senders = [await _user(api, replicas, lane) for lane in "1212"]
    room = await api.room(replicas.url("rooms2"), senders[0], reader, *senders[1:])
    first = await open_socket(replicas.url("gateway_a"), reader.access_token)
    await api.send(replicas.url("messages1"), senders[0], room, "seen")
    assert await first.messages(room, 1) == [1]
    await first.close()

    async def send_while_away(index: int, sender: TestUser) -> None:
        for i in range(30):
            await api.send(replicas.url(f"messages{1 + index % 2}"), sender, room, f"away {i}")

    await asyncio.gather(*(send_while_away(i, s) for i, s in enumerate(senders)))
    again = await open_socket(replicas.url("gateway_b"), reader.access_token, resume={room: 1})
    live = asyncio.create_task(api.send(replicas.url("messages2"), senders[1], room, "seam"))
    seqs = await again.messages(room, 121, timeout=20)
    await live
    assert seqs == list(range(2, 123))
    assert not [f for f in await again.quiet(0.5) if f["type"] == "message"]
