"""Fixtures for the gateway's end-to-end tests: websocket clients and HTTP helpers."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from chatcore.testing.processes import ServiceProcess
from chatcore.testing.users import TestUser


class Socket:
    """A websocket client to the gateway that keeps every frame it received."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(
            frame if isinstance(frame, str | bytes) else orjson.dumps(frame).decode()
        )

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            frame: dict[str, Any] = orjson.loads(await self.ws.recv())
        self.frames.append(frame)
        return frame

    async def until(
        self, check: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        """The first frame (from now) that passes ``check``."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.next(max(0.01, deadline - time.monotonic()))
            if check(frame):
                return frame

    async def messages(self, room_id: str, count: int, timeout: float = 20.0) -> list[int]:
        """The seqs of the next ``count`` message frames of a room."""
        seqs: list[int] = []
        deadline = time.monotonic() + timeout
        while len(seqs) < count:
            frame = await self.next(max(0.01, deadline - time.monotonic()))
            if frame["type"] == "message" and frame["message"]["room_id"] == room_id:
                seqs.append(frame["message"]["seq"])
        return seqs

    async def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """Every frame received during ``seconds``."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(await self.next(left))
            except TimeoutError:
                break
        return got

    async def closed(self, timeout: float = 5.0) -> int | None:
        """Wait for the server to close; the close code."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self.ws.recv()
        except ConnectionClosed:
            pass
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()


Open = Callable[..., Any]


@pytest.fixture
async def open_socket() -> AsyncIterator[Open]:
    """``await open_socket(url, token=..., header=True, origin=None, ready=True)``."""
    opened: list[Socket] = []

    async def open_(
        base: str,
        token: str | None = None,
        *,
        header: bool = True,
        origin: str | None = None,
        ready: bool = True,
        resume: dict[str, int] | None = None,
        sock: socket.socket | None = None,
        **kwargs: Any,
    ) -> Socket:
        headers = {}
        if token and header:
            headers["Authorization"] = f"Bearer {token}"
        if origin:
            headers["Origin"] = origin
        ws = await connect(
            base.replace("http://", "ws://") + "/ws",
            additional_headers=headers,
            compression=None,
            max_size=2**22,
            sock=sock,
            **kwargs,
        )
        client = Socket(ws)
        opened.append(client)
        if token and not header:
            auth: dict[str, Any] = {"type": "auth", "token": token}
            if resume is not None:
                auth["resume"] = {"rooms": resume}
            await client.send(auth)
        if token and ready:
            frame = await client.next(10)
            assert frame["type"] == "ready", frame
        return client

    yield open_
    for client in opened:
        await client.ws.close()


class Api:
    """The HTTP calls the tests make, as one user or another."""

    def __init__(self, http: httpx.AsyncClient, rooms: str, messages: str) -> None:
        self.http = http
        self.rooms_url = rooms
        self.messages_url = messages

    async def room(self, owner: TestUser, *members: TestUser) -> str:
        answer = await self.http.post(
            f"{self.rooms_url}/rooms",
            json={
                "title": f"room {secrets.token_hex(3)}",
                "member_ids": [str(m.id) for m in members],
            },
            headers=owner.headers,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def add(self, owner: TestUser, room_id: str, user: TestUser) -> None:
        answer = await self.http.post(
            f"{self.rooms_url}/rooms/{room_id}/members",
            json={"user_id": str(user.id)},
            headers=owner.headers,
        )
        assert answer.status_code in (200, 201), answer.text

    async def remove(self, owner: TestUser, room_id: str, user: TestUser) -> None:
        answer = await self.http.delete(
            f"{self.rooms_url}/rooms/{room_id}/members/{user.id}", headers=owner.headers
        )
        assert answer.status_code == 204, answer.text

    async def send(
        self, user: TestUser, room_id: str, body: str = "hello", base: str | None = None
    ) -> dict[str, Any]:
        answer = await self.http.post(
            f"{base or self.messages_url}/messages",
            json={"room_id": room_id, "body": body, "client_msg_id": uuid.uuid4().hex},
            headers=user.headers,
        )
        assert answer.status_code == 201, answer.text
        message: dict[str, Any] = answer.json()
        return message


@pytest.fixture
def api(
    http: httpx.AsyncClient, room_service: ServiceProcess, message_service: ServiceProcess
) -> Api:
    return Api(http, room_service.url, message_service.url)


@pytest.fixture(scope="session")
def forge_token(
    signing_key_file: Path, auth_service: ServiceProcess
) -> Callable[[uuid.UUID, int], str]:
    """``forge_token(user_id, ttl)``: an access token signed with this run's key."""
    kid = httpx.get(f"{auth_service.url}/auth/.well-known/jwks.json").json()["keys"][0]["kid"]
    key = signing_key_file.read_bytes()

    def forge(user_id: uuid.UUID, ttl: int) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "iss": "chat-auth",
            "aud": "chat",
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "name": "forged",
        }
        return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid, "typ": "at+jwt"})

    return forge
