"""Websocket clients to the gateway that keep every frame they received."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


async def connect_gateway(
    base: str, token: str | None = None, *, origin: str | None = None, **kwargs: Any
) -> ClientConnection:
    """A websocket to the gateway at ``base`` (its HTTP URL), ``token`` in the header if
    given; ``kwargs`` go to :func:`websockets.asyncio.client.connect`."""
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if origin is not None:
        headers["Origin"] = origin
    return await connect(
        base.replace("http://", "ws://") + "/ws",
        additional_headers=headers,
        compression=None,
        max_size=2**22,
        **kwargs,
    )


class Socket:
    """A websocket client to the gateway that keeps every frame it received."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    @classmethod
    async def open(
        cls,
        base: str,
        token: str | None = None,
        *,
        header: bool = True,
        origin: str | None = None,
        ready: bool = True,
        resume: dict[str, int] | None = None,
        live: bool = False,
        **kwargs: Any,
    ) -> Socket:
        """Connect with ``token`` in the header, or with ``header=False`` in an ``auth`` frame
        (with ``resume`` if given); then, with ``ready``, check that ``ready`` comes first.
        With ``live`` and no ``resume``, a ping follows: live delivery starts without waiting
        out the resume grace."""
        ws = await connect_gateway(base, token if header else None, origin=origin, **kwargs)
        socket = cls(ws)
        try:
            if token and not header:
                auth: dict[str, Any] = {"type": "auth", "token": token}
                if resume is not None:
                    auth["resume"] = {"rooms": resume}
                await socket.send(auth)
            if token and ready:
                frame = await socket.next(10)
                assert frame["type"] == "ready", frame
            if live and resume is None:
                await socket.send({"type": "ping"})
        except BaseException:
            await ws.close()
            raise
        return socket

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


# ``await open_socket(url, token, ...)``: the fixture's type; the arguments of Socket.open.
OpenSocket = Callable[..., Awaitable[Socket]]
