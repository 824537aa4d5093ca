"""The gateway's edge over real processes: authentication, origins, bad frames, HTTP routes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from websockets.exceptions import InvalidStatus

from chat_testkit.plugin import MakeUser, StartService
from chat_testkit.processes import ServiceProcess
from chat_testkit.servers import free_port

Open = Callable[..., Any]


@pytest.fixture(scope="module")
def quick_gateway(start_service: StartService, gateway_service: ServiceProcess) -> ServiceProcess:
    """A second gateway with a 1 s auth timeout and 1 s of exp leeway (same Redis and
    services)."""
    port = free_port()
    env = {"GATEWAY_PORT": str(port), "GATEWAY_AUTH_TIMEOUT": "1", "JWT_LEEWAY": "1"}
    return start_service("gateway", port=port, env=env, migrate=False)


async def test_header_auth_and_first_frame_auth_both_work(
    gateway_service: ServiceProcess, make_user: MakeUser, open_socket: Open
) -> None:
    """A token in the Authorization header or in a first auth frame gets ready."""
    user = await make_user()
    by_header = await open_socket(gateway_service.url, user.access_token)
    by_frame = await open_socket(gateway_service.url, user.access_token, header=False)
    assert by_header.frames[0]["user_id"] == str(user.id)
    assert by_frame.frames[0]["user_id"] == str(user.id)
    assert isinstance(by_frame.frames[0]["session_id"], str)


async def test_bad_or_missing_token_closes_4001(
    gateway_service: ServiceProcess, open_socket: Open
) -> None:
    """A bad header token, a bad auth frame, or another first frame close 4001, never ready."""
    bad = await open_socket(gateway_service.url, "not-a-token", ready=False)
    assert await bad.closed() == 4001
    assert bad.frames == []
    framed = await open_socket(gateway_service.url, "x.y.z", header=False, ready=False)
    assert await framed.closed() == 4001
    other = await open_socket(gateway_service.url)
    await other.send({"type": "ping"})
    assert await other.closed() == 4001


@pytest.mark.parametrize(
    "first",
    [
        "{not json",
        '{"token": "t"}',
        '{"type": "hello"}',
        '{"type": "auth"}',
        '{"type": "auth", "token": 42}',
    ],
)
async def test_bad_first_frame_closes_4001_at_once(
    gateway_service: ServiceProcess, open_socket: Open, first: str
) -> None:
    """Bad JSON, no type, an unknown type or an auth without a string token, before
    authentication: closed with 4001 auth_required at once, no error frame."""
    client = await open_socket(gateway_service.url)
    await client.send(first)
    assert await client.closed(timeout=2) == 4001
    assert client.ws.close_reason == "auth_required"
    assert client.frames == []


async def test_refused_tokens_close_with_one_reason_per_cause(
    gateway_service: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    forge_token: Callable[[uuid.UUID, int], str],
) -> None:
    """An expired token closes with token_expired, a bad one with invalid_token, by header
    or by auth frame alike."""
    user = await make_user()
    expired = forge_token(user.id, -120)  # past exp and past the 30 s leeway
    for header in (True, False):
        for token, reason in ((expired, "token_expired"), ("x.y.z", "invalid_token")):
            client = await open_socket(gateway_service.url, token, header=header, ready=False)
            assert await client.closed() == 4001
            assert client.ws.close_reason == reason


async def test_auth_timeout_closes_4001(quick_gateway: ServiceProcess, open_socket: Open) -> None:
    """No token within the auth timeout closes with 4001."""
    silent = await open_socket(quick_gateway.url)
    assert await silent.closed(timeout=5) == 4001


async def test_expired_token_closes_4001(
    quick_gateway: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    forge_token: Callable[[uuid.UUID, int], str],
) -> None:
    """An access token that expires on an open connection closes it with 4001 token_expired
    once exp plus the leeway (1 s here) has passed, as HTTP refuses it then, not before."""
    user = await make_user()
    token = forge_token(user.id, 3)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    client = await open_socket(quick_gateway.url, token)
    await asyncio.sleep(max(0.0, exp + 0.3 - time.time()))  # past exp, within the leeway
    await client.send({"type": "ping", "ref": "p"})
    assert (await client.until(lambda f: f["type"] == "pong"))["ref"] == "p"
    assert await client.closed(timeout=8) == 4001
    assert client.ws.close_reason == "token_expired"


async def test_replaced_token_keeps_the_connection(
    quick_gateway: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    forge_token: Callable[[uuid.UUID, int], str],
) -> None:
    """An auth frame with a fresh token of the same user keeps the connection past exp."""
    user = await make_user()
    client = await open_socket(quick_gateway.url, forge_token(user.id, 2))
    await client.send({"type": "auth", "token": user.access_token})
    await asyncio.sleep(4)
    await client.send({"type": "ping", "ref": "p"})
    assert (await client.until(lambda f: f["type"] == "pong"))["ref"] == "p"


async def test_token_of_another_user_closes_4001(
    gateway_service: ServiceProcess, make_user: MakeUser, open_socket: Open
) -> None:
    """Replacing the token with another user's closes with 4001."""
    user, other = await make_user(), await make_user()
    client = await open_socket(gateway_service.url, user.access_token)
    await client.send({"type": "auth", "token": other.access_token})
    assert await client.closed() == 4001


