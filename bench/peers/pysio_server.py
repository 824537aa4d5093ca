"""Peer 2: python-socketio 5 with AsyncRedisManager on uvicorn, PROCS worker processes (default
1; uvicorn's own ``--workers``, sharing the port; the Redis manager carries every emit to all).

Clients ``join`` rooms; ``send`` emits to the room through Redis (every emit crosses the
manager's channel) and acks. Nothing is stored. PORT, REDIS_URL, PREFIX and PROCS come from
the environment.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import redis.asyncio as aioredis
import socketio
import uvicorn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def health(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers ``GET /healthz`` (and 404 for anything else that is not Socket.IO)."""
    if scope["type"] != "http":
        return
    status = 200 if scope["path"] == "/healthz" else 404
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


class PooledRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """AsyncRedisManager publishing through a bounded, waiting pool of Redis connections.

    With redis-py 8 the stock manager's pool raises "Too many connections" past 100
    concurrent publishes, and python-socketio then drops the emit ("Cannot publish to
    redis... giving up"): under load it would lose messages rather than slow down, which
    is not the peer we want to measure. One override, the fix a user would apply.
    """

    def _redis_connect(self) -> None:
        pool = aioredis.BlockingConnectionPool.from_url(
            self.redis_url, max_connections=64, timeout=None
        )
        self.redis = aioredis.Redis(connection_pool=pool)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True


def build() -> socketio.ASGIApp:
    manager = PooledRedisManager(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        channel=os.environ.get("PREFIX", "bench:") + "python-socketio",
    )
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager, transports=["websocket"])

    @sio.on("join")  # type: ignore[misc]
    async def join(sid: str, room: str) -> bool:
        await sio.enter_room(sid, room)
        return True

    @sio.on("send")  # type: ignore[misc]
    async def send(sid: str, room: str, body: str) -> bool:
        await sio.emit("msg", body, room=room)
        return True

    return socketio.ASGIApp(sio, other_asgi_app=health)


def main() -> None:
    procs = int(os.environ.get("PROCS", "1"))
    uvicorn.run(
        # With workers uvicorn imports the app in each process: by name (this file's folder is
        # on the path, which the workers inherit).
        "pysio_server:build" if procs > 1 else build(),
        factory=procs > 1,
        workers=procs if procs > 1 else None,
        host="127.0.0.1",
        port=int(os.environ.get("PORT", "8200")),
        loop="uvloop",
        log_level="warning",
        access_log=False,
        ws_per_message_deflate=False,
    )


if __name__ == "__main__":
    main()
