"""Secrets never reach a log: passwords, access and refresh tokens (or any part of their
signature or payload) and message bodies, whatever path they took through the system."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import httpx

from chatcore.testing.chat import Chat
from chatcore.testing.processes import ServiceProcess
from tests.security.sockets import next_frame, open_ws, send_frame


async def test_no_secret_or_body_in_any_service_log(
    http: httpx.AsyncClient,
    auth_service: ServiceProcess,
    gateway_service: ServiceProcess,
    chat: Chat,
) -> None:
    """A user's whole life (register, failed and good logins, refresh, HTTP and websocket
    sends, edits, a bad frame, renewal, logout) leaves none of its secrets in any log file."""
    url = auth_service.url
    email = f"logs-{secrets.token_hex(4)}@example.test"
    password = f"pw-{secrets.token_hex(12)}"
    wrong = f"wrong-{secrets.token_hex(12)}"
    registered = await http.post(
        f"{url}/auth/register",
        json={"email": email, "password": password, "display_name": "Logs"},
    )
    assert registered.status_code == 201
    assert (
        await http.post(f"{url}/auth/login", json={"email": email, "password": wrong})
    ).status_code == 401
    login = (
        await http.post(f"{url}/auth/login", json={"email": email, "password": password})
    ).json()
    access, refresh = login["access_token"], login["refresh_token"]
    headers = {"Authorization": f"Bearer {access}"}
    pair = (await http.post(f"{url}/auth/refresh", json={"refresh_token": refresh})).json()
    access2, refresh2 = pair["access_token"], pair["refresh_token"]
    room = await http.post(f"{chat.rooms_url}/rooms", json={"title": "logs"}, headers=headers)
    room_id = room.json()["id"]
    http_body = f"http-body-{secrets.token_hex(12)}"
    ws_body = f"ws-body-{secrets.token_hex(12)}"
    edited = f"edited-body-{secrets.token_hex(12)}"
    sent = await http.post(
        f"{chat.messages_url}/messages",
        json={"room_id": room_id, "body": http_body, "client_msg_id": "l1"},
        headers=headers,
    )
    await http.patch(
        f"{chat.messages_url}/messages/{sent.json()['id']}", json={"body": edited}, headers=headers
    )
    ws = await open_ws(gateway_service.url)
    await send_frame(ws, {"type": "auth", "token": access})
    await next_frame(ws, lambda f: f["type"] == "ready")
    await send_frame(
        ws, {"type": "send", "ref": "s", "room_id": room_id, "body": ws_body, "client_msg_id": "l2"}
    )
    await next_frame(ws, lambda f: f["type"] == "ack")
    await ws.send('{"type": "send", "body": "' + ws_body + "-broken")  # invalid JSON
    await send_frame(ws, {"type": "auth", "token": access2})
    await send_frame(ws, {"type": "ping", "ref": "p"})
    await next_frame(ws, lambda f: f["type"] == "pong")
    await ws.close()
    bad = await open_ws(gateway_service.url, access + "tampered")
    await bad.wait_closed()
    await http.post(f"{url}/auth/logout", json={"refresh_token": refresh2})
    await asyncio.sleep(0.5)  # let every process write its lines

    secrets_used = {
        "password": password,
        "wrong password": wrong,
        "refresh token": refresh,
        "rotated refresh token": refresh2,
        "http body": http_body,
        "ws body": ws_body,
        "edited body": edited,
    }
    for name, token in (("access token", access), ("renewed access token", access2)):
        _, payload, signature = token.split(".")
        secrets_used[f"{name} payload"] = payload
        secrets_used[f"{name} signature"] = signature
    logs = sorted(Path(gateway_service.log_path).parent.glob("*.log"))
    assert len(logs) >= 4, logs
    for path in logs:
        text = path.read_text(errors="replace")
        for name, value in secrets_used.items():
            assert value not in text, f"{name} found in {path.name}"
