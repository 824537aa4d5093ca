"""The ASGI application: websockets to the chat consumer, ``GET /healthz`` answered 200."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "channels_app.settings")
django.setup()

from channels.routing import ProtocolTypeRouter  # noqa: E402 (after django.setup())

from channels_app.consumers import ChatConsumer  # noqa: E402

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def health(scope: Scope, receive: Receive, send: Send) -> None:
    """200 on ``/healthz``, 404 elsewhere (the peer serves websockets only)."""
    if scope["type"] != "http":
        return
    status = 200 if scope["path"] == "/healthz" else 404
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


application = ProtocolTypeRouter({"http": health, "websocket": ChatConsumer.as_asgi()})
