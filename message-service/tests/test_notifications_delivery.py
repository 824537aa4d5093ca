"""Notifications end to end: a message-service with its own database and worker, a real push
service and webhook receiver on loopback, real gateway connections for presence."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest

from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from chat_testkit.push import Endpoint, PushService, WebhookReceiver
from chat_testkit.sockets import OpenSocket
from chat_testkit.users import TestUser
from message_service.models import SendMessage

if TYPE_CHECKING:
    from conftest import Chat, Eventually, StartNotifying


EXPANDED = "messages_notify_outbox_expanded_total"


@pytest.fixture
async def push(http: httpx.AsyncClient, notifier: ServiceProcess) -> AsyncIterator[PushService]:
    key = (await http.get(f"{notifier.url}/messages/notifications/vapid")).json()["public_key"]
    service = await PushService.start(key)
    yield service
    await service.close()


async def direct_room(http: httpx.AsyncClient, rooms_url: str, a: TestUser, b: TestUser) -> str:
    r = await http.post(f"{rooms_url}/rooms/direct", json={"user_id": str(b.id)}, headers=a.headers)
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


async def subscribe(
    http: httpx.AsyncClient, url: str, service: PushService, user: TestUser
) -> Endpoint:
    endpoint, subscription = service.subscribe()
    r = await http.post(
        f"{url}/messages/notifications/push", json=subscription, headers=user.headers
    )
    assert r.status_code == 201, r.text
    return endpoint


async def send(chat: Chat, url: str, user: TestUser, room_id: str, body: str) -> dict[str, Any]:
    r = await chat.post(user, room_id, body, url=url)
    assert r.status_code == 201, r.text
    message: dict[str, Any] = r.json()
    return message


async def test_offline_recipient_gets_one_push_per_message(
    http: httpx.AsyncClient,
    chat: Chat,
    notifier: ServiceProcess,
    push: PushService,
    make_user: MakeUser,
    eventually: Eventually,
) -> None:
    """Each direct message to an offline user arrives once, encrypted for their browser,
    with the room, the sender's name and the text's preview; the sender gets none."""
    alice = await make_user(display_name="앨리스 Alice")
    bob = await make_user()
    room = await direct_room(http, chat.rooms_url, alice, bob)
    bobs = await subscribe(http, notifier.url, push, bob)
    alices = await subscribe(http, notifier.url, push, alice)
    bodies = ["first", "안녕하세요, 밥! 잘 지내요?", "third " + "x" * 300]
    sent = [await send(chat, notifier.url, alice, room, body) for body in bodies]

    await eventually(lambda: asyncio.sleep(0, len(bobs.delivered) >= 3), within=10)
    await asyncio.sleep(0.5)  # a duplicate would arrive meanwhile
    assert push.refused == []
    assert [p["message_id"] for p in bobs.delivered] == [m["id"] for m in sent]
    first, korean, long = bobs.delivered
    assert first["room_id"] == room
    assert first["preview"] == "first"
    assert first["sender_name"] == "앨리스 Alice"
    assert first["reason"] == "direct"
    assert korean["preview"] == "안녕하세요, 밥! 잘 지내요?"
    assert long["preview"].startswith("third xxx")
    assert len(long["preview"]) <= 120
    assert len({a.delivery_id for a in bobs.attempts}) == 3
    assert alices.attempts == []


async def test_online_recipient_gets_no_push(
    http: httpx.AsyncClient,
    chat: Chat,
    notifier: ServiceProcess,
    push: PushService,
    make_user: MakeUser,
    eventually: Eventually,
    gateway_service: ServiceProcess,
    open_socket: OpenSocket,
) -> None:
    """A user with an open gateway connection is not notified; once it closes, they are."""
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    to_bob = await direct_room(http, chat.rooms_url, alice, bob)
    to_carol = await direct_room(http, chat.rooms_url, alice, carol)
    bobs = await subscribe(http, notifier.url, push, bob)
    carols = await subscribe(http, notifier.url, push, carol)
    socket = await open_socket(gateway_service.url, bob.access_token)
    await send(chat, notifier.url, alice, to_bob, "you are online")
    await send(chat, notifier.url, alice, to_carol, "you are not")
    # The worker takes the outbox in commit order: once Carol's is out, Bob's was decided.
    await eventually(lambda: asyncio.sleep(0, len(carols.delivered) == 1), within=10)
    await asyncio.sleep(0.5)
    assert bobs.attempts == []

    await socket.close()
    await eventually(lambda: _offline(http, chat, notifier, alice, to_bob, bobs), within=10)


async def _offline(
    http: httpx.AsyncClient,
    chat: Chat,
    notifier: ServiceProcess,
    sender: TestUser,
    room: str,
    endpoint: Endpoint,
) -> bool:
    """Send one more message; true once the recipient got a push."""
    if endpoint.delivered:
        return True
    await send(chat, notifier.url, sender, room, "are you there?")
    await asyncio.sleep(0.5)
    return bool(endpoint.delivered)


async def test_preferences_and_room_mute(
    http: httpx.AsyncClient,
    chat: Chat,
    notifier: ServiceProcess,
    push: PushService,
    make_user: MakeUser,
    eventually: Eventually,
) -> None:
    """Level none stops every notification; a room set to none is muted while others still
    notify; setting the level back restores them."""
    alice, bob, dave = await make_user(), await make_user(), await make_user()
    from_alice = await direct_room(http, chat.rooms_url, alice, bob)
    from_dave = await direct_room(http, chat.rooms_url, dave, bob)
    bobs = await subscribe(http, notifier.url, push, bob)
    settings = f"{notifier.url}/messages/notifications/settings"

    r = await http.put(settings, json={"level": "none"}, headers=bob.headers)
    assert r.status_code == 200, r.text
    expanded = await chat.metric(EXPANDED, notifier.url)
    await send(chat, notifier.url, alice, from_alice, "nobody hears")
    await send(chat, notifier.url, dave, from_dave, "nobody at all")
    # Preferences apply when the worker takes a message: let it take these two first.
    await eventually(
        lambda: _metric_at_least(chat, EXPANDED, notifier.url, expanded + 2), within=10
    )

    r = await http.put(
        settings, json={"level": "all", "rooms": {from_alice: "none"}}, headers=bob.headers
    )
    assert r.status_code == 200, r.text
    await send(chat, notifier.url, alice, from_alice, "muted room")
    marker = await send(chat, notifier.url, dave, from_dave, "heard")
    await eventually(lambda: asyncio.sleep(0, len(bobs.delivered) >= 1), within=10)
    await asyncio.sleep(0.5)
    assert [p["message_id"] for p in bobs.delivered] == [marker["id"]]

    r = await http.put(settings, json={"level": "mentions", "rooms": {}}, headers=bob.headers)
    assert r.status_code == 200, r.text
    again = await send(chat, notifier.url, alice, from_alice, "unmuted")
    await eventually(lambda: asyncio.sleep(0, len(bobs.delivered) >= 2), within=10)
    assert bobs.delivered[-1]["message_id"] == again["id"]


async def test_failing_endpoint_gets_it_once_with_one_delivery_id(
    http: httpx.AsyncClient,
    chat: Chat,
    notifier: ServiceProcess,
    push: PushService,
    make_user: MakeUser,
    eventually: Eventually,
) -> None:
    """A push service failing three times, then accepting, gets the notification once, every
    attempt carrying the same X-Chat-Delivery id."""
    alice, bob = await make_user(), await make_user()
    room = await direct_room(http, chat.rooms_url, alice, bob)
    bobs = await subscribe(http, notifier.url, push, bob)
    bobs.answers = [500, 503, 429]
    message = await send(chat, notifier.url, alice, room, "persist")
    await eventually(lambda: asyncio.sleep(0, len(bobs.delivered) == 1), within=15)
    await asyncio.sleep(0.5)
    assert [a.status for a in bobs.attempts] == [500, 503, 429, 201]
    assert len({a.delivery_id for a in bobs.attempts}) == 1
    uuid.UUID(bobs.attempts[0].delivery_id)
    assert bobs.delivered[0]["message_id"] == message["id"]


async def test_gone_subscription_is_removed(
    http: httpx.AsyncClient,
    chat: Chat,
    notifier: ServiceProcess,
    push: PushService,
    make_user: MakeUser,
    eventually: Eventually,
) -> None:
    """A push service answering 410 makes the service forget that subscription: the next
    message is not sent to it."""
    alice, bob = await make_user(), await make_user()
    room = await direct_room(http, chat.rooms_url, alice, bob)
    bobs = await subscribe(http, notifier.url, push, bob)
    bobs.gone = True
    await send(chat, notifier.url, alice, room, "one")
    await eventually(lambda: asyncio.sleep(0, len(bobs.attempts) == 1), within=10)
    dropped = 'messages_notify_deliveries_total{channel="push",outcome="dropped"}'
    await eventually(lambda: _metric_positive(chat, dropped, notifier.url), within=5)
    await asyncio.sleep(0.3)
    await send(chat, notifier.url, alice, room, "two")
    await asyncio.sleep(1.5)
    assert len(bobs.attempts) == 1


async def _metric_positive(chat: Chat, name: str, url: str) -> bool:
    return await chat.metric(name, url) > 0


async def _metric_at_least(chat: Chat, name: str, url: str, value: float) -> bool:
    return await chat.metric(name, url) >= value


async def test_webhook_is_signed_and_delivered_once(
    http: httpx.AsyncClient,
    chat: Chat,
    notifier: ServiceProcess,
    make_user: MakeUser,
    eventually: Eventually,
) -> None:
    """A webhook gets one signed POST per direct message, with the delivery id header."""
    alice, bob = await make_user(), await make_user()
    room = await direct_room(http, chat.rooms_url, alice, bob)
    receiver = await WebhookReceiver.start("s3cret-안녕")
    try:
        r = await http.post(
            f"{notifier.url}/messages/notifications/webhooks",
            json={"url": receiver.url, "secret": receiver.secret},
            headers=bob.headers,
        )
        assert r.status_code == 201, r.text
        message = await send(chat, notifier.url, alice, room, "hook me")
        await eventually(lambda: asyncio.sleep(0, len(receiver.delivered) == 1), within=10)
        await asyncio.sleep(0.5)
        assert receiver.refused == []
        (delivered,) = receiver.delivered
        assert delivered["notification"]["message_id"] == message["id"]
        assert delivered["notification"]["preview"] == "hook me"
        assert receiver.attempts[0].delivery_id == delivered["id"]
    finally:
        await receiver.close()


async def test_notification_survives_sigkill_between_commit_and_delivery(
    http: httpx.AsyncClient,
    chat: Chat,
    start_notifying: StartNotifying,
    own_database: str,
    make_user: MakeUser,
    eventually: Eventually,
) -> None:
    """message-service killed (SIGKILL) after the commit and before the push service
    answered: after a restart the notification arrives, once, with the same delivery id."""
    database = own_database
    first = start_notifying(database)
    key = (await http.get(f"{first.url}/messages/notifications/vapid")).json()["public_key"]
    service = await PushService.start(key)
    try:
        alice, bob = await make_user(), await make_user()
        room = await direct_room(http, chat.rooms_url, alice, bob)
        bobs = await subscribe(http, first.url, service, bob)
        bobs.hold = asyncio.Event()
        message = await send(chat, first.url, alice, room, "after the crash")
        await eventually(lambda: asyncio.sleep(0, len(bobs.attempts) == 1), within=10)
        first.stop(signal.SIGKILL)
        bobs.hold.set()
        second = start_notifying(database)
        await eventually(lambda: asyncio.sleep(0, len(bobs.delivered) == 1), within=15)
        await asyncio.sleep(0.5)
        assert bobs.delivered[0]["message_id"] == message["id"]
        assert len({a.delivery_id for a in bobs.attempts}) == 1
        second.stop()
    finally:
        await service.close()


async def test_two_replicas_deliver_each_notification_once(
    http: httpx.AsyncClient,
    chat: Chat,
    start_notifying: StartNotifying,
    own_database: str,
    make_user: MakeUser,
    eventually: Eventually,
) -> None:
    """Two replicas on one database, both with workers, sends through both: each message
    reaches the push service exactly once."""
    database = own_database
    replicas = [start_notifying(database) for _ in range(2)]
    key = (await http.get(f"{replicas[0].url}/messages/notifications/vapid")).json()
    service = await PushService.start(key["public_key"])
    try:
        alice, bob = await make_user(), await make_user()
        room = await direct_room(http, chat.rooms_url, alice, bob)
        bobs = await subscribe(http, replicas[0].url, service, bob)
        sent = await asyncio.gather(
            *(send(chat, replicas[i % 2].url, alice, room, f"m{i}") for i in range(40))
        )
        await eventually(lambda: asyncio.sleep(0, len(bobs.delivered) >= 40), within=15)
        await asyncio.sleep(1.0)
        ids = [p["message_id"] for p in bobs.delivered]
        assert sorted(ids) == sorted(m["id"] for m in sent)
        assert len(bobs.attempts) == 40
        for replica in replicas:
            replica.stop()
    finally:
        await service.close()


async def test_outbox_is_empty_for_group_messages_without_mentions(
    chat: Chat, notifier: ServiceProcess, make_user: MakeUser, database_url: str
) -> None:
    """A group-room message that mentions no one writes no outbox row."""
    alice, bob = await make_user(), await make_user()
    room = await chat.room(alice, bob)
    message = await send(chat, notifier.url, alice, room, "group chatter")
    conn = await asyncpg.connect(notifier.env["DATABASE_URL"])
    try:
        outbox = await conn.fetchval(
            "SELECT count(*) FROM messages.notify_outbox WHERE message_id = $1",
            uuid.UUID(message["id"]),
        )
        deliveries = await conn.fetchval(
            "SELECT count(*) FROM messages.notify_deliveries WHERE message_id = $1",
            uuid.UUID(message["id"]),
        )
    finally:
        await conn.close()
    assert (outbox, deliveries) == (0, 0)


async def test_outbox_only_for_recipients_with_somewhere_to_be_notified(
    http: httpx.AsyncClient,
    chat: Chat,
    start_notifying: StartNotifying,
    own_database: str,
    make_user: MakeUser,
) -> None:
    """A direct message to a user with no push subscription and no webhook writes no outbox
    row; once they have a webhook, or the message mentions someone who has one, it does.
    (No worker runs here, so every row written stays to be counted.)"""
    service = start_notifying(own_database, {"MESSAGES_NOTIFY_WORKER": "false"})
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    room = await direct_room(http, chat.rooms_url, alice, bob)
    group = await chat.room(alice, bob, carol)
    sent = [await send(chat, service.url, alice, room, "bob has nowhere yet")]
    r = await http.post(
        f"{service.url}/messages/notifications/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "secret": "s"},
        headers=bob.headers,
    )
    assert r.status_code == 201, r.text
    sent.append(await send(chat, service.url, alice, room, "bob has a webhook"))
    for mentioned in (carol, bob):
        r = await http.post(
            f"{service.url}/messages",
            json={
                "room_id": group,
                "body": "hey",
                "client_msg_id": uuid.uuid4().hex,
                "mentions": [str(mentioned.id)],
            },
            headers=alice.headers,
        )
        assert r.status_code == 201, r.text
        sent.append(r.json())
    conn = await asyncpg.connect(own_database)
    try:
        written = await conn.fetch("SELECT message_id FROM messages.notify_outbox")
    finally:
        await conn.close()
    assert {row["message_id"] for row in written} == {
        uuid.UUID(sent[1]["id"]),
        uuid.UUID(sent[3]["id"]),
    }
    service.stop()


async def test_no_notification_for_a_room_one_has_left(
    http: httpx.AsyncClient,
    chat: Chat,
    notifier: ServiceProcess,
    push: PushService,
    make_user: MakeUser,
    eventually: Eventually,
) -> None:
    """A user who left a direct room is not notified of messages sent to it afterwards."""
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    room = await direct_room(http, chat.rooms_url, alice, bob)
    to_carol = await direct_room(http, chat.rooms_url, alice, carol)
    bobs = await subscribe(http, notifier.url, push, bob)
    carols = await subscribe(http, notifier.url, push, carol)
    await send(chat, notifier.url, alice, room, "before leaving")
    await eventually(lambda: asyncio.sleep(0, len(bobs.delivered) == 1), within=10)
    await chat.remove(bob, room, bob)
    await asyncio.sleep(0.5)  # the membership event reaches message-service
    await send(chat, notifier.url, alice, room, "after leaving")
    await send(chat, notifier.url, alice, to_carol, "marker")
    await eventually(lambda: asyncio.sleep(0, len(carols.delivered) == 1), within=10)
    await asyncio.sleep(0.5)
    assert [p["preview"] for p in bobs.delivered] == ["before leaving"]


async def test_out_of_retries_is_dead_and_counted(
    http: httpx.AsyncClient,
    chat: Chat,
    start_notifying: StartNotifying,
    own_database: str,
    make_user: MakeUser,
    eventually: Eventually,
) -> None:
    """A push service that keeps failing past MESSAGES_NOTIFY_RETRY_FOR leaves the delivery
    dead: no more attempts, and the dead gauge and counter show it."""
    replica = start_notifying(own_database, {"MESSAGES_NOTIFY_RETRY_FOR": "1"})
    key = (await http.get(f"{replica.url}/messages/notifications/vapid")).json()["public_key"]
    service = await PushService.start(key)
    try:
        alice, bob = await make_user(), await make_user()
        room = await direct_room(http, chat.rooms_url, alice, bob)
        bobs = await subscribe(http, replica.url, service, bob)
        bobs.answers = [500] * 1000
        await send(chat, replica.url, alice, room, "never accepted")
        dead = 'messages_notify_deliveries_total{channel="push",outcome="dead"}'
        await eventually(lambda: _metric_positive(chat, dead, replica.url), within=10)
        await eventually(
            lambda: _metric_at_least(chat, "messages_notify_dead", replica.url, 1), within=10
        )
        attempts = len(bobs.attempts)
        assert attempts >= 2
        await asyncio.sleep(1.0)
        assert len(bobs.attempts) == attempts
        assert len({a.delivery_id for a in bobs.attempts}) == 1
        replica.stop()
    finally:
        await service.close()


@pytest.mark.skipif(
    "mentions" not in SendMessage.model_fields, reason="needs mentions on sends ([conversations])"
)
async def test_mentioned_offline_member_is_notified(
    http: httpx.AsyncClient,
    chat: Chat,
    notifier: ServiceProcess,
    push: PushService,
    make_user: MakeUser,
    eventually: Eventually,
) -> None:
    """In a group room only the mentioned member is notified (reason mention), never the
    sender even when they mention themselves, and a group message without mentions notifies
    no one."""
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    room = await chat.room(alice, bob, carol)
    bobs = await subscribe(http, notifier.url, push, bob)
    carols = await subscribe(http, notifier.url, push, carol)
    alices = await subscribe(http, notifier.url, push, alice)
    await send(chat, notifier.url, alice, room, "no one in particular")
    r = await http.post(
        f"{notifier.url}/messages",
        json={
            "room_id": room,
            "body": "@bob look",
            "client_msg_id": uuid.uuid4().hex,
            "mentions": [str(bob.id), str(alice.id)],
        },
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    await eventually(lambda: asyncio.sleep(0, len(bobs.delivered) == 1), within=10)
    await asyncio.sleep(0.5)
    assert bobs.delivered[0]["reason"] == "mention"
    assert bobs.delivered[0]["preview"] == "@bob look"
    assert carols.attempts == []
    assert alices.attempts == []


async def test_send_frames_through_the_gateway_notify_too(
    http: httpx.AsyncClient,
    chat: Chat,
    message_service: ServiceProcess,
    gateway_service: ServiceProcess,
    open_socket: OpenSocket,
    make_user: MakeUser,
    eventually: Eventually,
) -> None:
    """Messages sent as websocket ``send`` frames (the gateway's batched path) notify the
    offline recipient once each, like HTTP sends."""
    key = await http.get(f"{message_service.url}/messages/notifications/vapid")
    service = await PushService.start(key.json()["public_key"])
    try:
        alice, bob = await make_user(), await make_user()
        room = await direct_room(http, chat.rooms_url, alice, bob)
        bobs = await subscribe(http, message_service.url, service, bob)
        socket = await open_socket(gateway_service.url, alice.access_token, live=True)
        for i in range(5):
            await socket.send(
                {"type": "send", "room_id": room, "body": f"frame {i}", "client_msg_id": f"f{i}"}
            )
        for _ in range(5):
            await socket.until(lambda frame: frame["type"] == "ack", timeout=10)
        await eventually(lambda: asyncio.sleep(0, len(bobs.delivered) >= 5), within=10)
        await asyncio.sleep(0.5)
        assert sorted(p["preview"] for p in bobs.delivered) == [f"frame {i}" for i in range(5)]
        assert service.refused == []
    finally:
        await service.close()
