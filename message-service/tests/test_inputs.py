"""Every bad input to a send or an edit gets its documented answer, never a 500."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess

if TYPE_CHECKING:
    from conftest import Chat


async def test_malformed_bodies(chat: Chat, make_user: MakeUser) -> None:
    """Bodies that are not JSON objects get 400 malformed_json."""
    owner = await make_user()
    room_id = await chat.room(owner)
    message = await chat.send(owner, room_id)
    raws = [b"", b"{", b"not json", b"[1]", b'"text"', b"null", b"\xff\xfe", b'{"body": "\\ud800"}']
    for method, path in [("POST", "/messages"), ("PATCH", f"/messages/{message['id']}")]:
        for raw in raws:
            r = await chat.call(method, path, owner, content=raw)
            assert (r.status_code, r.json()["error"]["code"]) == (400, "malformed_json"), raw


async def test_bad_send_fields(chat: Chat, make_user: MakeUser) -> None:
    """Missing or wrong-typed fields get 422 naming the field; nothing is stored."""
    owner = await make_user()
    room_id = await chat.room(owner)
    ok = {"room_id": room_id, "body": "hi", "client_msg_id": "c1"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**ok, "room_id": "not-a-uuid"}, "room_id"),
        ({**ok, "room_id": "1" * 10_000}, "room_id"),
        ({**ok, "room_id": 12}, "room_id"),
        ({**ok, "body": 12}, "body"),
        ({**ok, "body": ["hi"]}, "body"),
        ({**ok, "body": None}, "body"),
        ({**ok, "client_msg_id": ""}, "client_msg_id"),
        ({**ok, "client_msg_id": "x" * 65}, "client_msg_id"),
        ({**ok, "client_msg_id": 5}, "client_msg_id"),
        ({**ok, "client_msg_id": "a\x00b"}, "client_msg_id"),
        ({**ok, "client_msg_id": "line\nbreak"}, "client_msg_id"),
    ]
    for field in ok:
        cases.append(({k: v for k, v in ok.items() if k != field}, field))
    for body, field in cases:
        r = await chat.call("POST", "/messages", owner, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["field"] == field, body
    # The longest key works.
    assert (await chat.post(owner, room_id, "hi", "k" * 64)).status_code == 201
    assert (await chat.history(owner, room_id)).json()["items"][0]["seq"] == 1


async def test_body_limits(chat: Chat, make_user: MakeUser) -> None:
    """Bodies are 1..4,000 characters as sent, then trimmed; over 413 too_large, blank 422,
    NUL 422."""
    owner = await make_user()
    room_id = await chat.room(owner)
    for body in ["", "   ", "\n\t "]:
        r = await chat.post(owner, room_id, body)
        assert (r.status_code, r.json()["error"]["field"]) == (422, "body"), repr(body)
    for body in ["x" * 4001, "é" * 4001, "x" * 100_000, " " + "x" * 4000]:
        r = await chat.post(owner, room_id, body)
        assert (r.status_code, r.json()["error"]["code"]) == (413, "too_large"), len(body)
    r = await chat.post(owner, room_id, "a\x00b")
    assert (r.status_code, r.json()["error"]["field"]) == (422, "body")
    # 4,000 characters as sent is fine, however many bytes they take.
    for body in ["  " + "x" * 3996 + "  ", "😀" * 4000, "한국어 " * 1000]:
        r = await chat.post(owner, room_id, body)
        assert r.status_code == 201, r.text
        assert r.json()["body"] == body.strip()
    message = r.json()
    for body, status in [("x" * 4001, 413), (" ", 422), ("ok\x00", 422)]:
        r = await chat.call("PATCH", f"/messages/{message['id']}", owner, json={"body": body})
        assert r.status_code == status, body[:10]
    r = await chat.call("PATCH", f"/messages/{message['id']}", owner, json={"text": "x"})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "body")


async def test_tokens_are_required(chat: Chat, make_user: MakeUser) -> None:
    """Every call without a valid bearer token gets 401."""
    owner = await make_user()
    room_id = await chat.room(owner)
    message_id = str(uuid.uuid4())
    calls = [
        ("POST", "/messages", {"json": {"room_id": room_id, "body": "x", "client_msg_id": "c"}}),
        ("GET", "/messages", {"params": {"room_id": room_id}}),
        ("PATCH", f"/messages/{message_id}", {"json": {"body": "x"}}),
        ("DELETE", f"/messages/{message_id}", {}),
        ("POST", "/messages/read", {"json": {"room_id": room_id, "seq": 1}}),
        ("GET", "/messages/unread", {}),
    ]
    for headers in [{}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic x"}]:
        for method, path, kwargs in calls:
            r = await chat.http.request(method, f"{chat.url}{path}", headers=headers, **kwargs)
            assert r.status_code == 401, (method, path, headers)


async def test_unknown_paths_and_methods(message_service: ServiceProcess, chat: Chat) -> None:
    """Unknown paths are 404 and wrong methods 405, both with the error body."""
    r = await chat.http.get(f"{message_service.url}/messages/a/b")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    r = await chat.http.put(f"{message_service.url}/messages")
    assert (r.status_code, r.json()["error"]["code"]) == (405, "method_not_allowed")
