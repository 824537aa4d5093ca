"""Messages carrying attachments: POST /messages, the gateway's batch path, history, and
every way an attachment_ids list can be wrong."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from chat_testkit.attachments import PDF, png, upload
from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from chat_testkit.users import TestUser

if TYPE_CHECKING:
    from conftest import Chat


async def send(
    http: httpx.AsyncClient, url: str, user: TestUser, room: str, ids: list[Any], body: str = ""
) -> httpx.Response:
    return await http.post(
        f"{url}/messages",
        json={
            "room_id": room,
            "body": body,
            "client_msg_id": uuid.uuid4().hex,
            "attachment_ids": ids,
        },
        headers=user.headers,
    )


async def uploaded(
    http: httpx.AsyncClient, url: str, user: TestUser, room: str, data: bytes = PDF
) -> dict[str, Any]:
    r = await upload(http, url, user, room, data, filename="f")
    assert r.status_code == 201, r.text
    attachment: dict[str, Any] = r.json()
    return attachment


async def test_message_carries_its_attachments_live_and_in_history(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """A message with two attachments (and an empty body) is 201 with both, in the order
    named; a member reading history sees them too; messages without files have []."""
    alice, bob = await make_user(), await make_user()
    room = await chat.room(alice, bob)
    image = await uploaded(http, files_service.url, alice, room, png())
    doc = await uploaded(http, files_service.url, alice, room)
    r = await send(http, files_service.url, alice, room, [doc["id"], image["id"]])
    assert r.status_code == 201, r.text
    message = r.json()
    assert message["body"] == ""
    assert [a["id"] for a in message["attachments"]] == [doc["id"], image["id"]]
    assert message["attachments"][1]["width"] == 64
    plain = await send(http, files_service.url, alice, room, [], body="no files")
    assert plain.json()["attachments"] == []
    page = await chat.history(bob, room, url=files_service.url)
    items = {m["id"]: m for m in page.json()["items"]}
    assert {a["id"] for a in items[message["id"]]["attachments"]} == {doc["id"], image["id"]}
    assert items[plain.json()["id"]]["attachments"] == []


async def test_repeated_send_returns_the_same_attachments(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """The same client_msg_id again answers 200 with the first message, attachments included."""
    alice = await make_user()
    room = await chat.room(alice)
    doc = await uploaded(http, files_service.url, alice, room)
    payload = {
        "room_id": room,
        "body": "x",
        "client_msg_id": "same",
        "attachment_ids": [doc["id"]],
    }
    first = await http.post(f"{files_service.url}/messages", json=payload, headers=alice.headers)
    assert first.status_code == 201, first.text
    payload["attachment_ids"] = []
    again = await http.post(f"{files_service.url}/messages", json=payload, headers=alice.headers)
    assert again.status_code == 200, again.text
    assert [a["id"] for a in again.json()["attachments"]] == [doc["id"]]


async def test_attachment_ids_that_cannot_be_used(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """Someone else's or an unknown upload is 404 attachment_not_found; one of another room
    is 422 attachment_wrong_room; one already sent is 422 attachment_in_use; a repeat is 422
    duplicate_attachment; more than 10 is 422 naming attachment_ids."""
    alice, bob = await make_user(), await make_user()
    room = await chat.room(alice, bob)
    other_room = await chat.room(alice)
    bobs = await uploaded(http, files_service.url, bob, room)
    elsewhere = await uploaded(http, files_service.url, alice, other_room)
    mine = await uploaded(http, files_service.url, alice, room)
    url = files_service.url

    r = await send(http, url, alice, room, [bobs["id"]])
    assert (r.status_code, r.json()["error"]["code"]) == (404, "attachment_not_found")
    r = await send(http, url, alice, room, [str(uuid.uuid4())])
    assert (r.status_code, r.json()["error"]["code"]) == (404, "attachment_not_found")
    r = await send(http, url, alice, room, [elsewhere["id"]])
    assert (r.status_code, r.json()["error"]["code"]) == (422, "attachment_wrong_room")
    r = await send(http, url, alice, room, [mine["id"], mine["id"]])
    assert (r.status_code, r.json()["error"]["code"]) == (422, "duplicate_attachment")
    r = await send(http, url, alice, room, [str(uuid.uuid4()) for _ in range(11)])
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "attachment_ids"
    r = await send(http, url, alice, room, ["not-a-uuid"])
    assert r.status_code == 422
    assert (await send(http, url, alice, room, [mine["id"]])).status_code == 201
    r = await send(http, url, alice, room, [mine["id"]])
    assert (r.status_code, r.json()["error"]["code"]) == (422, "attachment_in_use")
    # Without attachments an empty body is still refused.
    r = await send(http, url, alice, room, [], body=" ")
    assert r.status_code == 422


async def test_batch_path_takes_attachment_ids(
    http: httpx.AsyncClient,
    chat: Chat,
    files_service: ServiceProcess,
    make_user: MakeUser,
    gateway_headers: dict[str, str],
) -> None:
    """The gateway's batch call attaches files per item; a bad item fails alone."""
    alice = await make_user()
    room = await chat.room(alice)
    doc = await uploaded(http, files_service.url, alice, room)
    items = [
        {
            "token": alice.access_token,
            "room_id": room,
            "body": "",
            "client_msg_id": uuid.uuid4().hex,
            "attachment_ids": [doc["id"]],
        },
        {
            "token": alice.access_token,
            "room_id": room,
            "body": "",
            "client_msg_id": uuid.uuid4().hex,
            "attachment_ids": [str(uuid.uuid4())],
        },
        {"token": alice.access_token, "room_id": room, "body": "plain", "client_msg_id": "p1"},
    ]
    r = await http.post(
        f"{files_service.url}/messages/batch", json={"items": items}, headers=gateway_headers
    )
    assert r.status_code == 200, r.text
    answers = r.json()["items"]
    assert answers[0]["status"] == 201
    assert [a["id"] for a in answers[0]["message"]["attachments"]] == [doc["id"]]
    assert answers[1]["status"] == 404
    assert answers[1]["error"]["code"] == "attachment_not_found"
    assert answers[2]["status"] == 201
    assert answers[2]["message"]["attachments"] == []


