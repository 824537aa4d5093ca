"""Membership: non-members get 404, changes apply within a second, and checks are cached."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

import httpx

from chat_testkit.plugin import MakeUser

if TYPE_CHECKING:
    from conftest import Chat, Eventually

LOOKUPS = 'messages_membership_lookups_total{answer="member"}'
NEGATIVE_LOOKUPS = 'messages_membership_lookups_total{answer="not_member"}'


async def test_non_member_gets_404_like_a_missing_room(chat: Chat, make_user: MakeUser) -> None:
    """An outsider's send, read, history and marker get the same 404 as an unknown room."""
    owner, outsider = await make_user(), await make_user()
    room_id = await chat.room(owner)
    await chat.send(owner, room_id)
    answers: list[httpx.Response] = []
    for room in (room_id, str(uuid.uuid4())):
        answers += [
            await chat.post(outsider, room),
            await chat.history(outsider, room),
            await chat.history(outsider, room, after_seq=0),
            await chat.call("POST", "/messages/read", outsider, json={"room_id": room, "seq": 1}),
        ]
    assert {a.status_code for a in answers} == {404}
    assert {a.text for a in answers} == {answers[0].text}
    assert answers[0].json()["error"]["code"] == "room_not_found"


async def test_sends_do_not_ask_room_service_each_time(chat: Chat, make_user: MakeUser) -> None:
    """Ten sends by one member cost at most one look-up at room-service."""
    owner = await make_user()
    room_id = await chat.room(owner)
    await chat.send(owner, room_id)
    before = await chat.metric(LOOKUPS)
    for n in range(10):
        await chat.send(owner, room_id, f"m{n}")
    assert await chat.metric(LOOKUPS) == before


async def test_removed_member_refused_within_one_second(
    chat: Chat, make_user: MakeUser, eventually: Eventually
) -> None:
    """A member whose answer is cached is refused (404) within 1 s of being removed."""
    owner, member = await make_user(), await make_user()
    room_id = await chat.room(owner, member)
    await chat.send(member, room_id)
    await chat.send(member, room_id)  # served from the cache now
    await chat.remove(owner, room_id, member)
    removed_at = time.monotonic()

    async def refused() -> bool:
        return (await chat.post(member, room_id)).status_code == 404

    await eventually(refused, within=1.0)
    assert time.monotonic() - removed_at < 1.0
    assert (await chat.history(member, room_id)).status_code == 404


async def test_added_user_allowed_within_one_second(
    chat: Chat, make_user: MakeUser, eventually: Eventually
) -> None:
    """A refusal is cached too, yet a user added afterwards may send within 1 s."""
    owner, newcomer = await make_user(), await make_user()
    room_id = await chat.room(owner)
    before = await chat.metric(NEGATIVE_LOOKUPS)
    assert (await chat.post(newcomer, room_id)).status_code == 404
    assert (await chat.post(newcomer, room_id)).status_code == 404
    assert await chat.metric(NEGATIVE_LOOKUPS) == before + 1  # the second came from the cache
    await chat.add(owner, room_id, newcomer)

    async def allowed() -> bool:
        return (await chat.post(newcomer, room_id)).status_code == 201

    assert await eventually(allowed, within=1.0) < 1.0


async def test_role_change_applies_to_deletes(
    chat: Chat, make_user: MakeUser, eventually: Eventually
) -> None:
    """A member promoted to admin may delete others' messages within 1 s (cached role)."""
    owner, member = await make_user(), await make_user()
    room_id = await chat.room(owner, member)
    message = await chat.send(owner, room_id)
    assert (await chat.call("DELETE", f"/messages/{message['id']}", member)).status_code == 403
    await chat.set_role(owner, room_id, member, "admin")

    async def deleted() -> bool:
        r = await chat.call("DELETE", f"/messages/{message['id']}", member)
        return r.status_code == 200

    assert await eventually(deleted, within=1.0) < 1.0
