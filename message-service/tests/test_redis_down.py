"""Redis going away under one instance: sends are still acknowledged (they are committed),
membership is asked of room-service every time, and it all recovers when Redis is back."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from chat_testkit.proxy import TcpProxy
from chatcore.events import Kind

if TYPE_CHECKING:
    from conftest import Chat, Eventually, OpenFeed

FAILURES = "messages_publish_failures_total"
LISTENING = "messages_membership_channel_subscribed"


async def test_sends_survive_redis_outage(
    chat: Chat,
    make_user: MakeUser,
    redis_cut_off: tuple[ServiceProcess, TcpProxy],
    room_feed: OpenFeed,
    eventually: Eventually,
) -> None:
    """With Redis cut: 201s go on (unpublished, counted), /readyz is 503, a member removed
    meanwhile is refused at once; with Redis back, publishing resumes and the cache resets."""
    instance, proxy = redis_cut_off
    url = instance.url
    owner, member = await make_user(), await make_user()
    room_id = await chat.room(owner, member)
    feed = await room_feed(room_id)
    assert (await chat.post(owner, room_id, "one", url=url)).status_code == 201
    assert (await chat.post(member, room_id, "two", url=url)).status_code == 201
    assert (await chat.post(member, room_id, "three", url=url)).status_code == 201  # cached
    assert await chat.metric(LISTENING, url) == 1

    proxy.cut()
    sent = await chat.post(owner, room_id, "during the outage", url=url)
    assert (sent.status_code, sent.json()["seq"]) == (201, 4)
    assert (await chat.http.get(f"{url}/readyz")).status_code == 503

    async def counted() -> bool:
        return await chat.metric(FAILURES, url) >= 1

    await eventually(counted, within=5.0)
    assert await chat.metric(LISTENING, url) == 0
    # The removal's event cannot reach this instance; it must ask room-service instead.
    await chat.remove(owner, room_id, member)
    assert (await chat.post(member, room_id, url=url)).status_code == 404

    proxy.restore()

    async def ready() -> bool:
        return (await chat.http.get(f"{url}/readyz")).status_code == 200

    await eventually(ready, within=5.0)

    async def resubscribed() -> bool:
        return await chat.metric(LISTENING, url) == 1

    await eventually(resubscribed, within=8.0)
    assert (await chat.post(owner, room_id, "after", url=url)).status_code == 201

    async def four_messages() -> bool:
        await feed.collect(0, settle=0.1)
        return len([e for e in feed.events if e.kind is Kind.MESSAGE]) >= 4

    await eventually(four_messages, within=10.0)
    await feed.collect(0, settle=0.3)
    # Seq 4 was committed but never published: the gateway fills such gaps from history.
    # (The removal's notice is published too, by the instance that has Redis.)
    assert [e.seq for e in feed.events if e.kind is Kind.MESSAGE] == [1, 2, 3, 5]
    history = (await chat.history(owner, room_id, url, after_seq=3)).json()["items"]
    assert [m["body"] for m in history] == ["during the outage", "after"]
