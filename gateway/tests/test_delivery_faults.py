"""Delivery when things go wrong, each on processes of its own: lost publishes (one expired
before its fill) and membership events, a client that stops reading, a dropped pub/sub
connection, the presence room limit."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from chat_testkit.plugin import MakeUser, StartService
from chat_testkit.processes import ServiceProcess
from chat_testkit.servers import free_port

Open = Callable[..., Any]


@pytest.fixture(scope="module")
def lossy_messages(
    start_service: StartService, message_service: ServiceProcess, redis_prefix: str
) -> ServiceProcess:
    """A message-service replica that commits to the same database but publishes on another
    Redis prefix: every message sent through it is a publish the gateway never sees."""
    port = free_port()
    env = {"MESSAGES_PORT": str(port), "REDIS_PREFIX": f"{redis_prefix}lost:"}
    return start_service("message_service", port=port, env=env, migrate=False)


@pytest.fixture(scope="module")
def tight_gateway(start_service: StartService, gateway_service: ServiceProcess) -> ServiceProcess:
    """A gateway with a 64 KiB write-buffer limit and a 1 s silent-room check."""
    port = free_port()
    env = {
        "GATEWAY_PORT": str(port),
        "GATEWAY_SEND_BUFFER_LIMIT": "65536",
        "GATEWAY_GAP_CHECK_INTERVAL": "1",
    }
    return start_service("gateway", port=port, env=env, migrate=False)


async def test_lost_publish_is_filled_from_history(
    tight_gateway: ServiceProcess,
    lossy_messages: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
) -> None:
    """A message whose publish was lost arrives, in order, before the next one or alone."""
    sender, reader = await make_user(), await make_user()
    room = await api.room(sender, reader)
    client = await open_socket(tight_gateway.url, reader.access_token)
    await client.send({"type": "ping"})
    await api.send(sender, room, "lost", base=lossy_messages.url)
    await api.send(sender, room, "published")
    assert await client.messages(room, 2) == [1, 2]
    # A lost publish with no later message is found by the periodic check.
    await api.send(sender, room, "lost alone", base=lossy_messages.url)
    assert await client.messages(room, 1, timeout=10) == [3]


@pytest.fixture(scope="module")
def patient_gateway(start_service: StartService, gateway_service: ServiceProcess) -> ServiceProcess:
    """A gateway whose silent-room check in effect never runs: a hole is filled only when
    a later message shows it."""
    port = free_port()
    env = {"GATEWAY_PORT": str(port), "GATEWAY_GAP_CHECK_INTERVAL": "100000"}
    return start_service("gateway", port=port, env=env, migrate=False)


@pytest.fixture(scope="module")
def sweeping_messages(start_service: StartService, message_service: ServiceProcess) -> str:
    """A message-service replica whose retention sweep runs every 0.2 s: its URL."""
    port = free_port()
    env = {"MESSAGES_PORT": str(port), "MESSAGES_RETENTION_INTERVAL": "0.2"}
    return start_service("message_service", port=port, env=env, migrate=False).url


async def test_a_lost_publish_that_expired_before_its_fill_gives_history_expired(
    patient_gateway: ServiceProcess,
    lossy_messages: ServiceProcess,
    sweeping_messages: str,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
    http: httpx.AsyncClient,
    database_url: str,
) -> None:
    """Messages 2-3 are lost publishes and expire before the gateway reads them: the live
    connection gets history_expired (as a resume from before them would), then message 4
    and what follows, instead of a hole filled for ever."""
    owner, reader = await make_user(), await make_user()
    room = await api.room(owner, reader)
    client = await open_socket(patient_gateway.url, reader.access_token)
    await client.send({"type": "ping"})
    await api.send(owner, room, "delivered")
    assert await client.messages(room, 1) == [1]
    await api.send(owner, room, "lost", base=lossy_messages.url)
    await api.send(owner, room, "lost too", base=lossy_messages.url)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "UPDATE messages.messages SET created_at = now() - interval '2 days'"
            " WHERE room_id = $1",
            uuid.UUID(room),
        )
    finally:
        await conn.close()
    retention = f"{sweeping_messages}/messages/rooms/{room}/retention"
    set_ = await http.put(retention, json={"days": 1}, headers=owner.headers)
    assert set_.status_code == 200, set_.text
    for _ in range(100):
        if (await http.get(retention, headers=owner.headers)).json()["oldest_seq"] == 4:
            break
        await asyncio.sleep(0.1)
    assert (await http.get(retention, headers=owner.headers)).json()["oldest_seq"] == 4

    await api.send(owner, room, "after the expiry")  # shows the hole: the fill finds it gone
    first = await client.until(lambda f: f["type"] in ("message", "history_expired"))
    assert first == {"type": "history_expired", "room_id": room, "oldest_seq": 4}
    assert await client.messages(room, 1, timeout=10) == [4]
    await api.send(owner, room, "live again")
    assert await client.messages(room, 1) == [5]


async def test_client_that_stops_reading_is_cut_off_others_get_everything(
    send_many: Any,
    tight_gateway: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
    http: httpx.AsyncClient,
) -> None:
    """A non-reading client is disconnected; a reading one gets every message in order."""
    senders = [await make_user() for _ in range(14)]
    reader, stalled = await make_user(), await make_user()
    room = await api.room(senders[0], reader, stalled, *senders[1:])
    tiny = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tiny.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    tiny.connect(("127.0.0.1", tight_gateway.port))
    slow = await open_socket(tight_gateway.url, stalled.access_token, sock=tiny, max_queue=1)
    await slow.send({"type": "ping"})
    fast = await open_socket(tight_gateway.url, reader.access_token)
    await fast.send({"type": "ping"})
    count = 1200
    sending = asyncio.create_task(send_many(api, senders, room, count, "x" * 3900))
    seqs = await fast.messages(room, count, timeout=90)
    await sending
    assert seqs == list(range(1, count + 1))
    assert await slow.closed(timeout=15) in (4008, 1006)
    metrics = (await http.get(f"{tight_gateway.url}/metrics")).text
    line = next(x for x in metrics.splitlines() if x.startswith("gateway_slow_consumer"))
    assert float(line.split()[-1]) >= 1


async def test_gateway_recovers_its_pubsub_connection(
    tight_gateway: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
    redis: Any,
    redis_prefix: str,
) -> None:
    """After Redis drops the gateway's pub/sub connection, messages still arrive, in order."""
    sender, reader = await make_user(), await make_user()
    room = await api.room(sender, reader)
    client = await open_socket(tight_gateway.url, reader.access_token)
    await client.send({"type": "ping"})
    await api.send(sender, room, "before")
    assert await client.messages(room, 1) == [1]
    name = f"{redis_prefix}gateway-pubsub-{tight_gateway.port}"
    listed = await redis.client_list()
    ids = [c["id"] for c in listed if c.get("name") == name]
    assert ids
    for client_id in ids:
        await redis.client_kill_filter(_id=client_id)
    for i in range(3):
        await api.send(sender, room, f"during {i}")
    assert await client.messages(room, 3, timeout=10) == [2, 3, 4]
    await api.send(sender, room, "after")
    assert await client.messages(room, 1) == [5]