async def test_foreign_origin_is_refused_403(
    gateway_service: ServiceProcess, make_user: MakeUser, open_socket: Open
) -> None:
    """A browser page from an origin not allowed gets 403 at the handshake."""
    user = await make_user()
    with pytest.raises(InvalidStatus) as refused:
        await open_socket(gateway_service.url, user.access_token, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    allowed = await open_socket(gateway_service.url, user.access_token, origin=gateway_service.url)
    assert allowed.frames[0]["type"] == "ready"


async def test_bad_frames_get_error_frames_and_the_connection_stays(
    gateway_service: ServiceProcess, make_user: MakeUser, open_socket: Open
) -> None:
    """Binary, invalid JSON, deep nesting, unknown type, wrong fields: documented codes."""
    user = await make_user()
    client = await open_socket(gateway_service.url, user.access_token)
    cases: list[tuple[str | bytes, str]] = [
        (b"\x01\x02", "bad_frame"),
        ("{nope", "bad_frame"),
        ("[" * 20000 + "]" * 20000, "bad_frame"),
        ('"a string"', "bad_frame"),
        ('{"type":"teleport","ref":"r"}', "unknown_type"),
        (f'{{"type":"read","room_id":"{uuid.uuid4()}","seq":"one"}}', "invalid_field"),
        ('{"type":"send","body":"x","client_msg_id":"c"}', "missing_field"),
        (f'{{"type":"who","room_id":"{uuid.uuid4()}"}}', "not_a_member"),
    ]
    for raw, code in cases:
        await client.send(raw)
        frame = await client.until(lambda f: f["type"] == "error")
        assert frame["code"] == code, raw
    await client.send({"type": "ping", "ref": "still"})
    assert (await client.until(lambda f: f["type"] == "pong"))["ref"] == "still"


async def test_oversized_frame_closes_1009(
    gateway_service: ServiceProcess, make_user: MakeUser, open_socket: Open
) -> None:
    """A frame over 64 KiB closes the connection with 1009."""
    user = await make_user()
    client = await open_socket(gateway_service.url, user.access_token)
    await client.send('{"type":"ping","ref":"' + "x" * 70000 + '"}')
    assert await client.closed() == 1009


async def test_flood_gets_rate_limited(
    gateway_service: ServiceProcess, make_user: MakeUser, open_socket: Open
) -> None:
    """More frames than the burst get rate_limited errors; the connection stays open."""
    user = await make_user()
    client = await open_socket(gateway_service.url, user.access_token)
    for i in range(130):
        await client.send({"type": "ping", "ref": str(i)})
    got = [await client.next() for _ in range(130)]
    assert sum(f["type"] == "pong" for f in got) >= 100
    assert any(f.get("code") == "rate_limited" for f in got)


async def test_http_routes(gateway_service: ServiceProcess, http: httpx.AsyncClient) -> None:
    """healthz, readyz, metrics, config.json and the web client are served over HTTP."""
    base = gateway_service.url
    assert (await http.get(f"{base}/healthz")).status_code == 200
    assert (await http.get(f"{base}/readyz")).status_code == 200
    metrics = await http.get(f"{base}/metrics")
    assert "gateway_connections" in metrics.text
    config = (await http.get(f"{base}/config.json")).json()
    assert set(config) == {"auth_url", "rooms_url", "messages_url", "ws_url"}
    assert config["ws_url"].startswith("ws://")
    assert config["ws_url"].endswith("/ws")
    index = await http.get(f"{base}/")
    assert index.status_code == 200
    assert "text/html" in index.headers["content-type"]
    assert (await http.get(f"{base}/socket.js")).status_code == 200
    assert (await http.get(f"{base}/../pyproject.toml")).status_code == 404
    assert (await http.get(f"{base}/nothing-here")).status_code == 404


async def test_sigterm_closes_connections_1001_and_exits(
    start_service: StartService,
    gateway_service: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
) -> None:
    """On SIGTERM the gateway closes every connection with 1001 and exits 0."""
    port = free_port()
    doomed = start_service("gateway", port=port, env={"GATEWAY_PORT": str(port)}, migrate=False)
    user = await make_user()
    client = await open_socket(doomed.url, user.access_token)
    code = await asyncio.to_thread(doomed.stop)
    assert code == 0
    assert await client.closed() == 1001


async def test_several_workers_share_the_port(
    start_service: StartService,
    gateway_service: ServiceProcess,
    make_user: MakeUser,
    open_socket: Open,
    api: Any,
) -> None:
    """GATEWAY_WORKERS=2 serves every connection; a message reaches members on any worker."""
    port = free_port()
    env = {"GATEWAY_PORT": str(port), "GATEWAY_WORKERS": "2"}
    workers = start_service("gateway", port=port, env=env, migrate=False)
    users = [await make_user() for _ in range(4)]
    room = await api.room(users[0], *users[1:])
    clients = [await open_socket(workers.url, u.access_token) for u in users for _ in range(2)]
    for client in clients:
        await client.send({"type": "ping"})
    sent = await api.send(users[0], room, "to all workers")
    for client in clients:
        assert await client.messages(room, 1) == [sent["seq"]]
    assert await asyncio.to_thread(workers.stop) == 0
