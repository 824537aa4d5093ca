"""The services on a three-node Redis Cluster (``REDIS_CLUSTER=true``): room and membership
channels are sharded (SSUBSCRIBE/SPUBLISH), so each room's channel lives on one shard, and
delivery, membership changes and presence work end to end across two gateways. A gateway
that loses its connection to one shard checks that shard's rooms for gaps, and resyncs
membership if the membership channel lives there.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from chat_testkit.chat import Chat
from chat_testkit.sockets import OpenSocket
from chat_testkit.users import TestUser, register_user
from tests.scaleout.cluster import ClusterFailed, RedisClusterNodes
from tests.scaleout.stack import Replicas

# Silent rooms are checked against message-service every GAP seconds: long enough that only
# the reconnect of a shard can explain a lost message arriving within a test.
GAP = "60"
LEASE = "3"


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    """A fresh three-node Redis Cluster, torn down after the module."""
    nodes = RedisClusterNodes(tmp_path_factory.mktemp("redis-cluster"))
    try:
        nodes.start()
    except ClusterFailed as exc:
        nodes.stop()
        pytest.fail(str(exc), pytrace=False)
    yield nodes
    nodes.stop()


@pytest.fixture(scope="module")
def system(
    scaleout_env: dict[str, str],
    redis_cluster: RedisClusterNodes,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Replicas]:
    """Every service on the cluster, three gateways; plus a message-service and a
    room-service that publish under another prefix (what they do, no gateway hears)."""
    env = {**scaleout_env, "REDIS_URL": redis_cluster.url, "REDIS_CLUSTER": "true"}
    system = Replicas(env, tmp_path_factory.mktemp("cluster-logs"))
    prefix = scaleout_env["REDIS_PREFIX"]
    try:
        system.start({"auth": ("auth_service", {})})
        wiring = {
            "AUTH_URL": system.url("auth"),
            "ROOMS_URL": system.url("rooms"),
            "MESSAGES_URL": system.url("messages"),
        }
        gateway = {**wiring, "GATEWAY_GAP_CHECK_INTERVAL": GAP, "GATEWAY_PRESENCE_LEASE": LEASE}
        system.start(
            {
                "rooms": ("room_service", wiring),
                "messages": ("message_service", wiring),
                "rooms_muted": ("room_service", {**wiring, "REDIS_PREFIX": f"{prefix}muted:"}),
                "messages_lossy": (
                    "message_service",
                    {**wiring, "REDIS_PREFIX": f"{prefix}lost:"},
                ),
                "gateway_a": ("gateway", gateway),
                "gateway_b": ("gateway", gateway),
                "gateway_c": ("gateway", gateway),
            }
        )
        yield system
    finally:
        system.stop()


@pytest.fixture
async def cluster(redis_cluster: RedisClusterNodes) -> AsyncIterator[RedisCluster]:
    """A cluster client for the tests' own look at where things live."""
    client = RedisCluster.from_url(redis_cluster.url)
    await client.initialize()
    yield client
    await client.aclose()


@pytest.fixture
def chat(http: httpx.AsyncClient, system: Replicas) -> Chat:
    """Calls to the system's rooms and messages (``send(..., base=...)`` for another)."""
    return Chat(http, system.url("rooms"), system.url("messages"))


async def _users(chat: Chat, system: Replicas, count: int) -> list[TestUser]:
    return [await register_user(chat.http, system.url("auth")) for _ in range(count)]


async def _metric(chat: Chat, base: str, name: str) -> float:
    """The value of an unlabelled metric of one process."""
    text = (await chat.http.get(f"{base}/metrics")).text
    line = next(x for x in text.splitlines() if x.startswith(name + " "))
    return float(line.split()[-1])


def _channel(system: Replicas, room_id: str) -> str:
    return f"{system.env['REDIS_PREFIX']}room:{room_id}"


async def _on_node(node: str, *command: str) -> object:
    """One command to one node ("host:port") of the cluster."""
    host, _, port = node.rpartition(":")
    client = aioredis.Redis(host=host, port=int(port))
    try:
        return await client.execute_command(*command)
    finally:
        await client.aclose()


async def _subscribers(node: str, channel: str) -> tuple[int, int]:
    """(sharded, classic) subscriber counts of ``channel`` on ``node``."""
    sharded = await _on_node(node, "PUBSUB", "SHARDNUMSUB", channel)
    classic = await _on_node(node, "PUBSUB", "NUMSUB", channel)
    assert isinstance(sharded, list)
    assert isinstance(classic, list)
    return int(sharded[1]), int(classic[1])


