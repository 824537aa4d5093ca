"""Websocket helpers: open a connection to the gateway, read frames, see it closed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chat_testkit.sockets import connect_gateway


class Refused(Exception):
    """The websocket handshake was answered with an HTTP status instead of an upgrade."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


async def open_ws(
    base: str, token: str | None = None, *, origin: str | None = None, **kwargs: Any
) -> ClientConnection:
    """A websocket to the gateway (token in the header); :class:`Refused` on an HTTP answer."""
    try:
        return await connect_gateway(base, token, origin=origin, open_timeout=10, **kwargs)
    except InvalidStatus as exc:
        raise Refused(exc.response.status_code, exc.response.body or b"") from None


async def frames_until_close(ws: ClientConnection, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Every frame the server sent before it closed the connection."""
    got: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                got.append(orjson.loads(await ws.recv()))
    except ConnectionClosed:
        pass
    return got


async def next_frame(
    ws: ClientConnection, check: Callable[[dict[str, Any]], bool], timeout: float = 5.0
) -> dict[str, Any]:
    """The first frame from now that passes ``check``."""
    async with asyncio.timeout(timeout):
        while True:
            frame: dict[str, Any] = orjson.loads(await ws.recv())
            if check(frame):
                return frame


async def send_frame(ws: ClientConnection, frame: dict[str, Any]) -> None:
    await ws.send(orjson.dumps(frame).decode())
