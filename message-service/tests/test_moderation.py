"""Mutes in message-service, reports and their resolution, and the moderation audit log."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from chat_testkit.plugin import MakeUser
from chat_testkit.users import TestUser

if TYPE_CHECKING:
    from conftest import Chat


def _later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def _mute(chat: Chat, actor: TestUser, room_id: str, user: TestUser, seconds: float) -> None:
    r = await chat.http.post(
        f"{chat.rooms_url}/rooms/{room_id}/mutes",
        json={"user_id": str(user.id), "until": _later(seconds)},
        headers=actor.headers,
    )
    assert r.status_code == 201, r.text


async def test_muted_member_cannot_send_edit_or_batch_send_and_the_mute_ends(
    chat: Chat, make_user: MakeUser, gateway_headers: dict[str, str]
) -> None:
    """A mute refuses sends, edits and batch sends with 403 muted within a second of being
    set (the cached membership is dropped), and lapses by itself."""
    owner, member = await make_user(), await make_user()
    room_id = await chat.room(owner, member)
    message = await chat.send(member, room_id, "before")  # the membership is cached now
    await _mute(chat, owner, room_id, member, 2)
    started = time.monotonic()
    while True:
        r = await chat.post(member, room_id, "during")
        if r.status_code == 403:
            break
        assert r.status_code == 201
        assert time.monotonic() - started < 1.0, "the mute took over a second to hold"
        await asyncio.sleep(0.05)
    assert r.json()["error"]["code"] == "muted"
    r = await chat.call("PATCH", f"/messages/{message['id']}", member, json={"body": "x"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "muted"
    r = await chat.http.post(
        f"{chat.url}/messages/batch",
        headers=gateway_headers,
        json={
            "items": [
                {
                    "token": member.access_token,
                    "room_id": room_id,
                    "body": "batched",
                    "client_msg_id": uuid.uuid4().hex,
                }
            ]
        },
    )
    assert r.status_code == 200, r.text
    item = r.json()["items"][0]
    assert item["status"] == 403
    assert item["error"]["code"] == "muted"
    # Others still talk; the muted member may still delete their own message.
    await chat.send(owner, room_id, "owner speaks")
    r = await chat.call("DELETE", f"/messages/{message['id']}", member)
    assert r.status_code == 200
    await asyncio.sleep(2.1)
    await chat.send(member, room_id, "after")


async def test_unmute_lets_the_member_send_again(chat: Chat, make_user: MakeUser) -> None:
    """Lifting a mute lets the member send within a second."""
    owner, member = await make_user(), await make_user()
    room_id = await chat.room(owner, member)
    await _mute(chat, owner, room_id, member, 600)
    assert (await chat.post(member, room_id)).status_code == 403
    r = await chat.http.delete(
        f"{chat.rooms_url}/rooms/{room_id}/mutes/{member.id}", headers=owner.headers
    )
    assert r.status_code == 204
    started = time.monotonic()
    while (await chat.post(member, room_id)).status_code != 201:
        assert time.monotonic() - started < 1.0
        await asyncio.sleep(0.05)


async def test_report_is_listed_for_moderators_and_resolved_by_delete(
    chat: Chat, make_user: MakeUser
) -> None:
    """A member reports a message (201; again: 200, one report); owners and admins list the
    room's open reports, plain members get 403, outsiders 404; resolving by delete
    tombstones the message and empties the list."""
    owner, member, reporter, outsider = [await make_user() for _ in range(4)]
    room_id = await chat.room(owner, member, reporter)
    message = await chat.send(member, room_id, "rude words")
    path = f"/messages/{message['id']}/report"
    r = await chat.call("POST", path, reporter, json={"reason": "욕설 (abuse)"})
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["reason"] == "욕설 (abuse)"
    assert report["resolution"] is None
    r = await chat.call("POST", path, reporter, json={"reason": "again"})
    assert r.status_code == 200
    assert r.json()["id"] == report["id"]
    assert (await chat.call("POST", path, outsider, json={"reason": "x"})).status_code == 404
    assert (await chat.call("POST", path, reporter, json={"reason": " "})).status_code == 422

    r = await chat.call("GET", "/messages/reports", owner, params={"room_id": room_id})
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["items"]] == [report["id"]]
    r = await chat.call("GET", "/messages/reports", member, params={"room_id": room_id})
    assert r.status_code == 403
    r = await chat.call("GET", "/messages/reports", outsider, params={"room_id": room_id})
    assert r.status_code == 404
    assert (await chat.call("GET", "/messages/reports", owner)).status_code == 403

    resolve = f"/messages/reports/{report['id']}/resolve"
    assert (await chat.call("POST", resolve, member, json={"action": "delete"})).status_code == 403
    assert (await chat.call("POST", resolve, owner, json={"action": "nuke"})).status_code == 422
    r = await chat.call("POST", resolve, owner, json={"action": "delete"})
    assert r.status_code == 200, r.text
    assert r.json()["resolution"] == "delete"
    assert (await chat.call("POST", resolve, owner, json={"action": "dismiss"})).status_code == 409
    history = (await chat.history(owner, room_id)).json()["items"]
    assert history[0]["deleted"] is True
    r = await chat.call("GET", "/messages/reports", owner, params={"room_id": room_id})
    assert r.json()["items"] == []


async def test_resolving_by_ban_bans_the_sender_in_room_service(
    chat: Chat, make_user: MakeUser
) -> None:
    """Resolve with ``ban``: the sender is removed from the room and cannot post."""
    owner, spammer, reporter = [await make_user() for _ in range(3)]
    room_id = await chat.room(owner, spammer, reporter)
    message = await chat.send(spammer, room_id, "buy now")
    r = await chat.call(
        "POST", f"/messages/{message['id']}/report", reporter, json={"reason": "spam"}
    )
    r = await chat.call(
        "POST", f"/messages/reports/{r.json()['id']}/resolve", owner, json={"action": "ban"}
    )
    assert r.status_code == 200, r.text
    r = await chat.http.get(f"{chat.rooms_url}/rooms/{room_id}/bans", headers=owner.headers)
    assert [b["user_id"] for b in r.json()["items"]] == [str(spammer.id)]
    started = time.monotonic()
    while (await chat.post(spammer, room_id)).status_code != 404:
        assert time.monotonic() - started < 1.0
        await asyncio.sleep(0.05)
