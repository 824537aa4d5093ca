"""What the scale-out tests drive the system with: websocket clients and HTTP calls, each
pointed at the replica the test chooses."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from chatcore.testing.users import TestUser


class Socket:
    """A websocket client to one gateway that keeps every frame it received."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    @classmethod
    async def open(
        cls, gateway: str, token: str, *, resume: dict[str, int] | None = None
    ) -> Socket:
        """Connect, authenticate in the first frame (with ``resume`` if given), and wait for
        ``ready``; then a ping, so live delivery starts without waiting for a resume."""
        ws = await connect(gateway.replace("http://", "ws://") + "/ws", compression=None)
        socket = cls(ws)
        auth: dict[str, Any] = {"type": "auth", "token": token}
        if resume is not None:
            auth["resume"] = {"rooms": resume}
        await socket.send(auth)
        await socket.until(lambda f: f["type"] == "ready", timeout=10)
        if resume is None:
            await socket.send({"type": "ping"})
        return socket

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

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

    async def messages(self, room_id: str, count: int, timeout: float = 15.0) -> list[int]:
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

    async def close(self) -> None:
        await self.ws.close()


# ``await open_socket(gateway_url, token, resume=None)``: the conftest fixture's type.
OpenSocket = Callable[..., Awaitable[Socket]]


class Api:
    """The HTTP calls of the tests; each names the replica it goes to."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def room(self, rooms: str, owner: TestUser, *members: TestUser) -> str:
        answer = await self.http.post(
            f"{rooms}/rooms",
            json={
                "title": f"room {secrets.token_hex(3)}",
                "member_ids": [str(m.id) for m in members],
            },
            headers=owner.headers,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def add(self, rooms: str, owner: TestUser, room_id: str, user: TestUser) -> None:
        answer = await self.http.post(
            f"{rooms}/rooms/{room_id}/members",
            json={"user_id": str(user.id)},
            headers=owner.headers,
        )
        assert answer.status_code in (200, 201), answer.text

    async def remove(self, rooms: str, owner: TestUser, room_id: str, user: TestUser) -> None:
        answer = await self.http.delete(
            f"{rooms}/rooms/{room_id}/members/{user.id}", headers=owner.headers
        )
        assert answer.status_code == 204, answer.text

    async def send(
        self, messages: str, user: TestUser, room_id: str, body: str = "hello"
    ) -> dict[str, Any]:
        answer = await self.http.post(
            f"{messages}/messages",
            json={"room_id": room_id, "body": body, "client_msg_id": uuid.uuid4().hex},
            headers=user.headers,
        )
        assert answer.status_code == 201, answer.text
        message: dict[str, Any] = answer.json()
        return message

    async def metric(self, base: str, name: str) -> float:
        """The value of an unlabelled metric of one process."""
        text = (await self.http.get(f"{base}/metrics")).text
        line = next(x for x in text.splitlines() if x.startswith(name + " "))
        return float(line.split()[-1])
