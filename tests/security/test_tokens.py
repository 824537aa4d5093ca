"""The access-token matrix on every service other than auth-service (auth-service/tests has its
own) and on the gateway's websocket, by header and by ``auth`` frame, and on renewal."""

from __future__ import annotations

import httpx
import pytest

from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from chat_testkit.tokens import access_claims
from tests.security.forgery import Forger
from tests.security.sockets import frames_until_close, next_frame, open_ws, send_frame


async def test_http_services_refuse_every_bad_token(
    http: httpx.AsyncClient,
    room_service: ServiceProcess,
    message_service: ServiceProcess,
    make_user: MakeUser,
    forger: Forger,
    gateway_headers: dict[str, str],
) -> None:
    """room-service and message-service answer 401 to each token of the matrix, on reads and
    writes alike, and a batch item carrying one gets a 401 of its own."""
    user = await make_user()
    good = forger.sign(access_claims(user.id))
    calls = [
        ("GET", f"{room_service.url}/rooms", None),
        ("GET", f"{room_service.url}/rooms/joined", None),
        ("POST", f"{room_service.url}/rooms", {"title": "t"}),
        ("GET", f"{message_service.url}/messages/unread", None),
        (
            "POST",
            f"{message_service.url}/messages/read",
            {"room_id": "7f8e3f58-0d69-4a48-9a2b-2b7a8a1c9d11", "seq": 1},
        ),
    ]
    for method, url, body in calls:
        control = await http.request(
            method, url, json=body, headers={"Authorization": f"Bearer {good}"}
        )
        assert control.status_code != 401, f"{url}: the forger's good token must pass"
        for name, token in forger.matrix(user).items():
            r = await http.request(
                method, url, json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert r.status_code == 401, f"{method} {url} with {name}: {r.status_code} {r.text}"
            assert r.json()["error"]["code"] in {"unauthorized", "invalid_token", "token_expired"}
    room = await http.post(
        f"{room_service.url}/rooms",
        json={"title": "t"},
        headers={"Authorization": f"Bearer {good}"},
    )
    room_id = room.json()["id"]
    items = [
        {"token": token, "room_id": room_id, "body": "x", "client_msg_id": f"m-{i}"}
        for i, token in enumerate(forger.matrix(user).values())
    ]
    answer = await http.post(
        f"{message_service.url}/messages/batch", json={"items": items}, headers=gateway_headers
    )
    assert answer.status_code == 200, answer.text
    assert [item["status"] for item in answer.json()["items"]] == [401] * len(items)


@pytest.mark.parametrize("how", ["header", "auth frame"])
async def test_gateway_closes_4001_for_every_bad_token(
    gateway_service: ServiceProcess, make_user: MakeUser, forger: Forger, how: str
) -> None:
    """Each token of the matrix, on the upgrade or in the first frame, closes the websocket
    with 4001 and no ``ready`` (or anything else) is ever sent."""
    user = await make_user()
    for name, token in forger.matrix(user).items():
        if how == "header":
            ws = await open_ws(gateway_service.url, token)
        else:
            ws = await open_ws(gateway_service.url)
            await send_frame(ws, {"type": "auth", "token": token})
        got = await frames_until_close(ws)
        assert got == [], f"{name}: {got}"
        assert ws.close_code == 4001, f"{name}: closed with {ws.close_code}"


async def test_gateway_refuses_a_bad_renewal_token(
    gateway_service: ServiceProcess, make_user: MakeUser, forger: Forger
) -> None:
    """A forged token sent to renew an open connection closes it with 4001."""
    user = await make_user()
    for name, token in forger.matrix(user).items():
        ws = await open_ws(gateway_service.url, user.access_token)
        await next_frame(ws, lambda f: f["type"] == "ready")
        await send_frame(ws, {"type": "auth", "token": token})
        await frames_until_close(ws)
        assert ws.close_code == 4001, f"{name}: closed with {ws.close_code}"
