"""Secrets never reach a log: passwords, access and refresh tokens (or any part of their
signature or payload) and message bodies, whatever path they took through the system."""

from __future__ import annotations

import asyncio
import base64
import secrets
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chat_testkit.chat import Chat
from chat_testkit.plugin import MakeUser
from chat_testkit.processes import ServiceProcess
from chat_testkit.servers import free_port
from chat_testkit.users import TestUser
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


async def test_no_secret_or_body_in_logs_of_notifications_attachments_and_reactions(
    http: httpx.AsyncClient,
    gateway_service: ServiceProcess,
    chat: Chat,
    make_user: MakeUser,
) -> None:
    """Webhook secrets, push keys, attachment names and bytes, and the bodies of replies,
    thread replies, mentions (notified by webhook) and reacted-to messages stay out of logs."""
    owner, offline = await make_user(), await make_user()
    room_id = await chat.room(owner, offline)
    hook_secret = f"hook-secret-{secrets.token_hex(12)}"
    hooked = await http.post(
        f"{chat.messages_url}/messages/notifications/webhooks",
        # A closed loopback port: the delivery fails and is retried, logging its failure.
        json={"url": f"http://127.0.0.1:{free_port()}/hook", "secret": hook_secret},
        headers=offline.headers,
    )
    assert hooked.status_code == 201, hooked.text
    push_auth = secrets.token_bytes(16)
    push_auth_text = base64.urlsafe_b64encode(push_auth).rstrip(b"=").decode()
    pushed = await http.post(
        f"{chat.messages_url}/messages/notifications/push",
        json={
            "endpoint": f"http://127.0.0.1:{free_port()}/push/{secrets.token_hex(8)}",
            "keys": {"p256dh": _p256_point(), "auth": push_auth_text},
        },
        headers=offline.headers,
    )
    assert pushed.status_code == 201, pushed.text
    file_name = f"secret-name-{secrets.token_hex(8)}.txt"
    file_bytes = f"file-bytes-{secrets.token_hex(12)}".encode()
    upload = await http.post(
        f"{chat.messages_url}/messages/attachments",
        params={"room_id": room_id, "filename": file_name},
        content=file_bytes,
        headers={**owner.headers, "Content-Type": "text/plain"},
    )
    assert upload.status_code == 201, upload.text
    bodies = {
        name: f"{name}-{secrets.token_hex(12)}"
        for name in ("attached", "root", "reply", "thread", "mention")
    }
    root = await _send(http, chat, owner, room_id, bodies["root"])
    await _send(
        http, chat, owner, room_id, bodies["attached"], attachment_ids=[upload.json()["id"]]
    )
    await _send(http, chat, owner, room_id, bodies["reply"], reply_to=root["id"])
    await _send(http, chat, owner, room_id, bodies["thread"], thread_root_id=root["id"])
    await _send(http, chat, owner, room_id, bodies["mention"], mentions=[str(offline.id)])
    reacted = await http.put(
        f"{chat.messages_url}/messages/{root['id']}/reactions/%F0%9F%91%8D", headers=owner.headers
    )
    assert reacted.status_code == 200, reacted.text
    content = await http.get(upload.json()["url"], headers=owner.headers)
    assert content.content == file_bytes
    await asyncio.sleep(2.0)  # the notify worker tries the webhook and the push, and logs

    found = {
        "webhook secret": hook_secret,
        "push auth": push_auth_text,
        "file name": file_name,
        "file bytes": file_bytes.decode(),
        **bodies,
    }
    for path in sorted(Path(gateway_service.log_path).parent.glob("*.log")):
        text = path.read_text(errors="replace")
        for name, value in found.items():
            assert value not in text, f"{name} found in {path.name}"


async def _send(
    http: httpx.AsyncClient, chat: Chat, user: TestUser, room_id: str, body: str, **extra: object
) -> dict[str, Any]:
    answer = await http.post(
        f"{chat.messages_url}/messages",
        json={"room_id": room_id, "body": body, "client_msg_id": secrets.token_hex(8), **extra},
        headers=user.headers,
    )
    assert answer.status_code == 201, answer.text
    message: dict[str, Any] = answer.json()
    return message


def _p256_point() -> str:
    """A browser's p256dh: an uncompressed P-256 public key, base64url."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    raw = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