async def _kill_pubsub(node: str, gateway_port: int, prefix: str) -> int:
    """Drop a gateway's pub/sub connection to one node (waiting up to 5 s for it to be
    there); how many connections were killed."""
    name = f"{prefix}gateway-pubsub-{gateway_port}"
    for _ in range(50):
        listed = await _on_node(node, "CLIENT", "LIST")
        assert isinstance(listed, bytes)
        ids = [
            line.split()[0].removeprefix("id=")
            for line in listed.decode().splitlines()
            if f" name={name} " in line
        ]
        if ids:
            break
        await asyncio.sleep(0.1)
    for client_id in ids:
        await _on_node(node, "CLIENT", "KILL", "ID", client_id)
    return len(ids)


async def test_rooms_on_different_shards_reach_members_on_both_gateways(
    system: Replicas, cluster: RedisCluster, chat: Chat, open_socket: OpenSocket
) -> None:
    """Rooms on different shards: members on both gateways get all, in order; others none."""
    # Each room's channel has sharded subscribers (one per gateway) on its own shard only.
    a, b, outsider = await _users(chat, system, 3)
    by_node: dict[str, str] = {}
    for _ in range(12):
        room = await chat.room(a, b)
        channel = _channel(system, room)
        node = cluster.get_node_from_key(channel)
        assert node is not None
        assert await cluster.cluster_keyslot(channel) == cluster.keyslot(channel)
        by_node.setdefault(node.name, room)
        if len(by_node) == 3:
            break
    assert len(by_node) >= 2, "twelve rooms all hashed to one shard"
    sa = await open_socket(system.url("gateway_a"), a.access_token)
    sb = await open_socket(system.url("gateway_b"), b.access_token)
    so = await open_socket(system.url("gateway_b"), outsider.access_token)
    for owner, room in by_node.items():
        for node in by_node:
            sharded, classic = await _subscribers(node, _channel(system, room))
            assert (sharded, classic) == ((2, 0) if node == owner else (0, 0))
    for room in by_node.values():
        await sa.send({"type": "send", "room_id": room, "body": "ws", "client_msg_id": room})
        for i in range(3):
            await chat.send((a, b)[i % 2], room, f"http {i}")
    for room in by_node.values():
        assert await sa.messages(room, 4) == [1, 2, 3, 4]
        assert await sb.messages(room, 4) == [1, 2, 3, 4]
    assert not [f for f in await so.quiet(0.5) if f["type"] == "message"]


async def test_membership_changes_reach_the_open_connection(
    system: Replicas, cluster: RedisCluster, chat: Chat, open_socket: OpenSocket
) -> None:
    """Added: the room live on the other gateway; removed: room_removed within a second."""
    owner, newcomer = await _users(chat, system, 2)
    room = await chat.room(owner)
    watcher = await open_socket(system.url("gateway_a"), owner.access_token)
    client = await open_socket(system.url("gateway_b"), newcomer.access_token)
    membership = f"{system.env['REDIS_PREFIX']}membership"
    node = cluster.get_node_from_key(membership)
    assert node is not None
    sharded, classic = await _subscribers(node.name, membership)
    assert sharded >= 4  # three gateways and message-service
    assert classic == 0
    await chat.add(owner, room, newcomer)
    added = await client.until(lambda f: f["type"] == "room_added")
    assert added["room"]["id"] == room
    joined = await watcher.until(lambda f: f["type"] == "member_joined")
    assert joined["user_id"] == str(newcomer.id)
    sent = await chat.send(owner, room, "welcome")
    frame = await client.until(lambda f: f["type"] == "message")
    assert frame["message"]["seq"] == sent["seq"]
    await chat.remove(owner, room, newcomer)
    removed = await client.until(lambda f: f["type"] == "room_removed", timeout=1.0)
    assert removed["room"]["id"] == room
    await chat.send(owner, room, "gone")
    assert not [f for f in await client.quiet(1.0) if f["type"] == "message"]


async def test_presence_and_typing_across_gateways(
    system: Replicas, chat: Chat, open_socket: OpenSocket
) -> None:
    """Online, typing, who and offline reach a member connected to the other gateway."""
    a, b = await _users(chat, system, 2)
    room = await chat.room(a, b)
    sb = await open_socket(system.url("gateway_b"), b.access_token, live=True)
    # Live in the room (its initial presence_state came) before a comes online.
    await sb.until(lambda f: f["type"] == "presence_state")
    sa = await open_socket(system.url("gateway_a"), a.access_token)
    online = await sb.until(lambda f: f["type"] == "presence" and f["user_id"] == str(a.id))
    assert (online["room_id"], online["online"]) == (room, True)
    await sa.send({"type": "typing", "room_id": room})
    typing = await sb.until(lambda f: f["type"] == "typing")
    assert typing == {"type": "typing", "room_id": room, "user_id": str(a.id)}
    await sb.send({"type": "who", "room_id": room, "ref": "w"})
    state = await sb.until(lambda f: f["type"] == "presence_state" and f.get("ref") == "w")
    assert set(state["online"]) == {str(a.id), str(b.id)}
    await sa.close()
    offline = await sb.until(lambda f: f["type"] == "presence" and f["user_id"] == str(a.id))
    assert offline["online"] is False


