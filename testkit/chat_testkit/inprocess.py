"""A service's application served in the test's own process, on the real Postgres and Redis.

A test that only needs other settings (a tighter limit, a trusted proxy, another key) gets
them from :func:`serve_in_process` in milliseconds, where a process of its own takes about a
second to start and holds its connections until the run ends. The application is the one
``python -m <service> serve`` runs (``create_app(settings)``, lifespan and all), reached
through :class:`httpx.ASGITransport` (from ``127.0.0.1``), or served by uvicorn on a port of
this process (:func:`listen_in_process`) for helpers that call a URL.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette

# Each service's settings class and application factory.
SERVICES = {
    "auth_service": ("auth_service.settings:AuthSettings", "auth_service.app:create_app"),
    "room_service": ("room_service.settings:RoomSettings", "room_service.app:create_app"),
    "message_service": (
        "message_service.settings:MessagesSettings",
        "message_service.app:create_app",
    ),
}


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def settings_of(module: str, env: Mapping[str, str]) -> Any:
    """The settings ``module`` (``auth_service``) would read from ``env``, whatever the
    process environment holds."""
    settings_class = _load(SERVICES[module][0])
    return settings_class(**{name.lower(): value for name, value in env.items()})


@asynccontextmanager
async def serve_in_process(
    module: str, env: Mapping[str, str], *, client: tuple[str, int] = ("127.0.0.1", 40000)
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``module``'s application built from the settings in ``env``, its lifespan
    running for the block; ``client`` is the address its requests come from."""
    app: Starlette = _load(SERVICES[module][1])(settings_of(module, env))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=client)
            async with httpx.AsyncClient(transport=transport, base_url="http://in-process") as http:
                yield http
    finally:
        await _close_pool(app)


@asynccontextmanager
async def listen_in_process(module: str, env: Mapping[str, str], port: int) -> AsyncIterator[str]:
    """``module``'s application built from the settings in ``env``, served by uvicorn in this
    process on ``port`` for the block; its base URL. For tests whose helpers call a URL."""
    app: Starlette = _load(SERVICES[module][1])(settings_of(module, env))
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_config=None,
        access_log=False,
        ws="none",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(), name=f"{module}-in-process")
    while not server.started:
        if task.done():
            task.result()  # its start-up failed: raise why
            raise RuntimeError(f"{module} stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        await _close_pool(app)


async def _close_pool(app: Starlette) -> None:
    """Disconnect the Redis pool the lifespan's client was built on: the client does not own
    it (chatcore.redisconn), and a process exits without minding, but a test run that goes
    on would find its sockets unclosed (a ResourceWarning, an error here)."""
    redis = getattr(app.state, "redis", None)
    if redis is not None:
        await redis.connection_pool.disconnect()