async def test_published_message_carries_attachments(
    http: httpx.AsyncClient,
    chat: Chat,
    files_service: ServiceProcess,
    make_user: MakeUser,
    room_feed: Any,
) -> None:
    """The message published on the room channel (what every member's socket gets) carries
    its attachments."""
    alice = await make_user()
    room = await chat.room(alice)
    feed = await room_feed(room)
    doc = await uploaded(http, files_service.url, alice, room)
    r = await send(http, files_service.url, alice, room, [doc["id"]])
    assert r.status_code == 201
    await feed.collect(1)
    payload = orjson.loads(feed.events[0].frame)
    assert [a["id"] for a in payload["message"]["attachments"]] == [doc["id"]]


async def test_one_upload_goes_to_one_message_under_a_race(
    http: httpx.AsyncClient, chat: Chat, files_service: ServiceProcess, make_user: MakeUser
) -> None:
    """Ten sends naming the same upload at once: exactly one message carries it; every other
    send is refused (attachment_in_use) or carries nothing."""
    alice = await make_user()
    room = await chat.room(alice)
    doc = await uploaded(http, files_service.url, alice, room)
    answers = await asyncio.gather(
        *(send(http, files_service.url, alice, room, [doc["id"]], body="race") for _ in range(10))
    )
    carrying = [r for r in answers if r.status_code == 201 and r.json()["attachments"]]
    assert len(carrying) == 1
    for r in answers:
        if r.status_code != 201:
            assert r.json()["error"]["code"] == "attachment_in_use"
    page = await chat.history(alice, room, url=files_service.url)
    holders = [m for m in page.json()["items"] if m["attachments"]]
    assert [m["id"] for m in holders] == [carrying[0].json()["id"]]
