"""The ``send`` frame with ``attachment_ids``: forwarded to message-service, answered with
the message and its attachments, delivered to every member; bad lists get an error frame."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from chat_testkit.attachments import png, upload
from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess

Open = Callable[..., Any]


async def test_send_frame_with_attachments(
    http: httpx.AsyncClient,
    api: Chat,
    gateway_service: ServiceProcess,
    message_service: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
) -> None:
    """An image sent with an empty body is acked with its attachment; the other member's
    socket gets the message with the attachment and its thumbnail URL."""
    alice, bob = await make_user(), await make_user()
    room = await api.room(alice, bob)
    a = await open_socket(gateway_service.url, alice.access_token)
    b = await open_socket(gateway_service.url, bob.access_token)
    r = await upload(http, message_service.url, alice, room, png(), filename="사진.png")
    assert r.status_code == 201, r.text
    image = r.json()
    await a.send(
        {
            "type": "send",
            "ref": "s1",
            "room_id": room,
            "body": "",
            "client_msg_id": uuid.uuid4().hex,
            "attachment_ids": [image["id"]],
        }
    )
    ack = await a.until(lambda f: f["type"] == "ack")
    assert [x["id"] for x in ack["message"]["attachments"]] == [image["id"]]
    got = await b.until(lambda f: f["type"] == "message")
    (attached,) = got["message"]["attachments"]
    assert attached["filename"] == "사진.png"
    assert attached["thumbnail_url"]


async def test_bad_attachment_lists_get_error_frames(
    api: Chat, gateway_service: ServiceProcess, make_user: MakeUser, open_socket: Open
) -> None:
    """Not a list, over 10 ids, or not UUIDs: an error frame naming attachment_ids; an
    unknown id: message-service's attachment_not_found."""
    alice = await make_user()
    room = await api.room(alice)
    sock = await open_socket(gateway_service.url, alice.access_token)
    bad: list[Any] = ["x", [str(uuid.uuid4())] * 11, ["nope"], [3]]
    for i, ids in enumerate(bad):
        await sock.send(
            {
                "type": "send",
                "ref": f"b{i}",
                "room_id": room,
                "body": "hi",
                "client_msg_id": uuid.uuid4().hex,
                "attachment_ids": ids,
            }
        )
        error = await sock.until(lambda f: f["type"] == "error")
        assert error["ref"] == f"b{i}"
        assert error["code"] == "invalid_field"
        assert "attachment_ids" in error["message"]
    await sock.send(
        {
            "type": "send",
            "ref": "u",
            "room_id": room,
            "body": "hi",
            "client_msg_id": uuid.uuid4().hex,
            "attachment_ids": [str(uuid.uuid4())],
        }
    )
    error = await sock.until(lambda f: f["type"] == "error")
    assert (error["ref"], error["code"]) == ("u", "attachment_not_found")