async def test_users_of_a_crashed_gateway_go_offline(
    system: Replicas, chat: Chat, open_socket: OpenSocket
) -> None:
    """A SIGKILLed gateway's users are shown offline by another's sweep within a lease."""
    watcher, doomed = await _users(chat, system, 2)
    room = await chat.room(watcher, doomed)
    sw = await open_socket(system.url("gateway_a"), watcher.access_token)
    await open_socket(system.url("gateway_c"), doomed.access_token)
    online = await sw.until(lambda f: f["type"] == "presence" and f["user_id"] == str(doomed.id))
    assert online["online"] is True
    system["gateway_c"].stop(signal.SIGKILL)
    offline = await sw.until(
        lambda f: f["type"] == "presence" and f["user_id"] == str(doomed.id),
        timeout=float(LEASE) * 2 + 3,
    )
    assert (offline["room_id"], offline["online"]) == (room, False)


async def test_lost_shard_connection_fills_its_rooms_and_resyncs_membership(
    system: Replicas, cluster: RedisCluster, chat: Chat, open_socket: OpenSocket
) -> None:
    """A dropped shard connection fills its rooms' gaps, and on the membership shard resyncs."""
    # The message and the removal are published under another prefix: nobody hears them,
    # and nothing but the reconnect would find them within the test (the silent-room check
    # runs every minute).
    owner, reader = await _users(chat, system, 2)
    room = await chat.room(owner, reader)
    other = await chat.room(owner, reader)
    client = await open_socket(system.url("gateway_a"), reader.access_token)
    gateway = system["gateway_a"]
    prefix = system.env["REDIS_PREFIX"]
    reconnects = await _metric(chat, gateway.url, "gateway_redis_reconnects_total")

    lost = await chat.send(owner, room, "nobody heard this", base=system.url("messages_lossy"))
    node = cluster.get_node_from_key(_channel(system, room))
    assert node is not None
    assert await _kill_pubsub(node.name, gateway.port, prefix) == 1
    frame = await client.until(lambda f: f["type"] == "message", timeout=5.0)
    assert frame["message"]["seq"] == lost["seq"]
    assert await _metric(chat, gateway.url, "gateway_redis_reconnects_total") > reconnects

    removed = await chat.http.delete(
        f"{system.url('rooms_muted')}/rooms/{other}/members/{reader.id}", headers=owner.headers
    )
    assert removed.status_code == 204
    assert not [f for f in await client.quiet(0.5) if f["type"] == "room_removed"]
    membership = cluster.get_node_from_key(f"{prefix}membership")
    assert membership is not None
    assert await _kill_pubsub(membership.name, gateway.port, prefix) == 1
    gone = await client.until(lambda f: f["type"] == "room_removed", timeout=5.0)
    assert gone["room"]["id"] == other


async def test_room_channel_follows_its_slot_to_another_shard(
    system: Replicas, cluster: RedisCluster, chat: Chat, open_socket: OpenSocket
) -> None:
    """Resharding: the gateway follows the room's slot to its new primary and fills the gap."""
    # Redis ends the subscription on the old owner; the gateway re-reads the slot map,
    # subscribes on the new one, checks the room, and delivers live from there.
    owner, reader = await _users(chat, system, 2)
    room = await chat.room(owner, reader)
    client = await open_socket(system.url("gateway_b"), reader.access_token)
    channel = _channel(system, room)
    slot = cluster.keyslot(channel)
    source = cluster.get_node_from_key(channel)
    assert source is not None
    target = next(n for n in cluster.get_primaries() if n.name != source.name)
    assert (await _subscribers(source.name, channel))[0] == 1
    lost = await chat.send(owner, room, "during the move", base=system.url("messages_lossy"))
    target_id = await _on_node(target.name, "CLUSTER", "MYID")
    assert isinstance(target_id, bytes)
    others = [n.name for n in cluster.get_primaries() if n.name not in (source.name, target.name)]
    for node in (target.name, source.name, *others):
        await _on_node(node, "CLUSTER", "SETSLOT", str(slot), "NODE", target_id.decode())
    frame = await client.until(lambda f: f["type"] == "message", timeout=5.0)
    assert frame["message"]["seq"] == lost["seq"]
    assert await _subscribers(target.name, channel) == (1, 0)
    assert await _subscribers(source.name, channel) == (0, 0)
    sent = await chat.send(owner, room, "after the move")
    assert await client.messages(room, 1) == [sent["seq"]]