@pytest.fixture(scope="module")
def muted_rooms(
    start_service: StartService, room_service: ServiceProcess, redis_prefix: str
) -> Iterator[ServiceProcess]:
    """A room-service replica that publishes its membership events on another Redis prefix:
    every change made through it is an event the gateway never sees. It shares the run's
    database, so it leaves the run's outbox rows alone (chat_testkit.processes.ELSEWHERE_SAFE),
    and it stops with the module."""
    process = start_service(
        "room_service", env={"REDIS_PREFIX": f"{redis_prefix}muted:"}, migrate=False
    )
    yield process
    process.stop()


async def test_lost_removal_event_is_found_by_the_next_version(
    gateway_service: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
    http: httpx.AsyncClient,
    muted_rooms: ServiceProcess,
) -> None:
    """A removal whose event was lost takes effect when the room's next event skips a version."""
    owner, gone, other = await make_user(), await make_user(), await make_user()
    room = await api.room(owner, gone)
    client = await open_socket(gateway_service.url, gone.access_token)
    removed = await http.delete(
        f"{muted_rooms.url}/rooms/{room}/members/{gone.id}", headers=owner.headers
    )
    assert removed.status_code == 204
    await api.add(owner, room, other)  # published: its version is two past the last seen
    frame = await client.until(lambda f: f["type"] == "room_removed", timeout=3.0)
    assert frame["room"]["id"] == room
    await api.send(owner, room, "not for you")
    assert not [f for f in await client.quiet(1.0) if f["type"] == "message"]


