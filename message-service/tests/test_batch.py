"""``POST /messages/batch``: many sends, each with its own token, each answered on its own."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx

from chat_testkit.plugin import InProcess, MakeUser
from chat_testkit.processes import ServiceProcess

if TYPE_CHECKING:
    from conftest import Chat, OpenFeed


def _item(token: str, room_id: str, body: str = "hi", cmid: str | None = None) -> dict[str, Any]:
    return {
        "token": token,
        "room_id": room_id,
        "body": body,
        "client_msg_id": cmid or uuid.uuid4().hex,
    }


async def _batch(chat: Chat, items: Any, headers: dict[str, str]) -> httpx.Response:
    return await chat.http.post(
        f"{chat.url}/messages/batch", json={"items": items}, headers=headers
    )


async def test_each_item_is_answered_as_a_lone_send_would_be(
    chat: Chat, make_user: MakeUser, room_feed: OpenFeed, gateway_headers: dict[str, str]
) -> None:
    """Good items commit in item order; a repeat, a stranger, bad tokens or bodies fail alone."""
    alice, bob, stranger = await make_user(), await make_user(), await make_user()
    room = await chat.room(alice, bob)
    feed = await room_feed(room)
    items = [
        _item(alice.access_token, room, "one", "k1"),
        _item(bob.access_token, room, "two"),
        _item(alice.access_token, room, "again", "k1"),  # same key: the first message
        _item(stranger.access_token, room, "intruder"),
        _item("not-a-token", room),
        _item(alice.access_token, room, "   "),
        _item(alice.access_token, room, "x" * 4001),
        {"token": alice.access_token, "room_id": room},  # no body, no client_msg_id
        _item(alice.access_token, "not-a-uuid"),
        _item(alice.access_token, room, "three"),
    ]
    answer = await _batch(chat, items, gateway_headers)
    assert answer.status_code == 200, answer.text
    got = answer.json()["items"]
    assert [a["status"] for a in got] == [201, 201, 200, 404, 401, 422, 413, 422, 422, 201]
    assert [got[i]["message"]["seq"] for i in (0, 1, 9)] == [1, 2, 3]
    assert got[2]["message"] == got[0]["message"]
    assert got[3]["error"]["code"] == "room_not_found"
    assert got[7]["error"]["field"] in ("body", "client_msg_id")
    assert got[8]["error"]["field"] == "room_id"
    await feed.collect(3)
    assert [e.seq for e in feed.events] == [1, 2, 3]


async def test_a_bad_batch_as_a_whole_is_refused(
    chat: Chat, make_user: MakeUser, gateway_headers: dict[str, str]
) -> None:
    """Not JSON, no items, too many items, or items of the wrong type: 400/422 for the call."""
    user = await make_user()
    room = await chat.room(user)
    url = f"{chat.url}/messages/batch"
    assert (await chat.http.post(url, content=b"{nope", headers=gateway_headers)).status_code == 400
    assert (
        await chat.http.post(url, json={"items": []}, headers=gateway_headers)
    ).status_code == 422
    assert (
        await chat.http.post(url, json={"items": "x"}, headers=gateway_headers)
    ).status_code == 422
    assert (
        await chat.http.post(url, json={"items": [1, 2]}, headers=gateway_headers)
    ).status_code == 422
    too_many = [_item(user.access_token, room) for _ in range(257)]
    assert (await _batch(chat, too_many, gateway_headers)).status_code == 422
    history = await chat.history(user, room)
    assert history.json()["items"] == []


async def test_items_over_the_senders_rate_get_429(
    chat: Chat, make_user: MakeUser, strict_limits: str, gateway_headers: dict[str, str]
) -> None:
    """Within one call, a sender's items past their burst (3 here) each get 429 and a wait."""
    user = await make_user()
    room = await chat.room(user)
    items = [_item(user.access_token, room, f"m{i}") for i in range(5)]
    answer = await chat.http.post(
        f"{strict_limits}/messages/batch", json={"items": items}, headers=gateway_headers
    )
    got = answer.json()["items"]
    assert [a["status"] for a in got] == [201, 201, 201, 429, 429]
    assert got[3]["error"]["code"] == "rate_limited"
    assert got[3]["error"]["retry_after"] >= 1


async def test_only_the_gateway_may_call_it(
    chat: Chat, make_user: MakeUser, gateway_headers: dict[str, str]
) -> None:
    """Without the gateway's secret, or with a wrong one, the call is 403 and nothing is sent."""
    user = await make_user()
    room = await chat.room(user)
    items = [_item(user.access_token, room, "sneaky")]
    ((name, secret),) = gateway_headers.items()
    for headers in [{}, {name: ""}, {name: secret[:-1]}, {name: secret + "x"}, {name: "x" * 5000}]:
        answer = await _batch(chat, items, headers)
        assert answer.status_code == 403, headers
        assert answer.json()["error"]["code"] == "forbidden"
    assert (await chat.history(user, room)).json()["items"] == []
    assert (await _batch(chat, items, gateway_headers)).json()["items"][0]["status"] == 201


async def test_an_unconfigured_service_refuses_every_caller(
    chat: Chat,
    make_user: MakeUser,
    in_process: InProcess,
    message_service: ServiceProcess,
    gateway_headers: dict[str, str],
) -> None:
    """With no gateway secret configured, no caller gets through: it fails closed."""
    user = await make_user()
    room = await chat.room(user)
    async with in_process("message_service", {"MESSAGES_GATEWAY_SECRET": ""}) as bare:
        answer = await bare.post(
            "/messages/batch",
            json={"items": [_item(user.access_token, room)]},
            headers=gateway_headers,
        )
    assert answer.status_code == 403