async def test_a_lost_event_leaves_no_kept_rooms_behind(
    gateway_service: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
    http: httpx.AsyncClient,
    muted_rooms: ServiceProcess,
) -> None:
    """Once an event is found lost, a user's next connection reads their rooms anew: one the
    lost event added them to is listed, though no event of theirs was seen."""
    owner, user, watcher, later = [await make_user() for _ in range(4)]
    mine, theirs = await api.room(owner, user), await api.room(owner, watcher)
    first = await open_socket(gateway_service.url, user.access_token, live=True)
    assert {r["room_id"] for r in first.frames[0]["rooms"]} == {mine}
    seen = await open_socket(gateway_service.url, watcher.access_token, live=True)
    added = await http.post(
        f"{muted_rooms.url}/rooms/{theirs}/members",
        json={"user_id": str(user.id)},
        headers=owner.headers,
    )
    assert added.status_code in (200, 201), added.text
    await api.add(owner, theirs, later)  # published: its version is two past the last seen
    await seen.until(lambda f: f["type"] == "member_joined" and f["user_id"] == str(later.id))
    again = await open_socket(gateway_service.url, user.access_token, live=True)
    assert {r["room_id"] for r in again.frames[0]["rooms"]} == {mine, theirs}


async def test_after_a_pubsub_drop_the_next_connection_reads_its_rooms(
    tight_gateway: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
    http: httpx.AsyncClient,
    muted_rooms: ServiceProcess,
    redis: Any,
    redis_prefix: str,
) -> None:
    """Membership events may be missed while the pub/sub connection is down: the rooms kept
    from a user's last connect are not used after it, and a change no event told of shows."""
    owner, user = await make_user(), await make_user()
    mine, unseen = await api.room(owner, user), await api.room(owner)
    first = await open_socket(tight_gateway.url, user.access_token, live=True)
    assert {r["room_id"] for r in first.frames[0]["rooms"]} == {mine}
    added = await http.post(
        f"{muted_rooms.url}/rooms/{unseen}/members",
        json={"user_id": str(user.id)},
        headers=owner.headers,
    )
    assert added.status_code in (200, 201), added.text
    name = f"{redis_prefix}gateway-pubsub-{tight_gateway.port}"
    for client in await redis.client_list():
        if client.get("name") == name:
            await redis.client_kill_filter(_id=client["id"])
    # Once resubscribed, the gateway re-reads the rooms of every connected user.
    await first.until(lambda f: f["type"] == "room_added", timeout=10)
    again = await open_socket(tight_gateway.url, user.access_token, live=True)
    assert {r["room_id"] for r in again.frames[0]["rooms"]} == {mine, unseen}


@pytest.fixture(scope="module")
def quiet_gateway(start_service: StartService, gateway_service: ServiceProcess) -> ServiceProcess:
    """A gateway that publishes presence only to rooms of at most 2 members."""
    return start_service("gateway", env={"GATEWAY_PRESENCE_ROOM_MAX": "2"}, migrate=False)


async def test_presence_is_announced_only_in_rooms_up_to_the_limit(
    quiet_gateway: ServiceProcess, make_user: MakeUser, open_socket: Open, api: Any
) -> None:
    """A member coming online is announced in a 2-member room, not in a 3-member one."""
    a, b, c = await make_user(), await make_user(), await make_user()
    small = await api.room(a, b)
    big = await api.room(a, b, c)
    watcher = await open_socket(quiet_gateway.url, a.access_token)
    await watcher.send({"type": "ping"})  # live now, without waiting for the resume grace
    await watcher.until(lambda f: f["type"] == "pong")
    await open_socket(quiet_gateway.url, b.access_token)
    got = await watcher.quiet(1.5)
    frames = [f for f in got if f["type"] == "presence" and f["user_id"] == str(b.id)]
    assert [(f["room_id"], f["online"]) for f in frames] == [(small, True)], got
    await watcher.send({"type": "who", "room_id": big, "ref": "w"})
    state = await watcher.until(lambda f: f["type"] == "presence_state" and f.get("ref") == "w")
    assert set(state["online"]) == {str(a.id), str(b.id)}
